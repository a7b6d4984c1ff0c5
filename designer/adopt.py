"""From the miner to the assistant: a draft intent becomes a checked, pull-request-ready change.

    .venv/bin/python -m designer adopt DRAFT.yml [--intent NAME] [--team TEAM]
        [--answer-en TEXT] [--answer-fr TEXT] [--patch FILE] [--write]

DRAFT.yml is what the miner exports for a group (`python -m handoff.service.insights.miner
export`, or "Export draft" on the console's Customer questions page), edited or not. The change:
- the intent in domain.yml, its examples in data/nlu/<intent>.yml (English first, then French;
  the miner's placeholders become annotated sample values);
- `utter_<intent>` with an English default and a French variant: the texts given, else the
  draft's answers in each language, else a stub marked TODO, which the check rejects;
- a rule (data/rules/<intent>.yml), a test story (tests/stories/test_<intent>.yml), and the
  intent among a team's topics in handoff/teams.yml when asked.
The change is applied to a copy of the project and the designer's check runs on it. Only when
the check passes is the patch written (`--patch`) or the files changed (`--write`); otherwise
the findings are printed and nothing is written.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from designer import check
from designer.language import language_of
from designer.project import Finding
from designer.revisions import WORKTREE, materialise

STUB = {"en": "TODO: write the answer in English.",
        "fr": "TODO : écrire la réponse en français."}
# The miner's masks (handoff/pii.py) as sample values the NLU can learn from.
SAMPLES = {"[order]": "[10234](order_number)", "[email]": "[claire@example.com](email)",
           "[phone]": "[06 12 34 56 78](phone)", "[name]": "Claire"}
IGNORED = "[language, email, phone, name]"


class AdoptError(ValueError):
    """The draft or the options cannot make a change; `code` names the case for an API."""

    def __init__(self, message: str, code: str = "bad_draft") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Proposal:
    """What a draft says: an intent, its examples, its answer in each language, a team."""

    intent: str
    examples: List[str]
    answers: Dict[str, str]
    team: Optional[str] = None


def from_draft(text: str, root: Path, intent: Optional[str] = None,
               answers: Optional[Dict[str, str]] = None, team: Optional[str] = None) -> Proposal:
    """Reads a miner draft (Rasa YAML: one `nlu:` intent, maybe `responses:`)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise AdoptError(f"the draft is not valid YAML: {exc}") from exc
    blocks = [b for b in data.get("nlu") or [] if isinstance(b, dict) and b.get("intent")]
    if not blocks:
        raise AdoptError("the draft has no `nlu:` intent")
    examples = [line.strip()[2:].strip() for b in blocks
                for line in str(b.get("examples") or "").splitlines()
                if line.strip().startswith("- ")]
    found: Dict[str, str] = {}
    for variants in (data.get("responses") or {}).values():
        for variant in variants or []:
            language = _variant_language(variant, root)
            if language and language not in found:
                found[language] = str(variant["text"]).strip()
    found.update({k: v for k, v in (answers or {}).items() if v})
    name = intent or str(blocks[0]["intent"])
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise AdoptError(f"intent name {name!r}: lowercase letters, digits and _ only",
                         "bad_intent")
    return Proposal(name, [_sample(e) for e in examples if e], found, team)


def _variant_language(variant: object, root: Path) -> Optional[str]:
    if not isinstance(variant, dict) or not variant.get("text"):
        return None
    condition = variant.get("condition") or []
    if any(isinstance(c, dict) and c.get("name") == "language" for c in condition):
        return next(str(c.get("value")) for c in condition if c.get("name") == "language")
    return language_of(str(variant["text"]), root)


