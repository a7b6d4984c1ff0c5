"""Finding, exporting and erasing one customer, against a real Redis written by the product's
own stores (the same on the whole stack: tests/e2e/test_privacy.py)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List

import pytest

from handoff import metrics, notes
from handoff.callbacks import Callbacks
from handoff.conversation import ConversationStore, State
from handoff.journal import Journal
from handoff.keys import RASA_KEYS
from handoff.metrics import Recorder
from handoff.orders.approvals import Approvals
from handoff.privacy import audit
from handoff.privacy.desk import Desk
from handoff.privacy.export import render_html
from handoff.privacy.finder import BadQuery, Query
from handoff.privacy.retention import Retention
from handoff.profiles import ProfileStore, identity
from handoff.rasa_api import RasaUnavailable
from handoff.relay.consoles import keep_contact
from handoff.service.insights.dashboard import figures
from handoff.service.insights.knowledge import GoodAnswers
from handoff.service.insights.periods import parse_period
from handoff.survey import SurveyStore
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.conftest import repo_root
from tests.privacy_scan import traces

pytestmark = pytest.mark.integration


@dataclass
class Person:
    """One customer's identities and words, unique to the test."""

    web: str = field(default_factory=lambda: uuid.uuid4().hex)
    psid: str = field(default_factory=lambda: str(uuid.uuid4().int)[:16])
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def email(self) -> str:
        return f"zoe.{self.tag}@example.org"

    @property
    def phone(self) -> str:
        digits = str(int(self.tag, 16))[-8:].rjust(8, "7")
        return "06 " + " ".join(digits[i:i + 2] for i in range(0, 8, 2))

    @property
    def words(self) -> List[str]:
        return [f"parcel-{self.tag}-lost", f"Quintavalle{self.tag}", f"colis{self.tag}abîmé",
                f"comment{self.tag}", f"note{self.tag}"]

    def said_here(self) -> str:
        return f"My colis{self.tag}abîmé arrived broken"

    def needles(self) -> List[str]:
        return [self.web, self.psid, self.email, self.phone, self.phone.replace(" ", ""),
                *self.words]


async def _rasa_tracker(redis, cid: str, events: List[Dict]) -> None:
    # As Rasa's Redis tracker store writes it (json.dumps: non-ASCII escaped).
    await redis.set(RASA_KEYS.tracker(cid), json.dumps({"events": events, "name": cid}))


async def build_customer(redis, keys, person: Person, at: float) -> None:
    """Messenger first, then the web chat, linked; a handoff with notes, contact details, a
    good answer, a survey with a comment, journal and stream entries; everything ended."""
    store, recorder = ConversationStore(redis, keys), Recorder(redis, keys)
    web, psid = person.web, person.psid
    fb_events = [{**ev.user(f"Hello, my order {person.words[0]}", "order_status", ts=at,
                            channel="messenger"), "sender_id": psid}]
    await _rasa_tracker(redis, psid, fb_events)
    await redis.set(keys.messenger_last_inbound(psid), str(at))
    web_events = [
        ev.user(f"I'm Zoé {person.words[1]}, mail {person.email}, phone {person.phone}",
                "request_human", ts=at + 10),
        ev.bot("Someone will be with you.", ts=at + 11),
        ev.user(person.said_here(), "complaint", ts=at + 20,
                message_id="q1"),
        ev.bot("Sorry! A new one leaves today.", ts=at + 30,
               metadata={"handoff_agent": "marie", "agent": "Marie", "message_id": "a1"}),
    ]
    for event in [*fb_events, *({**e, "sender_id": web} for e in web_events)]:
        await recorder.observe(event)
        await redis.xadd(keys.events_stream, {"event": json.dumps(event)})
    ticket = build_ticket(web, web_events[:1], {"email": person.email, "name": "Zoé"},
                          web_events[0]["parse_data"], Reason.ASKED, now=at + 12)
    await store.enqueue(ticket)
    await store.claim(web, "marie", "Marie")
    await notes.add(redis, keys, web, "marie", "Marie", f"Calls back, {person.words[4]}")
    await keep_contact(redis, keys, web, web_events[0]["text"])
    journal = Journal(redis, keys)
    await journal.record(web, "customer", {"text": web_events[2]["text"]})
    await redis.xadd(keys.relay_stream, {"conversation_id": web,
                                         "event": json.dumps(web_events[2])})
    await redis.xadd(keys.customer_out_stream, {"room": web, "event": "bot_uttered",
                                                "data": json.dumps({"text": "Sorry!"})})
    answers = GoodAnswers(redis, keys)
    await answers.mark(web, {"id": "q1", "text": web_events[2]["text"]},
                       {"id": "a1", "text": "A new one leaves today.", "agent": "marie"},
                       "marie", at=at + 40)
    profiles = ProfileStore(redis, keys)
    await profiles.link(identity("messenger", psid), identity("socketio", web))
    await profiles.move_to_messenger(web, psid)
    await profiles.issue_code(web, "socketio", identity("messenger", psid))
    # An agent acted on an order: a request id, a proven order, a refund waiting for a supervisor.
    await Approvals(redis, keys).request(web, "click-1", "refund", "10235", 8000, "marie",
                                         "Marie")
    await redis.hset(keys.order_requests(web), "click-2", "running")
    await redis.sadd(keys.proven_orders(web), "10235")
    # A call-back on their number (`handoff.callbacks`): its hash, link, place in the list.
    callbacks = Callbacks(redis, keys)
    callback, _ = await callbacks.offer(web, team="orders", language="fr", channel="socketio",
                                        by="marie", by_name="Marie")
    await callbacks.schedule(callback, "now", at + 60, person.phone)
    await store.release(web, "marie", State.CLOSED, resolution="resolved")
    await _rasa_tracker(redis, web, web_events)
    surveys = SurveyStore(redis, keys)
    survey = await surveys.start(conversation_id=web, channel="messenger", language="fr",
                                 closed_by="agent", agent="marie", team="orders",
                                 ticket_id=ticket.ticket_id, asked_at=at + 50)
    await surveys.answer(survey, "csat", "4")
    await surveys.answer(survey, "nps", "9")
    await surveys.answer(survey, "comment", f"Merci {person.words[3]}")
    await redis.sadd(keys.vip_customers, person.email)


