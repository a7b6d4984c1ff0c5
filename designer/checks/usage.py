"""Names that must meet: button payloads, responses sent by code, and nothing left unused.

- every button payload (`/intent` or `/intent{"entity": "value"}`) names a domain intent and
  domain entities;
- every response an action sends by name (`utter_message(response="utter_x", var=...)`) exists,
  and every `{variable}` in it is given by the action or is a slot (Rasa fills the rest from
  slots, or leaves the braces in the customer's message);
- no dead response (neither in a rule or story, nor asked by a form, nor named in code), no
  dead form (no rule or story starts it), no dead slot (nothing fills or reads it).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import List, Set, Tuple

from designer.checks.responses import variables
from designer.project import Finding, Project, line_of

_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)


@dataclass
class CodeUse:
    """What the Python code under actions/, handoff/ and bot/ names."""

    quoted: Set[str] = field(default_factory=set)  # every string constant
    prefixes: Set[str] = field(default_factory=set)  # f"utter_x_{...}"
    sends: List[Tuple[str, Set[str], bool, str, int]] = field(default_factory=list)


def code_use(project: Project) -> CodeUse:
    """String constants and `response=` calls of the project's code."""
    use = CodeUse()
    for path, source in project.code.items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # reported by the tests and ruff, not a designer's matter
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                use.quoted.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                # f"utter_order_{status}" names a family; a bare f"utter_{x}" (the miner's
                # drafts) names nothing in particular and would make every response look used.
                if (isinstance(head, ast.Constant) and str(head.value).startswith("utter_")
                        and len(str(head.value)) > len("utter_")):
                    use.prefixes.add(str(head.value))
            elif isinstance(node, ast.Call):
                _record_send(use, node, path)
    return use


def _record_send(use: CodeUse, call: ast.Call, path: str) -> None:
    response = next((k.value for k in call.keywords if k.arg == "response"), None)
    if not (isinstance(response, ast.Constant) and isinstance(response.value, str)):
        return
    given = {k.arg for k in call.keywords if k.arg not in (None, "response")}
    open_ended = any(k.arg is None for k in call.keywords)  # **kwargs: cannot tell
    use.sends.append((response.value, given, open_ended, path, call.lineno))


def check(project: Project) -> List[Finding]:
    """Payloads, responses named by code, dead responses, forms and slots."""
    use = code_use(project)
    findings = _payloads(project)
    findings += _sent_by_code(project, use)
    findings += _dead(project, use)
    return findings


def _payloads(project: Project) -> List[Finding]:
    intents, entities = set(project.intents()), set(project.named("entities"))
    findings = []
    for name, variants in project.responses().items():
        for variant in variants or []:
            buttons = variant.get("buttons") if isinstance(variant, dict) else None
            for index, button in enumerate(buttons or []):
                payload = str(button.get("payload") or "")
                line = line_of(button, "payload", line_of(buttons, index))
                problem = _payload_problem(payload, intents, entities)
                if problem:
                    findings.append(Finding("domain.yml", line, f"response {name}: button "
                                            f"payload `{payload}` {problem}",
                                            "use `/<intent>` or `/<intent>{\"<entity>\": "
                                            "\"<value>\"}` with names from domain.yml"))
    return findings


def _payload_problem(payload: str, intents: Set[str], entities: Set[str]) -> str:
    if not payload.startswith("/"):
        return ""  # a plain-text payload is read by the NLU like a typed message
    match = _PAYLOAD.match(payload)
    if not match:
        return "is not `/intent` or `/intent{...}`"
    if match.group(1) not in intents:
        return f"names no intent of the domain (`{match.group(1)}`)"
    if match.group(2):
        try:
            given = json.loads(match.group(2))
        except json.JSONDecodeError:
            return "has entities that are not valid JSON"
        unknown = sorted(set(given) - entities) if isinstance(given, dict) else ["?"]
        if unknown:
            return f"names entities the domain does not have: {unknown}"
    return ""


def _sent_by_code(project: Project, use: CodeUse) -> List[Finding]:
    responses = project.responses()
    slots = set(project.slots())
    findings = []
    for name, given, open_ended, path, line in use.sends:
        if name not in responses:
            findings.append(Finding(path, line, f"the code sends response {name}, which is not "
                                    "in domain.yml", f"add {name} (English and French) to "
                                    "`responses:` in domain.yml, or fix the name"))
            continue
        missing = set().union(*(variables(v) for v in responses[name] or [])) - given - slots
        if missing and not open_ended:
            findings.append(Finding(
                "domain.yml", line_of(project.domain.data["responses"], name),
                f"response {name} uses {sorted(missing)}, which {path}:{line} does not give "
                "and no slot holds", "give them in the utter_message call, or remove them "
                "from both variants"))
    return findings


def _flow_names(project: Project) -> Tuple[Set[str], Set[str]]:
    """Actions and slots named by the training rules and stories."""
    actions: Set[str] = set()
    slots: Set[str] = set()
    for flow in project.flows():
        for step in flow.steps + flow.condition:
            if step.kind in ("action", "active_loop") and step.value:
                actions.add(str(step.value))
            elif step.kind == "slot_was_set":
                for item in step.value or []:
                    slots.update(item if isinstance(item, dict) else [item])
    return actions, {str(s) for s in slots}


# Responses Rasa's own default actions say (`action_default_fallback` says `utter_default`).
RASA_SAYS = frozenset({"utter_default"})


def _dead(project: Project, use: CodeUse) -> List[Finding]:
    flow_actions, flow_slots = _flow_names(project)
    forms = project.forms()
    asked = {f"utter_ask_{slot}" for spec in forms.values()
             for slot in (spec or {}).get("required_slots") or []}
    asked |= {f"utter_ask_{form}_{slot}" for form, spec in forms.items()
              for slot in (spec or {}).get("required_slots") or []}
    findings = []
    for name in project.responses():
        if (name in flow_actions or name in asked or name in use.quoted or name in RASA_SAYS
                or any(name.startswith(p) for p in use.prefixes)):
            continue
        findings.append(Finding("domain.yml", project.domain_line("responses", name),
                                f"response {name} is never said: no rule or story, form or "
                                "action uses it", "use it in a rule or story, or remove it"))
    for form in forms:
        if form not in flow_actions:
            findings.append(Finding("domain.yml", project.domain_line("forms", form),
                                    f"form {form} is never started: no rule or story has "
                                    f"`- action: {form}`", "add a rule that opens it (intent "
                                    f"→ `action: {form}` → `active_loop: {form}`), or remove it"))
    findings += _dead_slots(project, use, flow_slots)
    return findings


def _dead_slots(project: Project, use: CodeUse, flow_slots: Set[str]) -> List[Finding]:
    used = set(flow_slots) | use.quoted
    for spec in project.forms().values():
        used.update(str(s) for s in (spec or {}).get("required_slots") or [])
    for variants in project.responses().values():
        for variant in variants or []:
            used.update(variables(variant))
            used.update(str(c.get("name")) for c in variant.get("condition") or [])
    if project.teams is not None and isinstance(project.teams.data, dict):
        for team in project.teams.data.values():
            used.update(str(s) for s in (team or {}).get("slots") or [])
    return [Finding("domain.yml", project.domain_line("slots", slot),
                    f"slot {slot} is never used: no form asks for it, no response, rule, story, "
                    "team or action reads or sets it", "use it or remove it")
            for slot in project.slots() if slot not in used]

