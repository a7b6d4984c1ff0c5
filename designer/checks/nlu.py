"""NLU examples: every intent understood in both languages, no example taught twice.

The floor, per intent with NLU data:
- at least MIN_TOTAL examples in all: the guide's 15 per language. Every intent met it when
  the check was written (the thinnest, `affirm`, `goodbye` and `thank`, have 31-32);
- at least MIN_PER_LANGUAGE examples that the assistant's own language detector places in each
  language. The detector only counts an example it is sure of: one- and two-word replies
  ("yup", "cya", "10234", "agent") are placed in neither, so this is a lower bound on the real
  number; 8 is what the thinnest intents (`affirm` and `goodbye` in English) have today, and
  what the held-out evaluation requires per language and intent to measure an intent at all.
  An intent below it in one language is learnt from the other language's words only.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Dict, List, Tuple

from designer.language import language_of, strip_annotations
from designer.project import Finding, Project, line_of

MIN_TOTAL = 30
MIN_PER_LANGUAGE = 8
LANGUAGES = {"en": "English", "fr": "French"}
# Intents triggered by code (Rasa's EXTERNAL_ convention), never typed by customers.
TRIGGERED_PREFIX = "EXTERNAL_"


def normalise(text: str) -> str:
    """Lowercase, single spaces, no punctuation: "Agent please!" == "agent please"."""
    return " ".join(re.sub(r"[^\w@.+' ]", " ", strip_annotations(text).lower()).split())


def examples(project: Project) -> List[Tuple[str, str, str, int]]:
    """(intent, text, file, line) of every NLU example in data/."""
    out = []
    for source, block, _ in project.nlu_blocks():
        node = block.get("examples")
        intent = str(block["intent"])
        if isinstance(node, list):  # the long form: `- text: ...` items, maybe with metadata
            out += [(intent, str(item.get("text")), source.path, line_of(node, index))
                    for index, item in enumerate(node)
                    if isinstance(item, dict) and item.get("text")]
            continue
        # A literal block (`examples: |`) starts on the line after its key; its lines map
        # one to one onto the file's lines.
        first = line_of(block, "examples") + 1
        for offset, raw in enumerate(str(node or "").splitlines()):
            stripped = raw.strip()
            if stripped.startswith("- "):
                out.append((intent, stripped[2:], source.path, first + offset))
    return out


def declared_languages(project: Project) -> Dict[Tuple[str, int], str]:
    """(file, line) -> language for examples that say theirs (`metadata: {language: fr}`).

    The data of this project does not (one intent block mixes both languages, and the
    assistant's detector tells them apart); a designer who writes long-form examples with a
    language in their metadata is believed over the detector.
    """
    found = {}
    for source, block, _ in project.nlu_blocks():
        node = block.get("examples")
        for index, item in enumerate(node if isinstance(node, list) else []):
            metadata = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(metadata, dict) and metadata.get("language") in LANGUAGES:
                found[(source.path, line_of(node, index))] = str(metadata["language"])
    return found


def check(project: Project) -> List[Finding]:
    """Intents with NLU data, per-language floors and shared examples."""
    found = examples(project)
    findings = _intents_match(project, found)
    findings += _floors(project, found)
    findings += _shared(found)
    return findings


def _intents_match(project: Project, found: List[Tuple[str, str, str, int]]) -> List[Finding]:
    domain = project.intents()
    first: Dict[str, Tuple[str, int]] = {}
    for source, block, line in project.nlu_blocks():
        first.setdefault(str(block["intent"]), (source.path, line))
    findings = [Finding(path, line, f"intent `{intent}` has examples but is not in domain.yml",
                        f"add `- {intent}` under `intents:` in domain.yml, or rename the block")
                for intent, (path, line) in sorted(first.items()) if intent not in domain]
    findings += [Finding("domain.yml", line, f"intent `{intent}` has no NLU examples in data/",
                         "add examples in both languages under data/nlu/ (or remove the "
                         "intent; intents only triggered by code start with EXTERNAL_)")
                 for intent, line in domain.items()
                 if intent not in first and not intent.startswith(TRIGGERED_PREFIX)]
    return findings


def _floors(project: Project, found: List[Tuple[str, str, str, int]]) -> List[Finding]:
    totals: Counter = Counter()
    by_language: Counter = Counter()
    where: Dict[str, Tuple[str, int]] = {}
    for source, block, line in project.nlu_blocks():
        where.setdefault(str(block["intent"]), (source.path, line))
    declared = declared_languages(project)
    for intent, text, path, line in found:
        totals[intent] += 1
        language = declared.get((path, line)) or language_of(text, project.root)
        if language:
            by_language[(intent, language)] += 1
    findings = []
    for intent, (path, line) in sorted(where.items()):
        if totals[intent] < MIN_TOTAL:
            findings.append(Finding(
                path, line, f"intent `{intent}` has {totals[intent]} examples; the floor is "
                f"{MIN_TOTAL} (15 per language)",
                f"add {MIN_TOTAL - totals[intent]} or more real, varied examples"))
        for code, name in LANGUAGES.items():
            count = by_language[(intent, code)]
            if count < MIN_PER_LANGUAGE:
                findings.append(Finding(
                    path, line, f"intent `{intent}` has {count} {name} examples (counted by "
                    f"handoff/language.py); the floor is {MIN_PER_LANGUAGE} per language",
                    f"add at least {MIN_PER_LANGUAGE - count} {name} examples that read "
                    f"clearly as {name} (a few words, not only \"ok\" or a number)"))
    return findings


def _shared(found: List[Tuple[str, str, str, int]]) -> List[Finding]:
    first: Dict[str, Tuple[str, str, int, str]] = {}
    findings = []
    for intent, text, path, line in found:
        key = normalise(text)
        if not key:
            continue
        if key not in first:
            first[key] = (intent, path, line, text)
            continue
        # Within one intent, "AGENT" next to "agent" is deliberate (customers write both);
        # across two intents even such variants teach the model two answers to one message.
        other, other_path, other_line, other_text = first[key]
        if other != intent:
            findings.append(Finding(
                path, line, f"example \"{text}\" of `{intent}` is also an example of "
                f"`{other}` ({other_path}:{other_line})",
                "keep it in one intent only: an example taught as two intents teaches neither"))
        elif text == other_text:
            findings.append(Finding(path, line, f"example \"{text}\" of `{intent}` is there "
                                    f"twice ({other_path}:{other_line})", "remove one"))
    return findings
