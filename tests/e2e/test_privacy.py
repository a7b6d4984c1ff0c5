"""One customer's data under the GDPR on the whole stack (issue 19): exported, then erased.

A customer writes on Messenger (handed to an agent, a note, closed), then on the web chat: a
handoff where they give their name, e-mail address and phone number, an agent's answer marked
as a good answer, a note, a hand-back, the transcript e-mailed to them, a second handoff moved
to Messenger with a link code (the two identities linked), closed, and the survey answered with
a comment. A supervisor exports everything (every piece is in it), then erases them: afterwards
no Redis key, value or stream entry, no file of Redis's, and no log line of any process holds
their ids or words (an independent scan, tests/privacy_scan.py), and the dashboard's figures for
the day are the same. Mail already delivered and the Graph API's copy are the customer's and
Facebook's, not the product's: they are not scanned.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest
from redis.asyncio import Redis

from handoff.keys import RASA_KEYS, Keys
from handoff.survey import parse_payload
from tests.e2e.conftest import MessengerCustomer, tracker_with, with_an_agent
from tests.privacy_scan import file_traces, rewritten, traces

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FIGURES = ("conversations", "handoffs", "first_reply_wait", "handling_time", "queue",
           "satisfaction", "series")  # all but `waited`, which runs on with the clock


class Zoe:
    """The customer: identities and words unique to this run."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.psid = str(uuid.uuid4().int)[:16]
        self.web = ""
        self.email = f"zoe.{self.tag}@example.org"
        digits = str(int(self.tag, 16)).rjust(8, "4")[-8:]
        self.phone = "06 " + " ".join(digits[i:i + 2] for i in range(0, 8, 2))
        self.name = f"Quintavalle{self.tag}"
        self.said = {
            "fb_first": f"Hello, my parcel {self.tag}A is late",
            "details": f"I'm Zoé {self.name}, write to {self.email} or call {self.phone}",
            "question": f"Can I return the lamp{self.tag} I bought last week?",
            "fb_moved": f"Hello from Messenger, about lamp{self.tag} again",
            "comment": f"Great help with the lamp{self.tag}",
        }
        self.agent_said = f"Yes: the lamp{self.tag} can go back within 30 days."
        self.notes = [f"Parcel {self.tag}A: asked the carrier", f"{self.name} prefers e-mail"]

    def needles(self) -> List[str]:
        return [self.web, self.psid, self.email, self.phone, self.phone.replace(" ", ""),
                self.name, self.tag, *self.said.values(), self.agent_said, *self.notes]


def _survey_questions(graph, psid: str) -> List[Dict[str, Any]]:
    return [m["message"] for m in graph.messages(psid)
            if any(parse_payload(q.get("payload")) for q in m["message"].get("quick_replies")
                   or [])]


async def _answer_on_messenger(graph, messenger: MessengerCustomer, seen: int,
                               comment: str) -> None:
    """Answers the survey that follows the `seen` questions already asked on Messenger."""
    async def question(n: int) -> Dict[str, str]:
        await graph.wait_for(lambda _: len(_survey_questions(graph, messenger.psid)) > n)
        return {q["title"]: q["payload"]
                for q in _survey_questions(graph, messenger.psid)[n]["quick_replies"]}

    await messenger.say("4", quick_reply=(await question(seen))["4"])
    await messenger.say("9", quick_reply=(await question(seen + 1))["9"])
    offer = await question(seen + 2)
    await messenger.say("Add a comment", quick_reply=offer["Add a comment"])
    await graph.wait_for(lambda _: any("comment in one message" in m["message"].get("text", "")
                                       for m in graph.messages(messenger.psid)))
    await messenger.say(comment)
    await graph.wait_for(lambda _: any(m["message"].get("text", "").startswith(
        "Thank you for your answers") for m in graph.messages(messenger.psid)))


