"""The designer's check (`python -m designer check`): passes on today's data, and fails with
file and line on a copy of the data where one guardrail is broken on purpose."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from designer.check import run
from designer.project import Finding
from tests.designer_project import copy_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


def edit(project: Path, name: str, old: str, new: str, count: int = 1, after: str = "") -> None:
    """Replaces `old` (its first `count` occurrences after `after`, if given) in a file."""
    path = project / name
    text = path.read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    assert text.count(old, start) >= count, f"{old!r} not in {name}"
    path.write_text(text[:start] + text[start:].replace(old, new, count), encoding="utf-8")


def line_of(project: Path, name: str, needle: str, after: str = "") -> int:
    text = (project / name).read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    return text[:text.index(needle, start)].count("\n") + 1


def only(findings: List[Finding], path: str, line: int, *words: str) -> Finding:
    """The finding at `path:line` whose message has every word; fails with all findings."""
    shown = "\n".join(f.format() for f in findings)
    hits = [f for f in findings if f.path == path and f.line == line
            and all(w in f.message for w in words)]
    assert hits, f"no finding at {path}:{line} with {words}; got:\n{shown}"
    assert hits[0].fix, "a finding says what to do"
    return hits[0]


def remove_block(project: Path, name: str, first_line: str) -> None:
    """Removes a list item (rule, story, response...) starting with `first_line`."""
    text = (project / name).read_text(encoding="utf-8")
    start = text.index(first_line)
    indent = len(first_line) - len(first_line.lstrip())
    following = re.compile(rf"^ {{0,{indent}}}\S", re.MULTILINE)
    nxt = following.search(text, start + len(first_line))
    end = nxt.start() if nxt else len(text)
    (project / name).write_text(text[:start] + text[end:], encoding="utf-8")


# --- today's data ------------------------------------------------------------------------------
def test_todays_data_passes() -> None:
    findings = run(ROOT)
    assert findings == [], "\n".join(f.format() for f in findings)


def test_the_command_passes_on_todays_data_without_loading_rasa() -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "designer", "check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "passed" in proc.stdout
    print(f"designer check took {time.monotonic() - started:.1f} s")
    probe = ("import sys; from designer.check import run; run(); print(sorted(m for m, v in "
             "sys.modules.items() if v is not None and m.split('.')[0] in "
             "('rasa', 'tensorflow', 'bot')))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]"


def test_a_faithful_copy_passes(project: Path) -> None:
    assert run(project) == []


# --- the human path ------------------------------------------------------------------------------
def test_a_form_without_the_human_path(project: Path) -> None:
    remove_block(project, "data/rules/handoff.yml",
                 "  - rule: a complaint in the middle of order_form, a person takes over")
    findings = run(project)
    line = line_of(project, "domain.yml", "  order_form:", after="forms:")
    found = only(findings, "domain.yml", line, "order_form", "`complaint`")
    assert "active_loop: order_form" in found.fix


def test_a_new_form_with_no_human_path_rules(project: Path) -> None:
    edit(project, "domain.yml", "forms:\n", "forms:\n  gift_form:\n    required_slots:\n"
         "      - order_number\n")
    edit(project, "data/rules/orders.yml", "rules:\n", "rules:\n  - rule: gift\n    steps:\n"
         "      - intent: greet\n      - action: gift_form\n      - active_loop: gift_form\n")
    findings = run(project)
    line = line_of(project, "domain.yml", "  gift_form:")
    for intent in ("request_human", "complaint", "frustration", "sensitive_topic"):
        only(findings, "domain.yml", line, "gift_form", f"`{intent}`")
    only(findings, "domain.yml", line, "second misunderstanding", "gift_form")
    only(findings, "domain.yml", line, "no test story interrupts form gift_form")


def test_a_human_path_intent_without_its_rule(project: Path) -> None:
    remove_block(project, "data/rules/handoff.yml",
                 "  - rule: frustration, a person takes over")
    only(run(project), "domain.yml", line_of(project, "domain.yml", "  - frustration:"),
         "`frustration`", "from any state")


def test_two_misunderstandings_must_reach_a_person(project: Path) -> None:
    remove_block(project, "data/rules/handoff.yml",
                 "  - rule: the bot does not understand twice, a person takes over")
    only(run(project), "domain.yml", line_of(project, "domain.yml", "intents:"),
         "second misunderstanding")


def test_a_story_that_answers_a_complaint_itself(project: Path) -> None:
    edit(project, "data/stories/faq.yml",
         "      - intent: complaint\n      - action: action_handoff\n",
         "      - intent: complaint\n      - action: utter_ok\n")
    line = line_of(project, "data/stories/faq.yml", "- action: utter_ok")
    only(run(project), "data/stories/faq.yml", line, "`complaint`", "utter_ok")


def test_a_handoff_in_a_form_must_close_it(project: Path) -> None:
    rule = "  - rule: frustration in the middle of order_form, a person takes over"
    edit(project, "data/rules/handoff.yml",
         rule + "\n    condition:\n      - active_loop: order_form\n    steps:\n"
         "      - intent: frustration\n      - action: action_handoff\n      - active_loop: null\n",
         rule + "\n    condition:\n      - active_loop: order_form\n    steps:\n"
         "      - intent: frustration\n      - action: action_handoff\n")
    line = line_of(project, "data/rules/handoff.yml", "- action: action_handoff", after=rule)
    only(run(project), "data/rules/handoff.yml", line, "active_loop: null")


def test_a_form_never_interrupted_in_the_test_stories(project: Path) -> None:
    for name in ("cancel form, frustration while the number is asked",
                 "cancel form, frustration at the confirmation"):
        remove_block(project, "tests/stories/test_orders.yml", f"  - story: {name}")
    line = line_of(project, "domain.yml", "  cancel_order_form:", after="forms:")
    only(run(project), "domain.yml", line, "cancel_order_form", "`frustration`", "test story")


# --- NLU examples ------------------------------------------------------------------------------
GIFT_EN = [f"can I buy a gift card for {n} euros please" for n in range(10, 40)]


def add_intent(project: Path, name: str, examples: List[str]) -> int:
    edit(project, "domain.yml", "intents:\n",
         f"intents:\n  - {name}:\n      ignore_entities: [language, email, phone, name]\n")
    block = f"  - intent: {name}\n    examples: |\n" + "".join(f"      - {e}\n" for e in examples)
    edit(project, "data/nlu/faq.yml", "nlu:\n", "nlu:\n" + block)
    return line_of(project, "data/nlu/faq.yml", f"  - intent: {name}")


def test_an_intent_with_examples_in_one_language(project: Path) -> None:
    line = add_intent(project, "gift_card", GIFT_EN)
    found = only(run(project), "data/nlu/faq.yml", line, "`gift_card`", "0 French examples")
    assert "French" in found.fix


def test_an_intent_with_too_few_examples(project: Path) -> None:
    line = add_intent(project, "gift_card", GIFT_EN[:4] + ["je voudrais une carte cadeau"] * 1)
    only(run(project), "data/nlu/faq.yml", line, "`gift_card` has 5 examples")


def test_long_form_examples_with_a_declared_language(project: Path) -> None:
    block = "".join(f"      - text: \"gift card {n}\"\n        metadata:\n"
                    f"          language: {'fr' if n % 4 == 0 else 'en'}\n" for n in range(32))
    edit(project, "domain.yml", "intents:\n", "intents:\n  - gift_card\n")
    edit(project, "data/nlu/faq.yml", "nlu:\n", "nlu:\n  - intent: gift_card\n    examples:\n"
         + block)
    line = line_of(project, "data/nlu/faq.yml", "  - intent: gift_card")
    # 8 declared French examples meet the floor; "gift card 3" is not French to the detector.
    assert not [f for f in run(project) if "French examples" in f.message]
    edit(project, "data/nlu/faq.yml", "          language: fr\n", "          language: en\n")
    only(run(project), "data/nlu/faq.yml", line, "`gift_card` has 7 French examples")


def test_an_example_shared_by_two_intents(project: Path) -> None:
    edit(project, "data/nlu/faq.yml", "    examples: |\n",
         "    examples: |\n      - Where is my order?\n")
    findings = run(project)
    line = line_of(project, "data/nlu/faq.yml", "      - Where is my order?")
    # Reported at the later of the two places, naming the other one.
    hits = [f for f in findings if "also an example of" in f.message
            and f"data/nlu/faq.yml:{line}" in f"{f.path}:{f.line} {f.message}"
            and "data/nlu/orders.yml" in f"{f.path}:{f.line} {f.message}"]
    assert hits, "\n".join(f.format() for f in findings)


def test_nlu_intents_and_domain_intents_must_match(project: Path) -> None:
    edit(project, "domain.yml", "  - capabilities:\n      ignore_entities: [language, email, "
         "phone, name]\n", "")
    line = line_of(project, "data/nlu/chitchat.yml", "  - intent: capabilities")
    only(run(project), "data/nlu/chitchat.yml", line, "`capabilities`", "not in domain.yml")


# --- responses ---------------------------------------------------------------------------------
FR_OK = ('      text: "Très bien. Si vous avez besoin d\'autre chose, écrivez-moi."\n')


def test_a_response_missing_its_french_variant(project: Path) -> None:
    edit(project, "domain.yml", "    - condition:\n        - type: slot\n          name: language"
         "\n          value: fr\n" + FR_OK, "")
    line = line_of(project, "domain.yml", "  utter_ok:")
    found = only(run(project), "domain.yml", line, "utter_ok", "0 French variants")
    assert "value: fr" in found.fix


def test_variables_and_payloads_must_match(project: Path) -> None:
    edit(project, "domain.yml", "nous rouvrons {opening}", "nous rouvrons bientôt")
    edit(project, "domain.yml", 'title: "Parler à une personne"\n          payload: '
         '"/request_human"', 'title: "Parler à une personne"\n          payload: "/complaint"',
         after="utter_out_of_scope:")
    findings = run(project)
    closed = line_of(project, "domain.yml", "    - condition:", after="utter_handoff_closed:")
    only(findings, "domain.yml", closed, "utter_handoff_closed", "['opening']")
    oos = line_of(project, "domain.yml", "    - condition:", after="utter_out_of_scope:")
    only(findings, "domain.yml", oos, "utter_out_of_scope", "payloads differ")


def test_a_variant_in_the_wrong_language(project: Path) -> None:
    edit(project, "domain.yml", '    - text: "Goodbye, and have a nice day!"',
         '    - text: "Au revoir, et bonne journée à vous !"')
    line = line_of(project, "domain.yml", "    - text:", after="utter_goodbye:")
    only(run(project), "domain.yml", line, "utter_goodbye", "reads as French")


# --- names -------------------------------------------------------------------------------------
def test_a_payload_naming_no_intent(project: Path) -> None:
    edit(project, "domain.yml", 'payload: "/affirm"', 'payload: "/afirm"')
    line = line_of(project, "domain.yml", 'payload: "/afirm"')
    only(run(project), "domain.yml", line, "`/afirm`", "names no intent")


def test_a_payload_naming_an_unknown_entity(project: Path) -> None:
    edit(project, "domain.yml", 'payload: "/affirm"', 'payload: "/affirm{\\"colour\\": \\"red\\"}"')
    line = line_of(project, "domain.yml", 'colour')
    only(run(project), "domain.yml", line, "entities the domain does not have", "colour")


def test_dead_response_form_and_slot(project: Path) -> None:
    edit(project, "domain.yml", "responses:\n", "responses:\n  utter_gift:\n    - text: \"A gift "
         "card is a nice idea.\"\n    - condition:\n        - type: slot\n          name: "
         "language\n          value: fr\n      text: \"Une carte cadeau, bonne idée.\"\n")
    edit(project, "domain.yml", "forms:\n", "forms:\n  gift_form:\n    required_slots:\n"
         "      - gift_amount\n")
    edit(project, "domain.yml", "slots:\n", "slots:\n  gift_amount:\n    type: text\n"
         "    mappings:\n      - type: custom\n  wrapping:\n    type: text\n    mappings:\n"
         "      - type: custom\n")
    findings = run(project)
    only(findings, "domain.yml", line_of(project, "domain.yml", "  utter_gift:"),
         "utter_gift", "never said")
    only(findings, "domain.yml", line_of(project, "domain.yml", "  gift_form:"),
         "gift_form", "never started")
    only(findings, "domain.yml", line_of(project, "domain.yml", "  wrapping:"),
         "wrapping", "never used")
    assert not [f for f in findings if "gift_amount" in f.message]  # a form asks for it


def test_a_response_the_code_sends_must_exist(project: Path) -> None:
    remove_block(project, "domain.yml", "  utter_handoff_nobody:")
    line = line_of(project, "actions/handoff.py", 'response="utter_handoff_nobody"')
    only(run(project), "actions/handoff.py", line, "utter_handoff_nobody", "not in domain.yml")


def test_a_variable_nobody_gives(project: Path) -> None:
    edit(project, "domain.yml", "You are number {position} in the queue;",
         "You are number {position} in the queue ({wait} min);")
    edit(project, "domain.yml", "en position {position} dans la file d'attente ;",
         "en position {position} dans la file d'attente ({wait} min) ;")
    line = line_of(project, "domain.yml", "  utter_handoff_queued:")
    only(run(project), "domain.yml", line, "utter_handoff_queued", "['wait']")


# --- the handoff side --------------------------------------------------------------------------
def test_team_topics_and_slots_must_be_in_the_domain(project: Path) -> None:
    edit(project, "handoff/teams.yml", "topics: [payment_methods]",
         "topics: [payment_method, complaint]")
    edit(project, "handoff/teams.yml", "slots: [order_number]", "slots: [order_id]")
    findings = run(project)
    line = line_of(project, "handoff/teams.yml", "topics: [payment_method")
    only(findings, "handoff/teams.yml", line, "billing", "`payment_method`", "no intent")
    only(findings, "handoff/teams.yml", line, "`complaint`", "never a topic")
    only(findings, "handoff/teams.yml", line_of(project, "handoff/teams.yml", "slots: [order_id]"),
         "`order_id`", "no slot")


def test_the_code_names_the_same_human_path(project: Path) -> None:
    edit(project, "actions/orders.py", '"sensitive_topic"})', '})')
    line = line_of(project, "actions/orders.py", "HUMAN_PATH_INTENTS = ")
    only(run(project), "actions/orders.py", line, "HUMAN_PATH_INTENTS")


def test_a_free_text_slot_must_not_swallow_the_human_path(project: Path) -> None:
    edit(project, "domain.yml", "          - request_human\n          - complaint\n", "")
    line = line_of(project, "domain.yml", "      - type: from_text")
    only(run(project), "domain.yml", line, "new_address", "request_human", "complaint")


def test_broken_yaml_names_the_line(project: Path) -> None:
    edit(project, "data/rules/faq.yml", "    steps:\n", "    steps:\n   - bad: [\n")
    findings = run(project)
    assert len(findings) == 1 and findings[0].path == "data/rules/faq.yml", findings
    assert findings[0].line > 1 and "not valid YAML" in findings[0].message


def test_the_command_fails_with_file_and_line(project: Path) -> None:
    edit(project, "domain.yml", 'payload: "/affirm"', 'payload: "/afirm"')
    proc = subprocess.run([sys.executable, "-m", "designer", "check", "--root", str(project)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = line_of(project, "domain.yml", 'payload: "/afirm"')
    assert f"domain.yml:{line}: response utter_ask_cancel_confirmed" in proc.stdout
    assert "    fix: " in proc.stdout and "problem(s) found." in proc.stdout
