"""Call-backs through the agent API and the customer's page's routes (`/api/callback…`).

Real Redis, the service's app, no Rasa: the conversation is with an agent, so what the customer
is told goes through the outbox, read here with the record each notice carries. Bad input
(a slot in the past, a malformed number, an unknown conversation or link, a double click,
another team's call) gets a clear error in the client's language and changes nothing.
"""

from __future__ import annotations

import json

import pytest

from handoff.callbacks import Callbacks
from handoff.ratelimit import CALLBACK_PAGE
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.conftest import PASSWORD
from tests.integration.service import agents, claimed_by_marie, running_service, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FR = {"Accept-Language": "fr"}


def ticket_for(cid: str, language: str = "en"):
    events = ev.order_conversation()
    return build_ticket(cid, events, {"language": language, "name": "Tom Baker"},
                        events[-1]["parse_data"], Reason.ASKED, now=100.0)


@pytest.fixture
async def claimed(store, redis, keys):
    """`c1`: with the orders team, claimed by Marie; Paul is in orders too, Ann in billing."""
    return await claimed_by_marie(store, redis, keys, ticket_for("c1"), "orders",
                                  paul={"teams": ("orders",)}, ann={"teams": ("billing",)})


async def told(redis, keys):
    """What the customer was told: (notice kind, text, the call-back the record carries)."""
    found = []
    for _, fields in await redis.xrange(keys.outbox_stream):
        extra = json.loads(fields["extra"]) if fields.get("extra") else {}
        found.append((fields["notice"], fields["text"],
                      extra.get("metadata", {}).get("callback")))
    return found


async def offered(marie):
    status, body = await marie.post("/api/conversations/c1/callbacks")
    assert status == 201, body
    return body


async def test_offer_schedule_list_and_outcome_recorded_once(redis_server, redis, keys, claimed):
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 3) as (marie, paul, customer):
        await marie.login("marie", PASSWORD)
        await paul.login("paul", PASSWORD)
        body = await offered(marie)
        token = body["link"].rsplit("/", 1)[1]
        # A second click: the same call-back, nothing told again.
        status, again = await marie.post("/api/conversations/c1/callbacks")
        assert status == 200 and again["callback"]["id"] == body["callback"]["id"]
        assert [kind for kind, _, _ in await told(redis, keys)] == ["callback_offered"]
        assert body["link"] in (await told(redis, keys))[0][1]
        # Paul (same team) cannot see Marie's conversation before a call is scheduled.
        assert (await paul.get("/api/conversations/c1"))[0] == 404

        status, page = await customer.get(f"/api/callback/{token}")
        assert status == 200 and page["language"] == "en" and page["agent"] == "Marie"
        assert page["slots"][0]["id"] == "now"  # the test service is always open
        later = page["slots"][1]
        status, done = await customer.post(f"/api/callback/{token}",
                                           {"slot": later["id"], "phone": "06 12 34 56 78"})
        assert status == 200, done
        assert done["due_at"] == later["starts_at"]
        # The customer clicks twice: told once.
        assert (await customer.post(f"/api/callback/{token}",
                                    {"slot": later["id"], "phone": "06 12 34 56 78"}))[0] == 200
        notices = await told(redis, keys)
        assert [kind for kind, _, _ in notices] == ["callback_offered", "callback_scheduled"]
        assert notices[1][1].startswith("Thank you: we will call you on 06 12 34 56 78, ")
        assert notices[1][2]["status"] == "scheduled"

        status, listed = await paul.get("/api/callbacks")
        assert status == 200 and [c["id"] for c in listed["callbacks"]] == [done_id(body)]
        item = listed["callbacks"][0]
        assert (item["phone"], item["team"], item["language"], item["customer"]) == (
            "06 12 34 56 78", "orders", "en", "Tom Baker")
        assert (await paul.get("/api/callbacks?language=fr"))[1]["callbacks"] == []
        assert (await paul.get("/api/callbacks?team=billing"))[1]["callbacks"] == []
        # Whoever calls sees the whole conversation first.
        status, conversation = await paul.get("/api/conversations/c1")
        assert status == 200 and conversation["conversation"]["transcript"]

        path = f"/api/callbacks/c1/{done_id(body)}/outcome"
        outcome = {"outcome": "no_answer", "note": "rang 8 times", "request_id": "r1"}
        for _ in range(2):  # a double click records and tells once
            status, result = await paul.post(path, outcome)
            assert status == 200, result
        assert (result["callback"]["status"], result["callback"]["done_by"]) == ("done", "paul")
        status, error = await marie.post(path, {**outcome, "request_id": "r2"})
        assert (status, error["error"]["code"]) == (409, "callback_done")
        assert (await paul.get("/api/callbacks"))[1]["callbacks"] == []
        # The one who called still sees it (the outcome in its section); nobody else does.
        status, listed = await paul.get("/api/conversations/c1/callbacks")
        assert status == 200 and listed["callbacks"][0]["outcome"] == "no_answer"

    notices = await told(redis, keys)
    assert [kind for kind, _, _ in notices] == ["callback_offered", "callback_scheduled",
                                                "callback_no_answer"]
    assert notices[2][1] == ("Paul tried to call you on 06 12 34 56 78 but could not reach "
                             "you. Write here when you are available, or ask for another call.")
    record = notices[2][2]
    assert (record["outcome"], record["note"], record["by"]) == ("no_answer", "rang 8 times",
                                                                "paul")