@pytest.fixture
def desk(redis, keys):
    return Desk(redis, keys, Retention())


async def _figures(redis, keys, at):
    period = parse_period({"from": time.strftime("%Y-%m-%d", time.gmtime(at - 86400)),
                           "to": time.strftime("%Y-%m-%d", time.gmtime(at + 86400)),
                           "tz": "UTC"}, at, 7)
    return await figures(redis, keys, period, at=at + 3600)


async def test_one_customer_found_by_any_identity_exported_and_erased(redis, keys, desk):
    at = time.time() - 3600
    zoe, other = Person(), Person()
    await build_customer(redis, keys, zoe, at)
    await build_customer(redis, keys, other, at)
    both = {zoe.web, zoe.psid}
    for kind, value in [("web", f"{zoe.web}.signature"), ("messenger", zoe.psid),
                        ("email", zoe.email.upper()), ("phone", "+33 " + zoe.phone[1:]),
                        ("conversation", zoe.psid)]:
        found = await desk.find(Query.of(kind, value))
        assert found.conversations == both, (kind, found)
    assert (await desk.find(Query.of("web", uuid.uuid4().hex))).conversations == set()
    with pytest.raises(BadQuery):
        Query.of("email", "not an address")

    document = await desk.export(Query.of("email", zoe.email), "sam", "DPO-1")
    text = json.dumps(document, ensure_ascii=False)
    for needle in [zoe.web, zoe.psid, zoe.email, zoe.phone, *zoe.words]:
        assert needle in text, needle
    assert other.web not in text and other.words[0] not in text
    held = document["keys"]
    assert held[RASA_KEYS.tracker(zoe.web)]["value"]["events"][0]["text"].startswith("I'm Zoé")
    assert [n["text"] for n in held[keys.notes(zoe.web)]["value"]] == [
        f"Calls back, {zoe.words[4]}"]
    assert held[keys.contact(zoe.web)]["value"] == {"email": zoe.email, "phone": zoe.phone}
    assert [s["csat"] for s in document["dashboard"]["surveys"]] == ["4"]
    assert len(document["dashboard"]["sessions"]) == 2
    assert len(document["dashboard"]["handoffs"]) == 1
    assert {m["key"] for m in document["shared"]} >= {keys.good_answers, keys.vip_customers}
    assert set(document["stream_entries"]) == {keys.events_stream, keys.relay_stream,
                                               keys.tickets_stream,
                                               keys.customer_out_stream}
    page = render_html(document, "fr")
    assert "Vos données détenues" in page and f"colis{zoe.tag}abîmé" in page
    assert f"Merci {zoe.words[3]}" in page and "<script" not in page

    before = await _figures(redis, keys, at)
    erased = await desk.erase(Query.of("web", zoe.web), "sam", None, "DPO-1")
    assert erased.closed == 0 and erased.counts["keys"] > 10
    assert await traces(redis, zoe.needles()) == []
    assert await _figures(redis, keys, at) == before
    # The other customer is untouched, and still found.
    assert {k for k, _ in await traces(redis, other.needles())} >= {
        RASA_KEYS.tracker(other.web), keys.notes(other.web), keys.good_answers}
    assert (await desk.find(Query.of("email", other.email))).conversations == {
        other.web, other.psid}

    again = await desk.erase(Query.of("messenger", zoe.psid), "sam", None)
    assert set(again.counts.values()) == {0}
    log = await audit.entries(redis, keys)
    assert [e["action"] for e in log] == ["erase", "erase", "export"]
    assert log[-1]["by"] == "sam" and log[-1]["reference"] == "DPO-1"
    assert await traces(redis, zoe.needles()) == []  # the audit log names nobody


