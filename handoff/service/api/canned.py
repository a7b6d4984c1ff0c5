"""Canned responses agents insert with `/`, in French and English (`canned.yml` beside it)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

import yaml

DEFAULT_FILE = Path(__file__).with_name("canned.yml")
LANGUAGES = ("en", "fr")


class CannedError(ValueError):
    """The canned responses file is malformed."""


@dataclass(frozen=True)
class Canned:
    """One canned response."""

    id: str
    title: Dict[str, str]
    text: Dict[str, str]

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API."""
        return {"id": self.id, "title": dict(self.title), "text": dict(self.text)}

    def matches(self, query: str) -> bool:
        """Whether every word of `query` is in the title or text (any language, no accents)."""
        haystack = _fold(" ".join([self.id, *self.title.values(), *self.text.values()]))
        return all(word in haystack for word in _fold(query).split())


def load(path: Path = DEFAULT_FILE) -> List[Canned]:
    """Reads and checks the file: every response needs a title and a text in both languages."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    found = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("id"):
            raise CannedError(f"{path}: every entry needs an id")
        for field in ("title", "text"):
            value = item.get(field)
            if not isinstance(value, dict) or any(not value.get(lang) for lang in LANGUAGES):
                raise CannedError(f"{path}: {item['id']}: {field} needs en and fr")
        found.append(Canned(str(item["id"]), item["title"], item["text"]))
    return found


def search(responses: List[Canned], query: str) -> List[Canned]:
    """Responses matching the query, in file order."""
    return [r for r in responses if r.matches(query)]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
