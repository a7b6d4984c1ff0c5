"""The miner's API against the real stack (issue 8): scripted handed-off conversations whose
customer messages the test knows come back grouped, masked, with the good answer an agent
marked; the export is a Rasa NLU file; supervisors only; bad input is refused clearly."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
from typing import Any, Dict, List, Optional

import pytest
import yaml

from stack.model import ROOT
from stack.services import Stack
from tests.e2e.conftest import AgentClient, Customer, rasa_tracker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def stack(quiet_stack: Stack) -> Stack:
    """The miner's own stack (tests/e2e/conftest.py `quiet_stack`): only this module's and the
    other miner module's conversations are mined."""
    return quiet_stack


E_MAIL = "jane.umbrella@example.org"
# One per conversation, each written to the agent during the handoff. Rasa's NLU still
# classifies them; the miner leaves out messages of "venting" or "giving details" intents
# (handoff.service.insights.miner.source.NOT_QUESTIONS) unless they are questions of three words or
# more.
UMBRELLA = [
    "Do you sell umbrellas?",
    "Can I buy a folding umbrella?",
    f"My umbrella broke after two days, is it covered by a guarantee? My e-mail is {E_MAIL}",
    "Which umbrella colours do you have?",
]
MASKED = [text.replace(E_MAIL, "[email]") for text in UMBRELLA]
PARAPLUIE = ["Vous vendez des parapluies ?", "Le parapluie bleu résiste au vent ?",
             "Mon parapluie est cassé au bout de deux jours, vous le remplacez ?"]
REPLY = "Yes: every umbrella in the shop is guaranteed one year."


async def _until_recorded(stack, cid: str, text: str) -> None:
    for _ in range(300):  # bounded: 30 s
        events = (await rasa_tracker(stack, cid))["events"]
        if any(e.get("event") == "user" and e.get("text") == text for e in events):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Rasa never recorded {text!r}")


async def _handed_off(stack, agent: AgentClient, customer: Customer, ask_human: str,
                      question: str, reply: Optional[str] = None) -> None:
    """A conversation handed to `agent`, the customer's question, the agent's reply marked as a
    good answer, then closed (agents hold at most 5 conversations at once)."""
    cid = customer.session_id
    await customer.say(ask_human)
    await customer.reply()
    status, body = await agent.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    await customer.say(question)
    await _until_recorded(stack, cid, question)
    if reply is not None:
        status, sent = await agent.post(f"/api/conversations/{cid}/messages", {"text": reply})
        assert status == 202, sent
        await customer.reply(lambda m: m.get("agent_message_id") == sent["message"]["id"])
        status, body = await agent.post(f"/api/conversations/{cid}/good-answers",
                                        {"turn_id": sent["message"]["id"]})
        assert status == 201, body
    status, body = await agent.post(f"/api/conversations/{cid}/close", {})
    assert status == 200, body


def _assistant_digest() -> str:
    """What a change of the assistant would touch, as it is in this checkout."""
    digest = hashlib.sha256()
    for path in sorted([ROOT / "domain.yml", ROOT / "handoff" / "teams.yml",
                        *(ROOT / "data").rglob("*"), *(ROOT / "tests" / "stories").rglob("*")]):
        if path.is_file():
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


async def _ready(sam: AgentClient, query: str) -> Dict[str, Any]:
    for _ in range(240):  # bounded: about 2 minutes
        status, body = await sam.get(f"/api/miner/groups?{query}")
        assert status in (200, 202), body
        if status == 200:
            return body
        assert body["status"] == "running" and body["stage"] in ("reading", "analysing")
        await asyncio.sleep(0.5)
    raise AssertionError("the miner never finished")


def _group_with(groups: List[Dict[str, Any]], word: str) -> Dict[str, Any]:
    found = [g for g in groups if any(word in e.lower() for e in g["examples"])]
    assert len(found) == 1, [g["examples"] for g in groups]
    return found[0]


async def _get(client: AgentClient, path: str, language: str = "en") -> "tuple[int, Any, Any]":
    async with client.http.get(f"{client.base}{path}",
                               headers={"Accept-Language": language}) as resp:
        text = await resp.text()
        return resp.status, resp.headers, text


