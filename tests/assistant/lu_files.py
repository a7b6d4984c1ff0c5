"""Utterances of Microsoft Bot Framework `.lu` files (LUIS intents and QnA chit-chat).

Two shapes share the format: a LUIS file has sections `## Intent` followed by `- utterance`
lines; a QnA file has groups `## ? question` followed by other phrasings (`- ...`) and the
answer in a fenced block, which is not a customer's message and is skipped. A QnA question is
itself one of its group's utterances.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

# `{Entity=value}` annotations of LUIS utterances: the customer typed the value.
_ENTITY = re.compile(r"\{[^=}]*=([^}]*)\}")
_FENCE = re.compile(r"```.*?```", re.S)
_QNA = "? "


def lu_sections(path: Path) -> List[Tuple[str, List[str]]]:
    """(intent name or QnA question, its utterances), in file order."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8-sig"))
    sections: List[Tuple[str, List[str]]] = []
    current: List[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("## "):
            name = line[3:].strip()
            current = []
            if name.startswith(_QNA):
                name = name[len(_QNA):].strip()
                current.append(name)
            sections.append((name, current))
        elif line.startswith("- ") and sections:
            utterance = " ".join(_ENTITY.sub(r"\1", line[2:]).split())
            if utterance:
                current.append(utterance)
        elif line.startswith(("$", "> #")):
            current = []  # entity and phrase-list definitions: no more utterances
    return sections