async def test_a_live_conversation_is_not_erased_without_closing_it(redis, keys, desk):
    zoe = Person()
    await build_customer(redis, keys, zoe, time.time())
    store = ConversationStore(redis, keys)
    ticket = build_ticket(zoe.web, [], {}, {}, Reason.ASKED)
    await store.enqueue(ticket)
    with pytest.raises(RasaUnavailable):
        await desk.erase(Query.of("web", zoe.web), "sam", None)
    assert await redis.exists(RASA_KEYS.tracker(zoe.web))  # nothing erased
    assert (await audit.entries(redis, keys)) == []


async def test_handoff_records_stay_counted(redis, keys, desk):
    """The dashboard's handoff records survive the erasure under a new id, with no owner."""
    zoe = Person()
    at = time.time() - 60
    await build_customer(redis, keys, zoe, at)
    await desk.erase(Query.of("web", zoe.web), "sam", None)
    records = await metrics.Records(redis, keys).handoffs(at - 60, at + 60)
    assert len(records) == 1
    assert records[0]["conversation_id"] == "" and records[0]["ticket_id"].startswith("erased-")
    assert records[0]["agent"] == "marie" and records[0]["outcome"] == "closed"
    surveys = await SurveyStore(redis, keys).between(at - 60, at + 60)
    assert [(s["csat"], s["nps"], s["comment"], s["conversation_id"]) for s in surveys] == [
        ("4", "9", "", "")]


def _cli(redis_server, keys, *args: str) -> "subprocess.CompletedProcess[str]":
    env = {**os.environ, "REDIS_URL": redis_server.url, "HANDOFF_KEY_PREFIX": keys.prefix,
           "LANG": "C"}
    return subprocess.run([sys.executable, "-m", "handoff.privacy", *args], cwd=repo_root(),
                          env=env, capture_output=True, text=True, timeout=120)


async def test_the_operators_command(redis, redis_server, keys, tmp_path):
    zoe = Person()
    await build_customer(redis, keys, zoe, time.time())
    out = tmp_path / "request"
    done = await asyncio.to_thread(_cli, redis_server, keys, "export", "--email", zoe.email,
                                   "--out", str(out), "--language", "fr")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Écrits :")
    files = {p.name: p for p in out.iterdir()}
    assert set(files) == {"customer-data.json", "customer-data.html"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files.values()} == {0o600}
    assert zoe.said_here() in files["customer-data.json"].read_text()
    assert "Vos données" in files["customer-data.html"].read_text()

    refused = await asyncio.to_thread(_cli, redis_server, keys, "erase", "--phone", "12")
    assert refused.returncode == 2 and "Give one identity" in refused.stderr
    refused = await asyncio.to_thread(_cli, redis_server, keys, "erase", "--web", zoe.web,
                                      "--reference", f"asked by {zoe.email}")
    assert refused.returncode == 2 and "naming neither the customer" in refused.stderr
    done = await asyncio.to_thread(_cli, redis_server, keys, "erase", "--web", zoe.web,
                                   "--reference", "DPO-7")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Erased: ") and "live conversations closed: 0" in done.stdout
    assert await traces(redis, zoe.needles()) == []
    log = await asyncio.to_thread(_cli, redis_server, keys, "audit")
    assert [json.loads(line)["action"] for line in log.stdout.splitlines()] == ["erase",
                                                                              "export"]
