"""The assistant's own language detector (handoff/language.py), as the checks use it.

The check must tell French examples from English ones the way the assistant does. The data
mixes both languages in one intent block, so each example is placed by `handoff.language.detect`
(the scoring behind the NLU component `bot.language.LanguageDetector`). The project checked
may have its own copy: it is loaded from there under another name (it imports no Rasa), and the
`handoff.language` in `sys.modules` is left alone.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})+")
_cache: dict = {}


def _module(root: Path) -> ModuleType:
    path = Path(root) / "handoff" / "language.py"
    if not path.exists():  # a copy of the data alone: the detector of this checkout
        path = Path(__file__).resolve().parents[1] / "handoff" / "language.py"
    if path in _cache:
        return _cache[path]
    spec = importlib.util.spec_from_file_location("designer._language", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    _cache[path] = module
    return module


def strip_annotations(text: str) -> str:
    """`my order [10234](order_number)` -> `my order 10234`."""
    return _ANNOTATION.sub(r"\1", text).strip()


def language_of(text: str, root: Path) -> Optional[str]:
    """"en", "fr", or None when the assistant's detector is not confident ("ok", "10234")."""
    found = _module(root).detect(re.sub(r"{\w+}", " ", strip_annotations(text)))
    return found.language if found else None