async def _their_life(stack, graph, agents, customer_factory, mailbox, zoe: Zoe) -> None:
    marie = agents["marie"]
    await marie.connect_ws()
    messenger = MessengerCustomer(stack, zoe.psid)
    # On Messenger first: a person helps, with an internal note.
    await messenger.say(zoe.said["fb_first"])
    await graph.wait_for(lambda _: len(graph.messages(zoe.psid)) >= 1)
    await messenger.say("I want to talk to a human")
    await marie.frame(lambda f: f["type"] == "ticket.queued"
                      and f["ticket"]["conversation_id"] == zoe.psid)
    assert (await marie.post(f"/api/conversations/{zoe.psid}/claim", {}))[0] == 200
    status, _ = await marie.post(f"/api/conversations/{zoe.psid}/notes", {"text": zoe.notes[0]})
    assert status == 201
    assert (await marie.post(f"/api/conversations/{zoe.psid}/close", {}))[0] == 200
    await graph.wait_for(lambda _: len(_survey_questions(graph, zoe.psid)) >= 1)

    # Then on the web chat.
    customer = await customer_factory()
    zoe.web = customer.session_id
    await with_an_agent(customer, marie)
    for key in ("details", "question"):
        await customer.say(zoe.said[key])
        await marie.frame(lambda f, text=zoe.said[key]: f["type"] == "message"
                          and f["turn"].get("text") == text)
    status, sent = await marie.post(f"/api/conversations/{zoe.web}/messages",
                                    {"text": zoe.agent_said})
    assert status == 202
    await customer.reply(lambda m: m.get("agent_message_id") == sent["message"]["id"])
    status, body = await marie.post(f"/api/conversations/{zoe.web}/good-answers",
                                    {"turn_id": sent["message"]["id"]})
    assert status == 201, body
    status, _ = await marie.post(f"/api/conversations/{zoe.web}/notes", {"text": zoe.notes[1]})
    assert status == 201
    assert (await marie.post(f"/api/conversations/{zoe.web}/handback", {}))[0] == 200
    await customer.reply(lambda m: m.get("notice") == "handed_back")

    await customer.say(f"please email the transcript to {zoe.email}")
    await customer.reply(lambda m: "transcript" in m.get("text", ""))
    await mailbox.wait_for(zoe.email)

    # A second handoff, moved to Messenger: the web and Messenger identities are linked.
    await customer.say("I want to talk to a human")
    await customer.reply()
    assert (await marie.post(f"/api/conversations/{zoe.web}/claim", {}))[0] == 200
    status, moved = await marie.post(f"/api/conversations/{zoe.web}/move", {"to": "messenger"})
    assert status == 200, moved
    assert await messenger.post(messenger.event(referral=moved["code"])) == 200
    await graph.wait_for(lambda _: any("we continue here" in m["message"].get("text", "")
                                       for m in graph.messages(zoe.psid)))
    await messenger.say(zoe.said["fb_moved"])
    await marie.frame(lambda f: f["type"] == "message" and f["conversation_id"] == zoe.web
                      and f["turn"].get("text") == zoe.said["fb_moved"])
    asked = len(_survey_questions(graph, zoe.psid))
    assert (await marie.post(f"/api/conversations/{zoe.web}/close", {}))[0] == 200
    await _answer_on_messenger(graph, messenger, asked, zoe.said["comment"])
    await tracker_with(stack, zoe.web, lambda events: any(
        e.get("text") == zoe.said["fb_moved"] for e in events))
    await customer.close()  # the page's heartbeat would otherwise say it is still open


async def _figures(sam) -> Dict[str, Any]:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    status, body = await sam.get(f"/api/dashboard?from={today}&to={today}&tz=UTC")
    assert status == 200, body
    return {name: body[name] for name in FIGURES}


