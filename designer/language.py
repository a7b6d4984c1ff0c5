"""The assistant's own language detector (bot/language.py), without Rasa.

The check must tell French examples from English ones the way the assistant does. The data
mixes both languages in one intent block, so each example is placed by `bot.language.detect`.
Importing `bot.language` normally imports Rasa (and TensorFlow, ~10 s) for its graph
component; the module is written to work without Rasa (its import is in a try/except
ImportError), so it is loaded here under another name with Rasa's module hidden. The real
`bot.language` in `sys.modules` is left alone.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

_HIDDEN = "rasa.engine.graph"
_MISSING = object()
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})+")
_cache: dict = {}


def _module(root: Path) -> ModuleType:
    path = Path(root) / "bot" / "language.py"
    if not path.exists():  # a copy of the data alone: the detector of this checkout
        path = Path(__file__).resolve().parents[1] / "bot" / "language.py"
    if path in _cache:
        return _cache[path]
    spec = importlib.util.spec_from_file_location("designer._bot_language", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    # A None entry makes `import` raise ImportError. Hide all of Rasa when it is not loaded
    # yet (its package __init__ alone takes time); in a process that has it, hide one module.
    hidden = "rasa" if "rasa" not in sys.modules else _HIDDEN
    saved = sys.modules.get(hidden, _MISSING)
    sys.modules[hidden] = None  # type: ignore[assignment]
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is _MISSING:
            del sys.modules[hidden]
        else:
            sys.modules[hidden] = saved
    _cache[path] = module
    return module


def strip_annotations(text: str) -> str:
    """`my order [10234](order_number)` -> `my order 10234`."""
    return _ANNOTATION.sub(r"\1", text).strip()


def language_of(text: str, root: Path) -> Optional[str]:
    """"en", "fr", or None when the assistant's detector is not confident ("ok", "10234")."""
    found = _module(root).detect(re.sub(r"{\w+}", " ", strip_annotations(text)))
    return found.language if found else None
