"""The dashboard's figures from records written at known times, against a real Redis."""

import datetime as dt

import pytest

from handoff import metrics
from handoff.conversation import State
from handoff.metrics import Recorder, Records
from handoff.service.insights.dashboard import DEFAULT_DAYS, figures, to_csv
from handoff.service.insights.enps import AlreadyAsked, EnpsStore
from handoff.service.insights.periods import parse_period
from handoff.ticket import Reason, build_ticket
from tests import events as ev

pytestmark = pytest.mark.integration

D = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp()  # a Wednesday, 00:00 UTC
DAY = 86400.0


def _user(cid, at, intent="greet", channel="socketio"):
    return {**ev.user("hi", intent, ts=at, channel=channel), "sender_id": cid}


async def _sessions(redis, keys):
    recorder = Recorder(redis, keys)
    script = [
        _user("web1", D + 100), _user("web1", D + 110, "order_status"),       # contained
        _user("fb1", D + 200, "order_status", "messenger"),                   # handed off
        {"event": "pause", "timestamp": D + 205, "sender_id": "fb1"},
        _user("web2", D + 300, "complaint"),                                  # handed off
        {"event": "pause", "timestamp": D + 305, "sender_id": "web2"},
        {"event": "session_started", "timestamp": D + 4000, "sender_id": "web1"},
        _user("web1", D + 4001, "order_status"),                              # new session
        _user("web3", D + DAY + 50),                                          # day 2
        _user("web8", D + DAY),                                               # day 2, 00:00
        _user("web0", D - 10),                                                # the day before
    ]
    for event in script:
        await recorder.observe(event)
    await recorder.observe(script[1])  # a retried stream entry counts once
    return recorder


async def _handoff(redis, keys, cid, reason, queued, claimed=None, replied=None, ended=None,
                   target="closed", team="billing", resolution="resolved"):
    events = [_user(cid, queued - 1, "order_status")]
    ticket = build_ticket(cid, events, {"language": "en"}, events[-1]["parse_data"], reason,
                          now=queued)
    async with redis.pipeline(transaction=True) as pipe:
        metrics.handoff_queued(pipe, keys, ticket, team)
        await pipe.execute()
    await redis.hset(keys.conversation(cid), "ticket_id", ticket.ticket_id)
    state = "queued"
    if claimed is not None:
        async with redis.pipeline(transaction=True) as pipe:
            metrics.handoff_moved(pipe, keys, cid, ticket.ticket_id, "queued", "assigned", team,
                                  None, {"agent": "marie"}, claimed)
            await pipe.execute()
        state = "assigned"
    if replied is not None:
        await metrics.first_reply(redis, keys, ticket.ticket_id, replied)
    if ended is not None:
        async with redis.pipeline(transaction=True) as pipe:
            metrics.handoff_moved(pipe, keys, cid, ticket.ticket_id, state, target, team,
                                  "marie", {"resolution": resolution}, ended)
            await pipe.execute()
    return ticket


async def _script(redis, keys):
    recorder = await _sessions(redis, keys)
    await _handoff(redis, keys, "fb1", Reason.ASKED, D + 205, D + 215, D + 225, D + 325)
    await _handoff(redis, keys, "web2", Reason.COMPLAINT, D + 305, D + 345, D + 365, D + 600,
                   team="returns")
    await _handoff(redis, keys, "web4", Reason.ASKED, D + 400, ended=D + 700,
                   resolution="abandoned")
    await _handoff(redis, keys, "web5", Reason.NOT_UNDERSTOOD, D + 500, D + 510, D + 540,
                   D + 600, target="bot")
    await _handoff(redis, keys, "web7", Reason.ASKED, D + 800, ended=D + 900, target="bot")
    await _handoff(redis, keys, "web6", Reason.ASKED, D + DAY + 100, D + DAY + 105,
                   D + DAY + 125, D + DAY + 205)
    await _handoff(redis, keys, "old", Reason.ASKED, D - 100, D - 90, D - 50, D - 10)
    # web2 was closed at D+600: its next message starts a new conversation session.
    await recorder.observe(_user("web2", D + 700))


async def _figures(redis, keys, **query):
    return await figures(redis, keys, parse_period(query, D + 3 * DAY, DEFAULT_DAYS))