def done_id(body):
    return body["callback"]["id"]


async def test_bad_input_from_the_customer_changes_nothing(redis_server, redis, keys, claimed):
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 2) as (marie, customer):
        await marie.login("marie", PASSWORD)
        token = (await offered(marie))["link"].rsplit("/", 1)[1]
        url = f"/api/callback/{token}"
        slot = (await customer.get(url))[1]["slots"][1]["id"]
        cases = [
            ({"slot": slot, "phone": "call me maybe"}, 400, "bad_phone"),
            ({"slot": slot, "phone": "12 34"}, 400, "bad_phone"),
            ({"slot": slot, "phone": "06 12 34 56 78; DROP"}, 400, "bad_phone"),
            ({"slot": "1000000000", "phone": "06 12 34 56 78"}, 400, "slot_past"),
            ({"slot": "tomorrow", "phone": "06 12 34 56 78"}, 400, "bad_slot"),
            ({"slot": str(int(slot) + 1800), "phone": "06 12 34 56 78"}, 400, "bad_slot"),
            ({"phone": "06 12 34 56 78"}, 400, "bad_slot"),
        ]
        for body, status, code in cases:
            got, error, _ = await customer.request("POST", url, body, headers=FR)
            assert (got, error["error"]["code"]) == (status, code), body
        got, error, _ = await customer.request("POST", url, cases[0][0], headers=FR)
        assert error["error"]["message"].startswith("Ce n'est pas un numéro de téléphone")
        got, error = await customer.post(url, cases[3][0])
        assert error["error"]["message"].startswith("This time has already passed")
        status, error = await customer.post("/api/callback/" + "x" * 24,
                                            {"slot": slot, "phone": "06 12 34 56 78"})
        assert (status, error["error"]["code"]) == (404, "callback_unknown")

    callbacks = await Callbacks(redis, keys).of_conversation("c1")
    assert [(c.status, c.phone, c.due_at) for c in callbacks] == [("offered", "", 0.0)]
    assert await redis.zcard(keys.callbacks_due) == 0
    assert [kind for kind, _, _ in await told(redis, keys)] == ["callback_offered"]


