"""The human path: from any state, in every form, one message reaches a person.

Rasa's RulePolicy applies a rule with no condition at any point of any story, except while a
form is active: then the form runs first and only rules conditioned on `active_loop: <form>`
apply when it rejects the message. So the human path holds everywhere when:
- each human-path intent has an unconditioned rule to `action_handoff`, and one per form;
- "not understood" twice in a row has its rule, unconditioned and per form;
- no rule or story (training or test) answers a human-path intent, or a second
  misunderstanding, with anything but `action_handoff` (that would teach the model otherwise);
- every form has test stories that interrupt it with a request for a person, a complaint and
  frustration (the three the guide asks tests for), so `rasa test` proves the rules work.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

from designer.project import (
    DEFAULT_RESPONSE,
    FALLBACK,
    FIRST_FALLBACK,
    HANDOFF,
    HUMAN_PATH,
    Finding,
    Flow,
    Project,
)

# Human-path intents every form must be interrupted with in tests/stories (docs/bot-designers.md).
TESTED_IN_FORMS = ("request_human", "complaint", "frustration")
RULES_FILE = "data/rules/handoff.yml"


def check(project: Project) -> List[Finding]:
    """Every finding about the human path."""
    rules = [f for f in project.flows() if f.kind == "rule"]
    findings: List[Finding] = []
    findings += _global_rules(project, rules)
    for form, line in project.named("forms").items():
        findings += _form_rules(project, rules, form, line)
        findings += _form_tests(project, form, line)
    for flow in project.flows() + project.flows(tests=True):
        findings += _contradictions(flow)
    return findings


def _next_action(flow: Flow, index: int) -> Optional[int]:
    """Index of the first action after step `index`, unless the customer speaks first."""
    for j in range(index + 1, len(flow.steps)):
        if flow.steps[j].kind == "intent":
            return None
        if flow.steps[j].kind == "action":
            return j
    return None


def _hands_off(flow: Flow, intent: str, first_only: bool = False) -> Optional[int]:
    """Index of the `action_handoff` that answers `intent` in `flow`, if it does."""
    for i, step in enumerate(flow.steps):
        if step.kind != "intent":
            continue
        if intent in step.value:
            j = _next_action(flow, i)
            if j is not None and flow.steps[j].value == HANDOFF:
                return j
        if first_only:
            return None
    return None


def _after_default(flow: Flow) -> Optional[int]:
    """Index of the handoff after a second misunderstanding (`utter_default` then fallback)."""
    said_default = False
    for i, step in enumerate(flow.steps):
        if step.kind == "action" and step.value in FIRST_FALLBACK:
            said_default = True
        elif step.kind == "intent":
            if said_default and FALLBACK in step.value:
                j = _next_action(flow, i)
                if j is not None and flow.steps[j].value == HANDOFF:
                    return j
            said_default = False
    return None


def _asks_again(flow: Flow) -> bool:
    """The flow answers a first misunderstanding with `utter_default`."""
    for i, step in enumerate(flow.steps):
        if step.kind == "intent" and FALLBACK in step.value:
            j = _next_action(flow, i)
            return j is not None and flow.steps[j].value in FIRST_FALLBACK
    return False


def _rule_snippet(intent: str, form: Optional[str]) -> str:
    condition = f"  condition:\n    - active_loop: {form}\n" if form else ""
    name = f"{intent} in the middle of {form}" if form else intent
    return (f"add to {RULES_FILE}:\n- rule: {name}, a person takes over\n{condition}"
            f"  steps:\n    - intent: {intent}\n    - action: {HANDOFF}\n    - active_loop: null")


def _global_rules(project: Project, rules: List[Flow]) -> List[Finding]:
    findings = []
    free = [r for r in rules if r.active_loop_condition() is None]
    intents = project.intents()
    for intent in HUMAN_PATH:
        if not any(_hands_off(r, intent, first_only=True) is not None for r in free):
            line = intents.get(intent, project.domain_line("intents"))
            findings.append(Finding("domain.yml", line,
                                    f"no rule sends `{intent}` to {HANDOFF} from any state "
                                    "(the human path)", _rule_snippet(intent, None)))
    findings += _fallback_rules(project, free, None, project.domain_line("intents"))
    return findings


def _fallback_rules(project: Project, rules: List[Flow], form: Optional[str],
                    line: int) -> List[Finding]:
    where = f" while {form} is active" if form else ""
    loop = (f"    - action: {form}\n    - active_loop: {form}\n") if form else ""
    condition = f"  condition:\n    - active_loop: {form}\n" if form else ""
    findings = []
    if not any(_asks_again(r) for r in rules):
        findings.append(Finding(
            "domain.yml", line, f"no rule asks to rephrase after a first misunderstanding{where}",
            f"add to {RULES_FILE}:\n- rule: not understood{where}, ask to rephrase once\n"
            f"{condition}  steps:\n    - intent: {FALLBACK}\n    - action: {DEFAULT_RESPONSE}\n"
            f"{loop}".rstrip()))
    if not any(_after_default(r) is not None for r in rules):
        findings.append(Finding(
            "domain.yml", line,
            f"no rule sends a second misunderstanding in a row{where} to {HANDOFF}",
            f"add to {RULES_FILE}:\n- rule: not understood twice{where}, a person takes over\n"
            f"{condition}  steps:\n    - action: {DEFAULT_RESPONSE}\n{loop}"
            f"    - intent: {FALLBACK}\n    - action: {HANDOFF}\n    - active_loop: null"))
    return findings


def _form_rules(project: Project, rules: List[Flow], form: str, line: int) -> List[Finding]:
    inside = [r for r in rules if r.active_loop_condition() == form]
    findings = []
    for intent in HUMAN_PATH:
        # (A rule found here without `active_loop: null` is reported by _contradictions.)
        if not any(_hands_off(r, intent) is not None for r in inside):
            findings.append(Finding(
                "domain.yml", line,
                f"form {form} keeps the customer from a person: no rule with `active_loop: "
                f"{form}` sends `{intent}` to {HANDOFF}", _rule_snippet(intent, form)))
    findings += _fallback_rules(project, inside, form, line)
    return findings


def _closes_loop(flow: Flow, index: int) -> bool:
    following = flow.steps[index + 1] if index + 1 < len(flow.steps) else None
    return following is not None and following.kind == "active_loop" and following.value is None


def _no_loop_null(flow: Flow, index: int) -> Finding:
    return Finding(flow.path, flow.steps[index].line,
                   f"{flow.kind} \"{flow.name}\": {HANDOFF} inside a form is not followed by "
                   "`active_loop: null` (the handoff closes the form)",
                   f"add `- active_loop: null` right after `- action: {HANDOFF}`")


def _form_tests(project: Project, form: str, line: int) -> List[Finding]:
    covered = set()
    for flow in project.flows(tests=True):
        covered.update(_intents_handed_off_in(flow, form))
    return [Finding("domain.yml", line,
                    f"no test story interrupts form {form} with `{intent}`",
                    f"add a story to tests/stories/ where {form} is active (after `- active_loop:"
                    f" {form}`), then `- intent: {intent}`, `- action: {HANDOFF}`, "
                    "`- active_loop: null`")
            for intent in TESTED_IN_FORMS if intent not in covered]


def _intents_handed_off_in(flow: Flow, form: str) -> Iterable[str]:
    active = flow.active_loop_condition()
    for i, step in enumerate(flow.steps):
        if step.kind == "active_loop":
            active = step.value
        elif step.kind == "intent" and active == form:
            j = _next_action(flow, i)
            if j is not None and flow.steps[j].value == HANDOFF:
                yield from step.value


def _contradictions(flow: Flow) -> List[Finding]:
    """Human-path intents (or a second misunderstanding) answered by something else."""
    findings = []
    active = flow.active_loop_condition()
    said_default = False
    for i, step in enumerate(flow.steps):
        if step.kind == "active_loop":
            active = step.value
        if step.kind == "action":
            said_default = said_default or step.value in FIRST_FALLBACK
            if step.value == HANDOFF and active and not _closes_loop(flow, i):
                findings.append(_no_loop_null(flow, i))
        if step.kind != "intent":
            continue
        human = [n for n in step.value if n in HUMAN_PATH]
        if said_default and FALLBACK in step.value:
            human.append(f"{FALLBACK}` after `{DEFAULT_RESPONSE}")
        said_default = False
        j = _next_action(flow, i)
        if human and j is not None and flow.steps[j].value != HANDOFF:
            findings.append(Finding(
                flow.path, flow.steps[j].line,
                f"{flow.kind} \"{flow.name}\": `{human[0]}` is answered with "
                f"`{flow.steps[j].value}`; the human path answers it with {HANDOFF}",
                f"replace `- action: {flow.steps[j].value}` with `- action: {HANDOFF}` "
                "(then `- active_loop: null`), or use another intent"))
    return findings