async def test_figures_of_a_scripted_period(redis, keys):
    await _script(redis, keys)
    found = await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-02"})

    conv = found["conversations"]
    assert (conv["total"], conv["contained"], conv["handed_off"]) == (7, 5, 2)
    assert conv["containment"] == round(5 / 7, 4)
    assert conv["by_channel"] == {"messenger": 1, "socketio": 6}
    hand = found["handoffs"]
    assert hand["total"] == 6
    assert {r["reason"]: r["count"] for r in hand["by_reason"]} == {
        "asked": 4, "complaint": 1, "not_understood": 1}
    assert hand["by_reason"][0] == {"reason": "asked", "count": 4, "rate": round(4 / 7, 4)}
    assert hand["by_intent"] == [{"intent": "order_status", "conversations": 3,
                                  "handed_off": 1, "rate": round(1 / 3, 4)}]
    assert hand["outcomes"] == {"abandoned": 1, "cancelled": 1, "closed": 3, "handed_back": 1}
    assert hand["by_channel"] == {"socketio": 6}
    # Waits 20, 60, 40, 25 s: median (25 + 40) / 2, p90 40 + 0.7 × 20 = 54.
    assert found["first_reply_wait"] == {"count": 4, "median": 32.5, "p90": 54.0,
                                         "mean": 36.25}
    # Handling 110, 255, 90, 100 s: median 105, p90 110 + 0.7 × 145 = 211.5.
    assert found["handling_time"] == {"count": 4, "median": 105.0, "p90": 211.5,
                                      "mean": 138.75}
    assert found["queue"] == {"handoffs": 6, "abandoned": 1,
                              "abandonment_rate": round(1 / 6, 4), "cancelled": 1}
    assert [(d["date"], d["conversations"], d["handoffs"]) for d in found["series"]] == [
        ("2024-05-01", 5, 5), ("2024-05-02", 2, 1)]
    assert found["series"][0]["first_reply_median"] == 40.0
    assert found["series"][1]["containment"] == 1.0


async def test_the_range_is_whole_days_with_both_ends_included(redis, keys):
    await _script(redis, keys)
    first = await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-01"})
    assert first["conversations"]["total"] == 5  # not web8 at 00:00 the next day
    assert first["handoffs"]["total"] == 5
    assert first["first_reply_wait"]["median"] == 40.0  # 20, 60, 40
    second = await _figures(redis, keys, **{"from": "2024-05-02", "to": "2024-05-02"})
    assert second["conversations"]["total"] == 2
    assert second["handoffs"]["total"] == 1
    assert [d["date"] for d in second["series"]] == ["2024-05-02"]


async def test_days_follow_the_time_zone_asked_for(redis, keys):
    await _script(redis, keys)
    # 1 May in Paris (UTC+2) is 30 April 22:00 to 1 May 22:00 UTC.
    paris = await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-01",
                                           "tz": "Europe/Paris"})
    assert paris["conversations"]["total"] == 6  # web0 at 23:59:50 UTC the day before
    assert paris["handoffs"]["total"] == 6  # the "old" handoff too
    assert paris["period"]["tz"] == "Europe/Paris"


async def test_an_exact_time_range(redis, keys):
    await _script(redis, keys)
    start = dt.datetime.fromtimestamp(D + 300, dt.timezone.utc).isoformat()
    end = dt.datetime.fromtimestamp(D + 500, dt.timezone.utc).isoformat()
    found = await _figures(redis, keys, **{"from": start, "to": end})
    assert found["handoffs"]["total"] == 2  # 305 and 400; 500 is the excluded end
    assert found["conversations"]["total"] == 1


async def test_an_empty_period_has_no_rates(redis, keys):
    found = await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-01"})
    assert found["conversations"]["containment"] is None
    assert found["first_reply_wait"] == {"count": 0, "median": None, "p90": None, "mean": None}
    assert found["series"][0]["containment"] is None


# Wrong periods and their errors: tests/unit/test_periods.py.
async def test_default_period_is_the_last_seven_days(redis, keys):
    period = parse_period({}, D + 3600, DEFAULT_DAYS)
    assert (period.asked_from, period.asked_to) == ("2024-04-25", "2024-05-01")
    assert period.end - period.start == 7 * DAY


