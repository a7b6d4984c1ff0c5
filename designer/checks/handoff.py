"""The handoff side agrees with the domain.

- `handoff/teams.yml`: every topic is an intent of the domain that can be a topic (not the
  human path or chitchat, which the router ignores: handoff/ticket.py `_NOT_TOPICS`), and every
  slot is a domain slot; otherwise a team silently never gets those conversations;
- the code that acts on the human path names the same four intents as the check: the forms'
  validation (actions/orders.py `HUMAN_PATH_INTENTS`), the NLU's sum of the human path
  (bot/human_path.py `HUMAN_PATH_INTENTS`), the ticket's reasons (handoff/ticket.py
  `_REASON_BY_INTENT`, which also needs `nlu_fallback`) and the evaluation
  (tests/assistant/nlu_eval.py `HUMAN`);
- a slot filled from the whole text while a form is active (`from_text`) excludes the human
  path (`not_intent`), or "I want a person" becomes the customer's address.

The handoff responses themselves (`utter_handoff_queued` with `{position}`, ...) are checked
with every response an action sends (checks/usage.py): they exist, in both languages, with the
variables `action_handoff` gives.
"""

from __future__ import annotations

import ast
from typing import Any, Dict, List, Optional, Set, Tuple

from designer.project import FALLBACK, HUMAN_PATH, Finding, Project, line_of

# (file, name of a set or dict of intents, extra names it must also hold)
HUMAN_PATH_IN_CODE = (
    ("actions/orders.py", "HUMAN_PATH_INTENTS", ()),
    ("bot/human_path.py", "HUMAN_PATH_INTENTS", ()),
    ("handoff/ticket.py", "_REASON_BY_INTENT", (FALLBACK,)),
    ("tests/assistant/nlu_eval.py", "HUMAN", ()),
)


def check(project: Project) -> List[Finding]:
    """teams.yml topics and slots, the human path in code, from_text mappings."""
    findings = _teams(project)
    for path, name, extra in HUMAN_PATH_IN_CODE:
        findings += _code_agrees(project, path, name, set(extra))
    findings += _from_text(project)
    return findings


def _constant(project: Project, path: str, name: str) -> Optional[Tuple[Set[str], int]]:
    """The string members of a module-level set/frozenset/dict/tuple named `name`."""
    file = project.root / path
    if not file.exists():
        return None
    for node in ast.parse(file.read_text(encoding="utf-8")).body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value:
            members = {n.value for n in ast.walk(node.value)
                       if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            if isinstance(node.value, ast.Dict):
                members = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            return members, node.lineno
    return None


def _code_agrees(project: Project, path: str, name: str, extra: Set[str]) -> List[Finding]:
    found = _constant(project, path, name)
    if found is None:
        return []  # a copy of the data without the code: nothing to compare
    members, line = found
    want = set(HUMAN_PATH) | extra
    if members == want:
        return []
    return [Finding(path, line, f"{name} names {sorted(members)}; the human path is "
                    f"{sorted(want)}", "keep the human-path intents the same everywhere "
                    "(designer/project.py HUMAN_PATH lists them for the check)")]


def _not_topics(project: Project) -> Set[str]:
    found = _constant(project, "handoff/ticket.py", "_NOT_TOPICS")
    return found[0] if found else set(HUMAN_PATH)


def _teams(project: Project) -> List[Finding]:
    if project.teams is None or not isinstance(project.teams.data, dict):
        return []
    intents, slots = set(project.intents()), set(project.slots())
    ignored = _not_topics(project)
    findings = []
    path = project.teams.path
    for team_id, team in project.teams.data.items():
        for key, known, what in (("topics", intents, "intent"), ("slots", slots, "slot")):
            items = (team or {}).get(key) or []
            for index, value in enumerate(items):
                line = line_of(items, index, line_of(team, key))
                if value not in known:
                    findings.append(Finding(path, line, f"team {team_id}: {key[:-1]} `{value}` "
                                            f"is no {what} of domain.yml",
                                            f"fix the name, or add the {what} to domain.yml"))
                elif key == "topics" and (value in ignored or value.startswith("EXTERNAL_")):
                    findings.append(Finding(path, line, f"team {team_id}: `{value}` is never a "
                                            "topic (the router ignores it: handoff/ticket.py "
                                            "_NOT_TOPICS)", "route by the customer's question "
                                            "intents (order_status, returns, ...)"))
    return findings


def _from_text(project: Project) -> List[Finding]:
    slots: Dict[str, Any] = project.slots()
    findings = []
    for slot, spec in slots.items():
        for index, mapping in enumerate((spec or {}).get("mappings") or []):
            if not isinstance(mapping, dict) or mapping.get("type") != "from_text":
                continue
            excluded = set(mapping.get("not_intent") or [])
            wanted = [i for i in HUMAN_PATH if i not in excluded]
            if mapping.get("intent") is None and wanted:
                findings.append(Finding(
                    "domain.yml", line_of(spec["mappings"], index),
                    f"slot {slot} takes any text, including a request for a person: its "
                    f"from_text mapping does not exclude {wanted}",
                    f"add {wanted} to the mapping's `not_intent:` list"))
    return findings
