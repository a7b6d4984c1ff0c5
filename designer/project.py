"""The assistant's files as the designer's check reads them: YAML with line numbers.

Every mapping and list remembers the line of each key and item, so every finding can name the
file and line a designer has to open. PyYAML's C parser (libyaml) builds the node tree, which
carries the positions; ruamel.yaml's round-trip loader does the same but is pure Python and
took 4-6 s on this data on a busy machine, against 0.1 s. Nothing here imports Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

# The intents that lead to a person from anywhere (DESIGN.md, principle 1). The check also
# makes sure the code that acts on them (actions, ticket, evaluation) names the same four.
HUMAN_PATH = ("request_human", "complaint", "frustration", "sensitive_topic")
FALLBACK = "nlu_fallback"
HANDOFF = "action_handoff"
DEFAULT_RESPONSE = "action_suggest_intents"  # the first answer to a misunderstanding
# What may answer a first misunderstanding: the two-stage fallback (likely intents and a person as
# buttons), or Rasa's own "please rephrase".
FIRST_FALLBACK = frozenset({DEFAULT_RESPONSE, "utter_default"})
# Code that sends responses, sets slots or triggers intents by name.
CODE_DIRS = ("actions", "handoff", "bot")


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: where it is, what is wrong, and what to do about it."""

    path: str
    line: int
    message: str
    fix: str = ""

    def format(self) -> str:
        """`file:line: message` (the form editors and terminals link), then the fix."""
        text = f"{self.path}:{self.line}: {self.message}"
        if self.fix:
            text += "\n    fix: " + self.fix.replace("\n", "\n         ")
        return text


@dataclass
class Source:
    """One YAML file: its path relative to the project and its round-trip data."""

    path: str
    data: Any


class Map(dict):
    """A YAML mapping that knows its line and the line of each key (1-based)."""

    line = 1
    key_lines: Dict[Any, int]


class Seq(list):
    """A YAML list that knows its line and the line of each item (1-based)."""

    line = 1
    item_lines: List[int]


def line_of(node: Any, key: Any = None, default: int = 1) -> int:
    """1-based line of a mapping or list `node` (or of its `key`, or of item number `key`)."""
    if isinstance(node, Map):
        return node.line if key is None else node.key_lines.get(key, node.line)
    if isinstance(node, Seq):
        if key is None or not 0 <= key < len(node.item_lines):
            return node.line
        return node.item_lines[key]
    return default


@dataclass
class Step:
    """One step of a rule or story, flattened: `kind` is intent, action, active_loop, ..."""

    kind: str
    value: Any
    line: int


@dataclass
class Flow:
    """A rule, a story or a test story."""

    kind: str  # "rule" or "story"
    name: str
    path: str
    line: int
    steps: List[Step]
    condition: List[Step] = field(default_factory=list)
    test: bool = False

    def active_loop_condition(self) -> Optional[str]:
        """The form this rule is conditioned on, if any."""
        return next((str(s.value) for s in self.condition if s.kind == "active_loop"), None)


@dataclass
class Project:
    """Everything the check reads, loaded once."""

    root: Path
    domain: Optional[Source]
    data: List[Source]
    test_stories: List[Source]
    teams: Optional[Source]
    errors: List[Finding]
    code: Dict[str, str] = field(default_factory=dict)

    # --- the domain -------------------------------------------------------------------------
    def _section(self, name: str) -> Any:
        if self.domain is None or not isinstance(self.domain.data, dict):
            return None
        return self.domain.data.get(name)

    def intents(self) -> Dict[str, int]:
        """Domain intents and their lines."""
        out: Dict[str, int] = {}
        section = self._section("intents") or []
        for index, item in enumerate(section):
            name = next(iter(item)) if isinstance(item, dict) else item
            out[str(name)] = line_of(section, index)
        return out

    def named(self, section: str) -> Dict[str, int]:
        """Names in a domain section (a list, e.g. actions, or a mapping) and their lines."""
        node = self._section(section) or []
        if isinstance(node, dict):
            return {str(k): line_of(node, k) for k in node}
        return {str(v if not isinstance(v, dict) else next(iter(v))): line_of(node, i)
                for i, v in enumerate(node)}

    def responses(self) -> Dict[str, Any]:
        """Response name -> its list of variants (ruamel nodes)."""
        return dict(self._section("responses") or {})

    def slots(self) -> Dict[str, Any]:
        """Slot name -> its definition."""
        return dict(self._section("slots") or {})

    def forms(self) -> Dict[str, Any]:
        """Form name -> its definition."""
        return dict(self._section("forms") or {})

    def domain_line(self, section: str, key: Optional[str] = None) -> int:
        """The line of `section` (or of `key` in it) in domain.yml."""
        if self.domain is None:
            return 1
        node = self.domain.data
        if key is None:
            return line_of(node, section)
        return line_of(node.get(section), key)

    # --- the training data ------------------------------------------------------------------
    def nlu_blocks(self) -> Iterator[Tuple[Source, Any, int]]:
        """Every `- intent:` block of data/, with its file and line."""
        for source in self.data:
            blocks = source.data.get("nlu") if isinstance(source.data, dict) else None
            for index, block in enumerate(blocks or []):
                if isinstance(block, dict) and "intent" in block:
                    yield source, block, line_of(blocks, index)

    def flows(self, tests: bool = False) -> List[Flow]:
        """The rules and stories of data/ (or the test stories of tests/stories)."""
        out: List[Flow] = []
        for source in self.test_stories if tests else self.data:
            if not isinstance(source.data, dict):
                continue
            for kind, key in (("rule", "rules"), ("story", "stories")):
                items = source.data.get(key) or []
                for index, item in enumerate(items):
                    if not isinstance(item, dict):
                        continue
                    out.append(Flow(kind, str(item.get(kind, "")), source.path,
                                    line_of(items, index), _steps(item.get("steps")),
                                    _steps(item.get("condition")), test=tests))
        return out