async def _files_without(paths, needles, timeout: float = 30) -> List:
    # Redis removes the files a rewrite replaced in a background thread: a little later.
    deadline = time.monotonic() + timeout
    while True:
        found = file_traces(paths(), needles)
        if not found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_a_customer_of_web_and_messenger_is_exported_then_erased(
        stack, graph, agents, customer_factory, mailbox):
    zoe, sam = Zoe(), agents["sam"]
    reference = f"DPO-{uuid.uuid4().hex[:6]}"  # the operator's own request number
    await _their_life(stack, graph, agents, customer_factory, mailbox, zoe)
    keys = Keys()

    # Found by any of their identities, on both channels.
    for kind, value in (("email", zoe.email), ("phone", "+33 " + zoe.phone[1:]),
                        ("messenger", zoe.psid), ("web", zoe.web)):
        status, body = await sam.post("/api/privacy/find", {"kind": kind, "value": value})
        assert status == 200, body
        assert body["customer"]["conversations"] == sorted([zoe.web, zoe.psid]), (kind, body)
    status, body = await agents["marie"].post("/api/privacy/find",
                                              {"kind": "email", "value": zoe.email})
    assert status == 403  # supervisors only

    # The export holds every piece.
    status, export = await sam.post("/api/privacy/export", {
        "kind": "phone", "value": zoe.phone, "reference": reference})
    assert status == 200, export
    held = export["keys"]
    web_texts = [e.get("text") for e in held[RASA_KEYS.tracker(zoe.web)]["value"]["events"]]
    for key in ("details", "question", "fb_moved"):
        assert zoe.said[key] in web_texts, key
    # A survey comment never reaches Rasa: it is in the journal and the survey.
    assert zoe.said["comment"] in str(held[keys.journal(zoe.web)]["value"])
    assert zoe.agent_said in web_texts
    assert any(f"transcript to {zoe.email}" in (t or "") for t in web_texts)
    assert held[keys.transcript_mails(zoe.web)]["value"] == "1"
    assert zoe.said["fb_first"] in [e.get("text") for e in
                                    held[RASA_KEYS.tracker(zoe.psid)]["value"]["events"]]
    notes = [n["text"] for key in (keys.notes(zoe.psid), keys.notes(zoe.web))
             for n in held[key]["value"]]
    assert notes == zoe.notes
    assert held[keys.contact(zoe.web)]["value"] == {"email": zoe.email, "phone": zoe.phone}
    tickets = [v["value"] for k, v in held.items() if k.startswith(keys.ticket(""))]
    assert sorted(t["conversation_id"] for t in tickets) == sorted([zoe.psid, zoe.web,
                                                                   zoe.web])
    assert keys.profile_of(f"socketio:{zoe.web}") in held
    assert held[keys.messenger_alias(zoe.psid)]["value"] == zoe.web
    good = [m["value"] for m in export["shared"] if m["key"] == keys.good_answers]
    assert [(g["question"], g["answer"]) for g in good] == [(zoe.said["question"],
                                                            zoe.agent_said)]
    surveys = export["dashboard"]["surveys"]
    assert [(s["csat"], s["nps"], s["comment"]) for s in surveys
            if s["csat"]] == [("4", "9", zoe.said["comment"])]
    assert len(surveys) == 2  # the first one, on Messenger, was left unanswered
    assert len(export["dashboard"]["handoffs"]) == 3
    assert export["stream_entries"]  # events, relay, tickets... entries that name them
    status, page = await _html(sam, zoe.email)
    assert status == 200 and zoe.said["details"].replace("'", "&#x27;") in page
    assert "Vos données détenues par notre service client" in page

    before = await _figures(sam)
    status, erased = await sam.post("/api/privacy/erase", {
        "kind": "email", "value": zoe.email, "reference": reference})
    assert status == 400 and erased["error"]["code"] == "confirm_erasure"
    status, erased = await sam.post("/api/privacy/erase", {
        "kind": "email", "value": zoe.email, "confirm": True,
        "reference": f"request of {zoe.email}"})  # would outlive the erasure in the audit log
    assert status == 400 and erased["error"]["code"] == "bad_request"
    status, erased = await sam.post("/api/privacy/erase", {
        "kind": "email", "value": zoe.email, "confirm": True, "reference": reference})
    assert status == 200, erased
    assert erased["closed"] == 0 and erased["counts"]["keys"] > 20

    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        assert await traces(redis, zoe.needles()) == []
        await rewritten(redis)
    finally:
        await redis.close(close_connection_pool=True)
    assert await _figures(sam) == before
    data_dir = Path(stack.run_dir) / "redis"
    # Other customers' stream entries shared nodes with Zoé's (the whole suite's traffic):
    # the eraser rebuilt those streams, so the rewritten files hold nothing of hers either.
    assert await _files_without(lambda: [p for p in data_dir.rglob("*") if p.is_file()],
                                zoe.needles()) == []
    logs = sorted(Path(stack.run_dir).glob("*.log"))
    assert len(logs) >= 4
    assert file_traces(logs, zoe.needles()) == []
    # The handoff service ran its retention job (one pass per hour; the first at start).
    handoff_log = (Path(stack.run_dir) / "handoff.log").read_text(errors="replace")
    assert "retention.pass.start conversations_days=90.0 records_days=730.0" in handoff_log
    assert "retention.pass.done " in handoff_log

    # Again: nothing left to erase; the audit log says what was done, and names nobody.
    status, again = await sam.post("/api/privacy/erase", {
        "kind": "messenger", "value": zoe.psid, "confirm": True})
    assert status == 200 and set(again["counts"].values()) <= {0}
    status, log = await sam.get("/api/privacy/audit")
    mine = [e for e in log["entries"] if e["reference"] == reference]
    assert [e["action"] for e in mine] == ["erase", "export"]  # (the HTML export had none)
    assert {e["by"] for e in mine} == {"sam"}


