"""The assistant's FAQ as knowledge for agents: each question the bot answers with one response.

An FAQ entry is a rule of `data/rules/` whose steps are one topic intent and one `utter_…`
response (the shape `python -m designer adopt` gives a miner draft accepted into the
assistant): its answer is the response's text in each language (`domain.yml`, the French one
under `condition: language fr`), and the questions it answers are the intent's examples in
`data/nlu/`, sorted by language (`handoff.language.detect`; an undecided one counts for both).
Read as YAML once at the service's start; no Rasa import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

from handoff.language import detect
from handoff.ticket import TOPIC_LABELS, is_topic

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class FaqEntry:
    """One question the assistant answers: its intent, answer and examples, per language."""

    intent: str
    title: Dict[str, str]
    answer: Dict[str, str]
    questions: Dict[str, Tuple[str, ...]]


def load(root: Path = ROOT) -> List[FaqEntry]:
    """The FAQ entries of the assistant under `root` (none, and a log line, when it is absent)."""
    try:
        domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
        rules = [rule for path in sorted((root / "data" / "rules").glob("*.yml"))
                 for rule in (_read(path).get("rules") or [])]
        examples = _examples([_read(path)
                              for path in sorted((root / "data" / "nlu").glob("*.yml"))])
    except (OSError, yaml.YAMLError) as exc:
        logger.warning("faq.unavailable error=%s", exc)
        return []
    found: Dict[str, FaqEntry] = {}
    for rule in rules:
        steps = rule.get("steps") or []
        if len(steps) != 2 or "intent" not in steps[0] or "action" not in steps[1]:
            continue
        intent, action = steps[0]["intent"], steps[1]["action"]
        answer = _texts(domain.get("responses", {}).get(action))
        if not is_topic(intent) or not action.startswith("utter_") or answer is None:
            continue
        label = TOPIC_LABELS.get(intent, (intent, intent))
        found.setdefault(intent, FaqEntry(intent, {"en": label[0], "fr": label[1]}, answer,
                                          _by_language(examples.get(intent, []))))
    return list(found.values())


def _read(path: Path) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _examples(files: List[Dict[str, Any]]) -> Dict[str, List[str]]:
    found: Dict[str, List[str]] = {}
    for data in files:
        for block in data.get("nlu") or []:
            if "intent" in block and isinstance(block.get("examples"), str):
                found.setdefault(block["intent"], []).extend(
                    line.strip()[2:].strip() for line in block["examples"].splitlines()
                    if line.strip().startswith("- "))
    return found


def _texts(variations: Any) -> "Dict[str, str] | None":
    """The response's text in each language, or None when it lacks one (or has variables)."""
    if not isinstance(variations, list):
        return None
    texts: Dict[str, str] = {}
    for variation in variations:
        conditions = variation.get("condition") or []
        language = next((c.get("value") for c in conditions if c.get("name") == "language"),
                        "en")
        if isinstance(variation.get("text"), str) and language in LANGUAGES:
            texts.setdefault(language, variation["text"])
    if set(texts) != set(LANGUAGES) or any("{" in text for text in texts.values()):
        return None
    return texts


def _by_language(examples: List[str]) -> Dict[str, Tuple[str, ...]]:
    sorted_out: Dict[str, List[str]] = {language: [] for language in LANGUAGES}
    for example in examples:
        found = detect(example)
        for language in ([found.language] if found else LANGUAGES):
            sorted_out[language].append(example)
    return {language: tuple(found) for language, found in sorted_out.items()}