async def test_csv_has_every_figure(redis, keys):
    await _script(redis, keys)
    text = to_csv(await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-02"}))
    lines = text.splitlines()
    assert lines[0] == "section,name,group,value"
    assert "conversations,containment,,0.7143" in lines
    assert "handoffs,count_by_reason,asked,4" in lines
    assert "first_reply_wait,p90_seconds,,54.0" in lines
    assert "queue,abandoned,,1" in lines
    assert "daily,conversations,2024-05-02,2" in lines


async def test_the_state_machine_writes_the_handoff_record(store, redis, keys):
    events = ev.order_conversation()
    ticket = build_ticket("c1", events, {"language": "fr"}, events[-1]["parse_data"],
                          Reason.COMPLAINT, now=D)
    await store.enqueue(ticket, team="billing")
    await store.claim("c1", "marie", "Marie")
    await store.first_reply("c1", D + 30)
    await store.first_reply("c1", D + 90)  # not the first
    await store.release("c1", "marie", State.CLOSED, resolution="resolved")
    record = await redis.hgetall(keys.metrics_handoff(ticket.ticket_id))
    assert record["reason"] == "complaint" and record["intent"] == "order_status"
    assert record["team"] == "billing" and record["agent"] == "marie"
    assert record["language"] == "fr" and record["channel"] == "socketio"
    assert float(record["first_reply_at"]) == D + 30
    assert record["outcome"] == "closed" and record["resolution"] == "resolved"
    assert float(record["claimed_at"]) <= float(record["ended_at"])
    assert [h["ticket_id"] for h in await Records(redis, keys).handoffs(D, D + 1)] == [
        ticket.ticket_id]
    # Closing ends the conversation session: the next message starts a new one.
    assert await redis.hget(keys.metrics_current("c1"), "ended_at")


async def test_queue_exits_are_abandoned_or_cancelled(store, redis, keys):
    outcomes = {}
    for cid, target, fields in [("a", State.CLOSED, {"resolution": "abandoned"}),
                                ("b", State.BOT, {})]:
        events = ev.order_conversation()
        ticket = build_ticket(cid, events, {}, events[-1]["parse_data"], Reason.ASKED, now=D)
        await store.enqueue(ticket)
        await store.transition(cid, target, fields={"agent": "", **fields})
        outcomes[cid] = await redis.hget(keys.metrics_handoff(ticket.ticket_id), "outcome")
    assert outcomes == {"a": "abandoned", "b": "cancelled"}


async def test_enps_is_anonymous_once_a_month_and_hidden_under_three_answers(redis, keys):
    enps = EnpsStore(redis, keys)
    may, june = D + 3600, D + 40 * DAY
    assert await enps.should_ask("marie", may)
    await enps.answer("marie", 10, may)
    assert not await enps.should_ask("marie", may)
    assert await enps.should_ask("marie", june)  # a new month asks again
    with pytest.raises(AlreadyAsked):
        await enps.answer("marie", 3, may)
    await enps.answer("paul", None, may)  # dismissed: not asked again, not counted
    with pytest.raises(AlreadyAsked):
        await enps.answer("paul", 9, may)
    await enps.answer("lea", 4, may)
    scores = await enps.scores("2024-05", "2024-05")
    assert [(s.period, s.answers, s.score) for s in scores] == [("2024-05", 2, None)]
    await enps.answer("jo", 9, may)
    await enps.answer("ana", 7, june)
    # May: 10, 4, 9 → 2 promoters, 1 detractor of 3 = +33.3; June has one answer: hidden.
    scores = await enps.scores("2024-05", "2024-06")
    assert [(s.period, s.answers, s.score) for s in scores] == [
        ("2024-05", 3, 33.3), ("2024-06", 1, None)]
    stored = await redis.hgetall(keys.enps_scores("2024-05"))
    assert stored == {"10": "1", "4": "1", "9": "1"}  # counts only, no names
    found = await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-31"})
    assert found["enps"]["periods"] == [{"period": "2024-05", "answers": 3, "score": 33.3,
                                         "shown": True}]
    # A week in June still shows the months before it (eNPS is monthly): May and June.
    found = await _figures(redis, keys, **{"from": "2024-06-10", "to": "2024-06-16"})
    assert [(p["period"], p["score"]) for p in found["enps"]["periods"]] == [
        ("2024-05", 33.3), ("2024-06", None)]


async def test_satisfaction_by_team_and_day_from_the_surveys(redis, keys):
    from handoff.survey import SurveyStore

    surveys = SurveyStore(redis, keys)
    asked = [("c1", "agent", "billing", D + 10, 5, 10), ("c2", "agent", "billing", D + 20, 3, 6),
             ("c3", "bot", "", D + DAY + 30, 4, 9), ("c4", "agent", "returns", D + 40, None, None),
             ("c5", "agent", "billing", D - 5, 1, 0)]  # the day before: not counted
    for cid, closed_by, team, at, csat_, nps_ in asked:
        sid = await surveys.start(conversation_id=cid, channel="web", language="en",
                                  closed_by=closed_by, team=team, asked_at=at)
        if csat_ is None:
            await surveys.decline(sid)
            continue
        await surveys.answer(sid, "csat", csat_)
        await surveys.answer(sid, "nps", nps_)
    sat = (await _figures(redis, keys, **{"from": "2024-05-01", "to": "2024-05-02"}))
    series = sat["series"]
    sat = sat["satisfaction"]
    assert (sat["surveys"], sat["answered"]) == (4, 3)
    assert sat["csat"] == {"answers": 3, "average": 4.0, "satisfied_rate": round(2 / 3, 4)}
    assert sat["nps"] == {"answers": 3, "score": 33.3, "promoters": 2, "passives": 0,
                          "detractors": 1}
    by_team = {t["team"]: (t["csat"]["average"], t["nps"]["score"]) for t in sat["by_team"]}
    assert by_team == {"billing": (4.0, 0.0), "bot": (4.0, 100.0)}
    assert [(d["csat"], d["nps"]) for d in series] == [(4.0, 0.0), (4.0, 100.0)]