# pykwalify (Rasa's YAML schema check) calls the deprecated SourceFileLoader.load_module().
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
async def test_supervisors_see_masked_groups_with_good_answers_and_export_them(
        stack, agents, customer_factory):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    marie, sam = agents["marie"], agents["sam"]
    for n, question in enumerate(UMBRELLA):
        await _handed_off(stack, marie, await customer_factory(), "I want to talk to a human",
                          question, REPLY if n == 1 else None)
    for question in PARAPLUIE:
        await _handed_off(stack, marie, await customer_factory(),
                          "Je veux parler à un conseiller", question)

    # --- Agents may not mine. ---
    status, body = await marie.get("/api/miner/groups")
    assert status == 403 and body["error"]["code"] == "forbidden", body
    status, body = await marie.get("/api/miner/groups/1/export")
    assert status == 403 and body["error"]["code"] == "forbidden", body

    # --- A new analysis answers at once with its progress; the page asks again. ---
    status, body = await sam.get("/api/miner/groups?language=en&refresh=1&wait=0")
    assert status == 202 and body["status"] == "running", body
    shown = await _ready(sam, "language=en")
    assert {g["language"] for g in shown["groups"]} == {"en"}
    # Without dates: the last 30 days, today included, in UTC without `tz`.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    assert {k: shown["period"][k] for k in ("from", "to", "tz")} == {
        "from": str(today - datetime.timedelta(days=29)), "to": str(today), "tz": "UTC"}
    assert shown["period"]["end"] - shown["period"]["start"] == 30 * 86400
    umbrella = _group_with(shown["groups"], "umbrella")
    assert sorted(e for e in umbrella["examples"] if "umbrella" in e.lower()) == sorted(MASKED)
    assert umbrella["volume"] >= len(UMBRELLA) and umbrella["conversations"] >= len(UMBRELLA)
    assert umbrella["handling_time_total"] > 0
    assert any("umbrella" in phrase.lower() for phrase in umbrella["typical"])
    assert E_MAIL not in json.dumps(shown)
    # The good answer Marie marked is the group's candidate FAQ entry.
    assert [(p["question"], p["answer"], p["agent"]) for p in umbrella["good_answers"]] == [
        (UMBRELLA[1], REPLY, "marie")]

    # --- The same analysis, ranked by handling time: same groups, same ids. ---
    status, by_handling = await sam.get("/api/miner/groups?language=en&sort=handling")
    assert status == 200 and by_handling["mining_id"] == shown["mining_id"]
    totals = [g["handling_time_total"] for g in by_handling["groups"]]
    assert totals == sorted(totals, reverse=True)
    assert sorted(g["id"] for g in by_handling["groups"]) == sorted(g["id"] for g in
                                                                   shown["groups"])

    # --- French only. ---
    french = await _ready(sam, "language=fr")
    assert {g["language"] for g in french["groups"]} == {"fr"}
    parapluie = _group_with(french["groups"], "parapluie")
    assert sorted(e for e in parapluie["examples"] if "parapluie" in e.lower()) == sorted(
        PARAPLUIE)

    # --- A period read in the supervisor's time zone: May 2024 had no umbrella question. ---
    may = await _ready(sam, "language=en&from=2024-05-01&to=2024-05-31&tz=Europe/Paris")
    assert {k: may["period"][k] for k in ("from", "to", "tz")} == {
        "from": "2024-05-01", "to": "2024-05-31", "tz": "Europe/Paris"}
    assert may["period"]["start"] == datetime.datetime(
        2024, 4, 30, 22, tzinfo=datetime.timezone.utc).timestamp()
    assert not any("umbrella" in e.lower() for g in may["groups"] for e in g["examples"])

    # --- The export: a Rasa NLU file with the examples, masked, and the draft answer. ---
    status, headers, text = await _get(
        sam, f"/api/miner/groups/{umbrella['id']}/export?language=en"
        f"&mining_id={shown['mining_id']}")
    assert status == 200, text
    assert headers["Content-Type"].startswith("application/x-yaml")
    assert headers["Content-Disposition"].startswith("attachment; filename=")
    assert E_MAIL not in text
    document = yaml.safe_load(text)
    intent = document["nlu"][0]["intent"]
    examples = [m.get("text") for m in RasaYAMLReader().reads(text).intent_examples]
    assert set(MASKED) <= set(examples)
    assert document["responses"][f"utter_{intent}"][0]["text"] == REPLY
    status, _, text = await _get(sam, f"/api/miner/groups/{umbrella['id']}/export"
                                      f"?language=en&intent=umbrella_questions")
    assert status == 200 and yaml.safe_load(text)["nlu"][0]["intent"] == "umbrella_questions"

    # --- Accepted as an intent: the change, checked by the designer's check, never written.
    # Four English messages are below the floor of examples in each language: no patch. ---
    before = _assistant_digest()
    status, body = await sam.get(f"/api/miner/groups/{umbrella['id']}/change?language=en"
                                 f"&intent=umbrella_questions&mining_id={shown['mining_id']}"
                                 f"&answer_en={REPLY}")
    assert status == 200, body
    assert body["passed"] is False and body["patch"] is None, body
    assert "data/nlu/umbrella_questions.yml" in body["files"]
    assert [f for f in body["findings"] if f["path"] == "data/nlu/umbrella_questions.yml"
            and "0 French examples" in f["message"] and f["line"] == 5], body["findings"]
    assert [f for f in body["findings"] if "utter_umbrella_questions is a stub" in f["message"]]
    assert _assistant_digest() == before
    status, body = await sam.get(f"/api/miner/groups/{umbrella['id']}/change?language=en"
                                 "&intent=returns")
    assert (status, body["error"]["code"]) == (409, "intent_taken"), body

    # --- Bad input gets a clear error, in the console's language. ---
    for path, code, status_wanted in [
        ("/api/miner/groups?language=de", "bad_language", 400),
        ("/api/miner/groups?from=2024-13-01", "bad_date", 400),
        ("/api/miner/groups?from=2024-05-02&to=2024-05-01", "bad_range", 400),
        ("/api/miner/groups?from=2022-01-01&to=2024-01-01", "bad_range", 400),
        ("/api/miner/groups?tz=120", "bad_timezone", 400),
        ("/api/miner/groups/1/export?to=yesterday", "bad_date", 400),
        ("/api/miner/groups?sort=alphabet", "bad_request", 400),
        ("/api/miner/groups/999/export?language=en", "unknown_group", 404),
        (f"/api/miner/groups/{umbrella['id']}/export?language=en&mining_id=old",
         "groups_changed", 409),
        (f"/api/miner/groups/{umbrella['id']}/export?language=en&intent=%21%21",
         "bad_intent", 400),
    ]:
        status, _, text = await _get(sam, path, "fr")
        error = json.loads(text)["error"]
        assert (status, error["code"]) == (status_wanted, code), (path, text)
        assert error["message"] and not error["message"].startswith(("The ", "No "))
    stranger = AgentClient(stack.handoff_url)
    try:
        status, body = await stranger.get("/api/miner/groups")
        assert status == 401 and body["error"]["code"] == "unauthenticated"
    finally:
        await stranger.close()
