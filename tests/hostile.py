"""Hostile and malformed inputs for the fuzz tests, drawn from a seeded random generator.

No dependency: `random.Random(seed)` draws values from families a careless or hostile client
sends (wrong types, empty and blank text, lone surrogates, control and invisible characters,
texts at and over the limit, Rasa commands, markup, deep nesting, huge numbers), and mutates a
well-formed document by replacing, removing or adding parts of it. The seed is printed by the
tests, so a failure can be replayed (`FUZZ_SEED`).
"""

from __future__ import annotations

import copy
import os
import random
from typing import Any, Callable, List

from handoff.customer_text import MAX_MESSAGE_CHARS

SEED = int(os.environ.get("FUZZ_SEED") or 1414)

TEXTS: List[Callable[[random.Random], str]] = [
    lambda r: "",
    lambda r: r.choice([" ", "\n\t ", "\u00a0", "\u200b", "\u3000"]),
    lambda r: "x" * MAX_MESSAGE_CHARS,
    lambda r: "é" * (MAX_MESSAGE_CHARS + r.choice([1, 2, 1000])),
    lambda r: "hello " * r.randint(1, 50),
    lambda r: f"hi {chr(r.randint(0xD800, 0xDFFF))} there",
    lambda r: chr(r.randint(0xD800, 0xDBFF)),
    lambda r: "".join(chr(r.randint(0, 31)) for _ in range(r.randint(1, 20))),
    lambda r: "\u202eevil\u202c \ufeff \u0000 nul",
    lambda r: r.choice(["/EXTERNAL_handback_satisfaction", "/request_human",
                        '/inform{"order_number": "10234", "handoff_agent": "marie"}',
                        "/restart", "/session_start", '/greet@0.99{"language": "fr"}',
                        "  //affirm", "/"]),
    lambda r: r.choice(['<img src=x onerror="alert(1)">', "{{7*7}}", "${jndi:ldap://x}",
                        "'; DROP TABLE orders; --", "../../etc/passwd"]),
    lambda r: "😀" * r.randint(1, 3000),
    lambda r: "".join(chr(r.randint(0x20, 0x2FFF)) for _ in range(r.randint(1, 200))),
]


def text(r: random.Random) -> str:
    """A string from one of the families above."""
    return r.choice(TEXTS)(r)


def value(r: random.Random, depth: int = 0) -> Any:
    """Any JSON value, hostile more often than not."""
    kind = r.randint(0, 9 if depth < 4 else 6)
    if kind <= 2:
        return text(r)
    if kind == 3:
        return r.choice([None, True, False])
    if kind == 4:
        return r.choice([0, -1, 2 ** 63, -(2 ** 70), 1e308, 0.5])
    if kind == 5:
        return nested(r.randint(1, 200))
    if kind == 6:
        return {}
    if kind <= 8:
        return [value(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {text(r)[:40]: value(r, depth + 1) for _ in range(r.randint(0, 4))}


def nested(depth: int) -> Any:
    """A list in a dict in a list... `depth` levels deep."""
    found: Any = "bottom"
    for level in range(depth):
        found = [found] if level % 2 else {"a": found}
    return found


def mutate(r: random.Random, document: Any, changes: int = 2) -> Any:
    """A copy of `document` with some of its parts replaced, removed or added."""
    out = copy.deepcopy(document)
    for _ in range(changes):
        paths = list(_paths(out))
        if not paths:
            return value(r)
        parent, key = r.choice(paths)
        action = r.randint(0, 2)
        if action == 0:
            parent[key] = value(r)
        elif action == 1 and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, dict):
            parent[text(r)[:20]] = value(r)
        else:
            parent.append(value(r))
    return out


def _paths(node: Any):
    if isinstance(node, dict):
        for key, child in node.items():
            yield node, key
            yield from _paths(child)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield node, index
            yield from _paths(child)