async def test_agents_bad_input_and_another_teams_call(redis_server, redis, keys, claimed):
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 4) as (marie, paul, ann, customer):
        await marie.login("marie", PASSWORD)
        await paul.login("paul", PASSWORD)
        await ann.login("ann", PASSWORD)
        # An unknown conversation; one that is not theirs.
        status, error = await marie.post("/api/conversations/nope/callbacks")
        assert (status, error["error"]["code"]) == (404, "not_found")
        assert (await paul.post("/api/conversations/c1/callbacks"))[0] == 404
        body = await offered(marie)
        path = f"/api/callbacks/c1/{done_id(body)}/outcome"
        # Nothing to record before the customer picked a time.
        status, error = await marie.post(path, {"outcome": "reached", "request_id": "a"})
        assert (status, error["error"]["code"]) == (409, "callback_not_scheduled")
        token = body["link"].rsplit("/", 1)[1]
        assert (await customer.post(f"/api/callback/{token}",
                                    {"slot": "now", "phone": "+44 20 7946 0958"}))[0] == 200
        # Another team's agent neither sees it nor records it.
        assert (await ann.get("/api/callbacks"))[1]["callbacks"] == []
        status, error, _ = await ann.request("POST", path, {"outcome": "reached",
                                                            "request_id": "b"}, headers=FR)
        assert (status, error["error"]["code"]) == (403, "callback_other_team")
        assert error["error"]["message"] == ("Ce rappel est pour une autre équipe. Rien n'a "
                                             "été modifié.")
        assert (await ann.get("/api/conversations/c1"))[0] == 404
        for bad in ({"outcome": "hung_up", "request_id": "c"},
                    {"outcome": "reached", "note": "x" * 1001, "request_id": "c"}):
            status, error = await marie.post(path, bad)
            assert (status, error["error"]["code"]) == (400, "bad_outcome")
        assert (await marie.post(path, {"outcome": "reached"}))[0] == 400
        status, error = await marie.post("/api/callbacks/c1/nope/outcome",
                                         {"outcome": "reached", "request_id": "d"})
        assert (status, error["error"]["code"]) == (404, "callback_unknown")
        assert (await marie.get("/api/callbacks?language=de"))[0] == 400

    callback = (await Callbacks(redis, keys).of_conversation("c1"))[0]
    assert (callback.status, callback.outcome, callback.slot) == ("scheduled", "", "now")
    assert [kind for kind, _, _ in await told(redis, keys)] == ["callback_offered",
                                                                "callback_scheduled"]


async def test_the_customer_page_is_served_with_the_default_policy(redis_server, claimed):
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 1) as (customer,):
        status, text, headers = await customer.request("GET", "/callback/anything")
        assert status == 200 and 'data-testid="callback-page"' in text
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


async def test_a_link_posted_again_and_again_is_throttled_and_changes_nothing_more(
        redis_server, redis, keys, claimed):
    """Each change of time is told in the chat: past the page's limit, a clear 429, no notice."""
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 2) as (marie, customer):
        await marie.login("marie", PASSWORD)
        token = (await offered(marie))["link"].rsplit("/", 1)[1]
        url = f"/api/callback/{token}"
        slots = [s["id"] for s in (await customer.get(url))[1]["slots"]]
        answers = []
        for n in range(CALLBACK_PAGE.limit):
            body = {"slot": slots[n % len(slots)], "phone": "06 12 34 56 78"}
            answers.append(await customer.request("POST", url, body, headers=FR))
        assert [status for status, _, _ in answers] == [200] * CALLBACK_PAGE.limit
        notices = await told(redis, keys)
        status, error, headers = await customer.request(
            "POST", url, {"slot": slots[-1] if answers[-1][1]["slot"] != slots[-1] else slots[0],
                          "phone": "07 00 00 00 00"}, headers=FR)
        assert (status, error["error"]["code"]) == (429, "too_many_requests")
        assert int(headers["Retry-After"]) >= 1
        assert error["error"]["message"].startswith("Trop de requêtes")
        kept = (await Callbacks(redis, keys).of_conversation("c1"))[0]
        # The last time and number accepted stay.
        assert (kept.slot, kept.phone) == (answers[-1][1]["slot"], "06 12 34 56 78")
        assert await told(redis, keys) == notices  # nothing more told