async def _html(sam, email: str) -> "tuple[int, str]":
    async with sam.http.post(f"{sam.base}/api/privacy/export", json={
            "kind": "email", "value": email, "format": "html", "language": "fr"}) as resp:
        return resp.status, await resp.text()


async def test_erasing_a_customer_in_a_live_conversation_closes_it_and_tells_them(
        stack, agents, customer_factory):
    marie, sam = agents["marie"], agents["sam"]
    customer = await customer_factory()
    cid = customer.session_id
    await customer.say("Je veux parler à un conseiller")
    await customer.reply()
    assert (await marie.post(f"/api/conversations/{cid}/claim", {}))[0] == 200
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    words = f"mon colis {uuid.uuid4().hex[:10]} est perdu"
    await customer.say(words)

    status, erased = await sam.post("/api/privacy/erase", {
        "kind": "web", "value": customer.token, "confirm": True})
    assert status == 200, erased
    assert erased["closed"] == 1
    told = await customer.reply(lambda m: m.get("notice") == "data_erased")
    assert told["text"].startswith("Comme vous l'avez demandé, nous effaçons")
    status, body = await marie.get(f"/api/conversations/{cid}")
    assert status == 404  # nothing left to show
    # Their page was still open, and its heartbeat says so (`customers:seen`): a visit after
    # the erasure. Once they leave, a second erasure (or retention) removes that too.
    await customer.close()
    status, again = await sam.post("/api/privacy/erase", {
        "kind": "web", "value": cid, "confirm": True})
    assert status == 200 and again["closed"] == 0
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        assert await traces(redis, [cid, words]) == []
    finally:
        await redis.close(close_connection_pool=True)


async def test_erasing_a_messenger_customer_in_a_live_conversation_tells_them_there(
        stack, graph, agents):
    marie, sam = agents["marie"], agents["sam"]
    await marie.connect_ws()
    psid = str(uuid.uuid4().int)[:16]
    messenger = MessengerCustomer(stack, psid)
    await messenger.say("I want to talk to a human")
    await marie.frame(lambda f: f["type"] == "ticket.queued"
                      and f["ticket"]["conversation_id"] == psid)
    assert (await marie.post(f"/api/conversations/{psid}/claim", {}))[0] == 200
    words = f"my parcel {uuid.uuid4().hex[:10]} is lost"
    await messenger.say(words)
    await marie.frame(lambda f: f["type"] == "message" and f["turn"].get("text") == words)

    status, erased = await sam.post("/api/privacy/erase", {
        "kind": "messenger", "value": psid, "confirm": True})
    assert status == 200 and erased["closed"] == 1, erased
    told = [m["message"].get("text", "") for m in graph.messages(psid)]
    assert any(t.startswith("As you asked, we are erasing your conversations") for t in told)
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        assert await traces(redis, [psid, words]) == []
    finally:
        await redis.close(close_connection_pool=True)