def _sample(example: str) -> str:
    for mask, sample in SAMPLES.items():
        example = example.replace(mask, sample)
    return example


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def change(root: Path, proposal: Proposal) -> Dict[str, str]:
    """Relative path -> new content of every file the proposal adds or changes."""
    name, utter = proposal.intent, f"utter_{proposal.intent}"
    domain = (root / "domain.yml").read_text(encoding="utf-8")
    if re.search(rf"^\s+- {re.escape(name)}:?\s*$", domain, re.MULTILINE):
        raise AdoptError(f"intent {name} is already in domain.yml", "intent_taken")
    new = {f"data/nlu/{name}.yml", f"data/rules/{name}.yml", f"tests/stories/test_{name}.yml"}
    taken = [p for p in sorted(new) if (root / p).exists()]
    if taken:
        raise AdoptError(f"{', '.join(taken)} already exist(s): choose another intent name",
                         "intent_taken")
    if not proposal.examples:
        raise AdoptError("the draft has no examples")
    english = proposal.answers.get("en", STUB["en"])
    french = proposal.answers.get("fr", STUB["fr"])
    domain = _insert_after(domain, "intents:\n",
                           f"  - {name}:\n      ignore_entities: {IGNORED}\n")
    domain = _insert_after(domain, "responses:\n", (
        f"  {utter}:\n    - text: {_quoted(english)}\n    - condition:\n        - type: slot\n"
        f"          name: language\n          value: fr\n      text: {_quoted(french)}\n\n"))
    by_language = sorted(proposal.examples, key=lambda e: {"en": 0, "fr": 1}.get(
        language_of(e, root) or "", 2))
    files = {
        "domain.yml": domain,
        f"data/nlu/{name}.yml": f'version: "3.1"\n\n# From the miner (designer adopt).\nnlu:\n'
        f"  - intent: {name}\n    examples: |\n"
        + "".join(f"      - {e}\n" for e in dict.fromkeys(by_language)),
        f"data/rules/{name}.yml": f'version: "3.1"\n\nrules:\n  - rule: {name}\n    steps:\n'
        f"      - intent: {name}\n      - action: {utter}\n",
        f"tests/stories/test_{name}.yml": f'version: "3.1"\n\nstories:\n'
        f"  - story: {name} answered at once\n    steps:\n      - intent: {name}\n"
        f"      - action: {utter}\n",
    }
    if proposal.team:
        files["handoff/teams.yml"] = _add_topic(root, proposal.team, name)
    return files


def _insert_after(text: str, line: str, addition: str) -> str:
    match = re.search(rf"^{re.escape(line)}", text, re.MULTILINE)
    if match is None:
        raise AdoptError(f"domain.yml has no `{line.strip()}` section")
    return text[:match.end()] + addition + text[match.end():]


def _add_topic(root: Path, team: str, intent: str) -> str:
    text = (root / "handoff" / "teams.yml").read_text(encoding="utf-8")
    block = re.search(rf"^{re.escape(team)}:\n((?:[ \t].*\n?)*)", text, re.MULTILINE)
    if block is None:
        raise AdoptError(f"no team {team!r} in handoff/teams.yml", "unknown_team")
    topics = re.search(r"^(\s+topics:\s*\[)([^\]]*)\]", block.group(1), re.MULTILINE)
    start = block.start(1)
    if topics is None:
        return text[:start] + f"  topics: [{intent}]\n" + text[start:]
    listed = topics.group(2).strip()
    new = f"{topics.group(1)}{listed + ', ' if listed else ''}{intent}]"
    return text[:start + topics.start()] + new + text[start + topics.end():]


def checked(root: Path, files: Dict[str, str]) -> List[Finding]:
    """The designer's check on a copy of the project with `files` applied."""
    with tempfile.TemporaryDirectory(prefix="designer-adopt-") as tmp:
        copy = materialise(root, WORKTREE, Path(tmp) / "project")
        for rel, text in files.items():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy / rel).write_text(text, encoding="utf-8")
        return check.run(copy)


def patch(root: Path, files: Dict[str, str]) -> str:
    """The change as a unified diff that `git apply` takes."""
    out: List[str] = []
    for rel in sorted(files):
        path = root / rel
        old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
        new = files[rel].splitlines(keepends=True)
        if not old:
            out.append(f"diff --git a/{rel} b/{rel}\nnew file mode 100644\n")
        out.extend(difflib.unified_diff(old, new, "/dev/null" if not old else f"a/{rel}",
                                        f"b/{rel}"))
    return "".join(out)


def write(root: Path, files: Dict[str, str]) -> None:
    """Writes the change into the project (only ever called after the check passed)."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def propose(root: Path, draft: str, intent: Optional[str] = None, team: Optional[str] = None,
            answers: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """The change for a draft, checked: what the miner page shows (and never writes).

    `patch` is given only when the check passes; `findings` say what to fix otherwise.
    """
    proposal = from_draft(draft, root, intent, answers, team)
    files = change(root, proposal)
    findings = checked(root, files)
    return {"intent": proposal.intent, "examples": len(proposal.examples),
            "answered_in": sorted(proposal.answers),
            "files": sorted(files), "passed": not findings,
            "findings": [f.__dict__ for f in findings],
            "patch": None if findings else patch(root, files)}