def _steps(items: Any) -> List[Step]:
    steps: List[Step] = []
    for index, item in enumerate(items or []):
        if not isinstance(item, dict):
            continue
        line = line_of(items, index)
        for kind, value in item.items():
            if kind == "or":  # alternatives: one intent step with a list of names
                names = [v.get("intent") for v in value or [] if isinstance(v, dict)]
                steps.append(Step("intent", [n for n in names if n], line))
            elif kind == "intent":
                steps.append(Step("intent", [str(value)], line))
            elif kind in ("action", "active_loop", "slot_was_set", "user", "bot",
                          "checkpoint"):
                steps.append(Step(kind, value, line))
    return steps


# --- loading ------------------------------------------------------------------------------
def _yaml_files(directory: Path) -> List[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml")
                  and p.is_file())


class _Reader:
    """Turns libyaml's node tree into Map/Seq/scalars, noting duplicate keys on the way."""

    def __init__(self, text: str, path: str, errors: List[Finding]) -> None:
        self.loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else \
            yaml.SafeLoader(text)
        self.path = path
        self.errors = errors

    def read(self) -> Any:
        try:
            node = self.loader.get_single_node()
            return self.build(node) if node is not None else None
        finally:
            self.loader.dispose()

    def build(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            out = Map()
            out.line, out.key_lines = node.start_mark.line + 1, {}
            for key_node, value_node in node.value:
                key = self.build(key_node)
                key = key if isinstance(key, (str, int, float, bool)) or key is None else str(key)
                line = key_node.start_mark.line + 1
                if key in out:
                    self.errors.append(Finding(
                        self.path, line, f"`{key}` is defined twice here (also line "
                        f"{out.key_lines[key]}); YAML keeps only the last one",
                        "merge the two or rename one"))
                out[key] = self.build(value_node)
                out.key_lines[key] = line
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = Seq(self.build(item) for item in node.value)
            seq.line = node.start_mark.line + 1
            seq.item_lines = [item.start_mark.line + 1 for item in node.value]
            return seq
        return self.loader.construct_object(node, deep=True)


def _load(root: Path, path: Path, errors: List[Finding]) -> Optional[Source]:
    rel = str(path.relative_to(root))
    try:
        data = _Reader(path.read_text(encoding="utf-8"), rel, errors).read()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        errors.append(Finding(rel, (mark.line + 1) if mark else 1,
                              f"not valid YAML: {exc.problem or exc.context}",
                              "fix the syntax (indentation, quotes, a missing `:`)"))
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(Finding(rel, 1, f"cannot be read: {exc}"))
        return None
    return Source(rel, data)


def load(root: Path) -> Project:
    """Reads domain.yml, data/, tests/stories/, handoff/teams.yml and the code under `root`."""
    root = Path(root).resolve()
    errors: List[Finding] = []
    domain_path = root / "domain.yml"
    domain = _load(root, domain_path, errors) if domain_path.exists() else None
    if domain is None and not errors:
        errors.append(Finding("domain.yml", 1, "domain.yml is missing"))
    data = [s for p in _yaml_files(root / "data") if (s := _load(root, p, errors))]
    tests = [s for p in _yaml_files(root / "tests" / "stories") if (s := _load(root, p, errors))]
    teams_path = root / "handoff" / "teams.yml"
    teams = _load(root, teams_path, errors) if teams_path.exists() else None
    code = {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for d in CODE_DIRS for p in sorted((root / d).rglob("*.py"))}
    return Project(root, domain, data, tests, teams, errors, code)
