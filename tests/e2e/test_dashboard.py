"""The supervisor dashboard on the real stack (issue 8): scripted conversations whose right
figures the test knows, read back from `GET /api/dashboard` and its CSV export.

The period asked for is exact times around the script (`from`/`to` as ISO times), so that
conversations of other tests in the same session do not count.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import time
import uuid
from typing import Any, Dict
from urllib.parse import urlencode

import pytest
from redis.asyncio import Redis

from handoff.keys import Keys
from handoff.metrics import Records
from tests.conftest import PASSWORD
from tests.e2e.conftest import AgentClient, MessengerCustomer, create_account, rasa_tracker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # the first test starts the stack


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat()


def _is_question(message: Dict[str, Any]) -> bool:
    return any(str(q.get("payload", "")).startswith("survey:")
               for q in message.get("quick_replies") or [])


def _choice(message: Dict[str, Any], title: str) -> str:
    return next(q["payload"] for q in message["quick_replies"] if q["title"] == title)


async def _bot_answered(stack, cid: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = (await rasa_tracker(stack, cid))["events"]
        if any(e["event"] == "bot" for e in events):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the bot never answered {cid}")


async def _handoff(customer, agent, text: str, reply: str) -> Dict[str, float]:
    """The customer asks, `agent` claims and replies; the times the test saw around it."""
    asked = time.time()
    await customer.say(text)
    await customer.reply()
    status, body = await agent.post(f"/api/conversations/{customer.session_id}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    status, body = await agent.post(f"/api/conversations/{customer.session_id}/messages",
                                    {"text": reply})
    assert status == 202, body
    replied = time.time()
    await customer.reply(lambda m: m.get("text") == reply)
    return {"asked": asked, "replied": replied}


async def _answer_survey(customer, csat: str, nps: str) -> None:
    question = await customer.reply(_is_question)
    await customer.say(_choice(question, csat))
    question = await customer.reply(_is_question)
    await customer.say(_choice(question, nps))
    question = await customer.reply(_is_question)  # the comment offer
    await customer.say(_choice(question, "No thanks"))


async def _dashboard(agent, start: float, end: float) -> "tuple[int, Any]":
    return await agent.get("/api/dashboard?" + urlencode({"from": _iso(start), "to": _iso(end)}))


async def test_dashboard_figures_of_a_scripted_set_of_conversations(stack, agents, graph,
                                                                    customer_factory):
    marie, paul, sam = agents["marie"], agents["paul"], agents["sam"]
    start = time.time()

    # Two conversations the bot settles alone: web (an order question) and Messenger.
    web_bot = await customer_factory()
    await web_bot.say("where is my order 10234")
    await web_bot.reply()
    psid = f"dash-{uuid.uuid4().hex[:10]}"
    await MessengerCustomer(stack, psid).say("hello")
    await _bot_answered(stack, psid)

    # Three handoffs: asked (closed, CSAT 5, NPS 10), complaint (closed, CSAT 2, NPS 3),
    # asked (handed back to the bot by the agent, no survey).
    first, second, third = [await customer_factory() for _ in range(3)]
    seen = [await _handoff(first, marie, "I want to talk to a human", "Hello, Marie here."),
            await _handoff(second, paul, "I want to make a complaint", "Paul here, sorry!"),
            await _handoff(third, marie, "I want to talk to a human", "Marie again.")]
    for customer, agent, csat, nps in ((first, marie, "5", "10"), (second, paul, "2", "3")):
        status, body = await agent.post(f"/api/conversations/{customer.session_id}/close", {})
        assert status == 200, body
        await _answer_survey(customer, csat, nps)
    status, body = await marie.post(f"/api/conversations/{third.session_id}/handback", {})
    assert status == 200, body
    end = time.time() + 1

    # Agents may not see it; the period must make sense.
    status, body = await marie.get("/api/dashboard")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await marie.get("/api/dashboard.csv")
    assert status == 403
    status, body = await sam.get("/api/dashboard?from=2024-05-02&to=2024-05-01")
    assert (status, body["error"]["code"]) == (400, "bad_range")
    status, body = await sam.get("/api/dashboard?from=yesterday")
    assert (status, body["error"]["code"]) == (400, "bad_date")

    # Sessions are recorded by the relay worker from the event stream: wait until all five are.
    deadline = time.monotonic() + 30
    while True:
        status, found = await _dashboard(sam, start, end)
        assert status == 200, found
        if found["conversations"]["total"] >= 5 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)

    conversations = found["conversations"]
    assert (conversations["total"], conversations["contained"],
            conversations["handed_off"]) == (5, 2, 3)
    assert conversations["containment"] == 0.4
    assert conversations["by_channel"] == {"messenger": 1, "socketio": 4}
    handoffs = found["handoffs"]
    assert handoffs["total"] == 3 and handoffs["rate"] == 0.6
    assert {r["reason"]: r["count"] for r in handoffs["by_reason"]} == {"asked": 2,
                                                                        "complaint": 1}
    assert {r["intent"]: (r["conversations"], r["handed_off"])
            for r in handoffs["by_intent"]} == {"order_status": (1, 0)}
    assert handoffs["outcomes"] == {"closed": 2, "handed_back": 1}
    assert found["queue"] == {"handoffs": 3, "abandoned": 0, "abandonment_rate": 0.0,
                              "cancelled": 0}

    # Waits and handling times: exactly those of the records, within what the test saw.
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        records = await Records(redis, Keys()).handoffs(start, end)
    finally:
        await redis.close(close_connection_pool=True)
    assert len(records) == len(seen)
    waits = sorted(float(r["first_reply_at"]) - float(r["queued_at"]) for r in records)
    for record, times in zip(sorted(records, key=lambda r: float(r["queued_at"])), seen,
                             strict=True):
        assert times["asked"] <= float(record["queued_at"]) <= float(record["first_reply_at"]) \
            <= times["replied"]
    wait = found["first_reply_wait"]
    assert wait["count"] == 3 and wait["median"] == round(waits[1], 3)
    assert wait["p90"] == round(waits[1] + 0.8 * (waits[2] - waits[1]), 3)
    assert max(wait["p90"], wait["median"]) <= max(t["replied"] - t["asked"] for t in seen)
    assert found["handling_time"]["count"] == 3
    assert 0 < found["handling_time"]["median"] <= end - start

    satisfaction = found["satisfaction"]
    assert (satisfaction["surveys"], satisfaction["answered"]) == (2, 2)
    assert satisfaction["csat"]["average"] == 3.5
    assert satisfaction["nps"] == {"answers": 2, "score": 0.0, "promoters": 1, "passives": 0,
                                   "detractors": 1}
    assert sum(t["csat"]["answers"] for t in satisfaction["by_team"]) == 2

    # The CSV export says the same, as a file.
    query = urlencode({"from": _iso(start), "to": _iso(end)})
    async with sam.http.get(f"{sam.base}/api/dashboard.csv?{query}") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/csv")
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="dashboard_')
        rows = list(csv.reader(io.StringIO(await resp.text())))
    values = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert values[("conversations", "total", "")] == "5"
    assert values[("conversations", "containment", "")] == "0.4"
    assert values[("conversations", "by_channel", "messenger")] == "1"
    assert values[("handoffs", "count_by_reason", "complaint")] == "1"
    assert values[("handoffs", "outcomes", "handed_back")] == "1"
    assert float(values[("first_reply_wait", "median_seconds", "")]) == wait["median"]
    assert values[("satisfaction", "nps", "")] == "0.0"


async def test_enps_is_asked_once_and_shown_only_from_three_answers(stack, agents):
    marie, paul, sam = agents["marie"], agents["paul"], agents["sam"]
    status, body = await marie.get("/api/enps")
    assert status == 200 and body["ask"] is True
    for agent, answer in ((marie, {"score": 11}), (marie, {"score": "9"}), (marie, {})):
        status, body = await agent.post("/api/enps", answer)
        assert (status, body["error"]["code"]) == (400, "bad_score")
    assert (await marie.post("/api/enps", {"score": 9}))[0] == 201
    status, body = await marie.post("/api/enps", {"score": 2})
    assert (status, body["error"]["code"]) == (409, "already_answered")
    assert (await marie.get("/api/enps"))[1]["ask"] is False
    assert (await paul.post("/api/enps", {"score": 3}))[0] == 201

    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    status, found = await sam.get(f"/api/dashboard?from={today}&to={today}")
    [month] = found["enps"]["periods"]
    assert (month["answers"], month["score"], month["shown"]) == (2, None, False)
    assert (await sam.post("/api/enps", {"dismiss": True}))[0] == 201  # not counted
    status, found = await sam.get(f"/api/dashboard?from={today}&to={today}")
    assert found["enps"]["periods"][0]["answers"] == 2
    # A third agent answers: now the month shows, 1 promoter and 1 detractor of 3 = 0.
    create_account(stack, "lea", "Léa", PASSWORD, "agent", "orders")
    lea = AgentClient(stack.handoff_url)
    try:
        await lea.login("lea", PASSWORD)
        assert (await lea.post("/api/enps", {"score": 8}))[0] == 201
    finally:
        await lea.close()
    status, found = await sam.get(f"/api/dashboard?from={today}&to={today}")
    [month] = found["enps"]["periods"]
    assert (month["answers"], month["score"], month["shown"]) == (3, 0.0, True)
    assert "marie" not in str(found["enps"]) and "paul" not in str(found["enps"])


async def test_right_now_and_waits_that_count_those_not_answered(stack, agents,
                                                                customer_factory):
    sam, marie = agents["sam"], agents["marie"]
    status, _ = await marie.get("/api/dashboard/now")
    assert status == 403  # supervisors only
    await marie.connect_ws()  # a console open: Marie is online
    start = time.time()
    customer = await customer_factory()
    await customer.say("I want to talk to a human")
    await customer.reply(lambda m: "queue" in (m.get("text") or ""))
    status, body = await sam.get("/api/dashboard/now")
    assert status == 200, body
    now = body["now"]
    _, queue = await sam.get("/api/queue")
    assert now["waiting"] == len(queue["tickets"]) >= 1
    assert now["longest_wait"] > 0
    assert now["agents_online"] >= 1 and now["agents_busy"] <= now["agents_online"]
    query = urlencode({"from": _iso(start - 1), "to": _iso(time.time() + 1), "tz": "UTC"})
    status, found = await sam.get(f"/api/dashboard?{query}")
    assert status == 200, found
    # Nobody answered yet: no first-reply wait, but the customer's wait counts.
    assert found["first_reply_wait"]["count"] == 0
    assert found["waited"]["count"] == 1 and found["waited"]["median"] > 0
    status, _ = await marie.post(f"/api/conversations/{customer.session_id}/claim", {})
    assert status == 200
    status, _ = await marie.post(f"/api/conversations/{customer.session_id}/close", {})
    assert status == 200
