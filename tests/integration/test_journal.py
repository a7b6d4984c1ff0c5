"""The conversation journal against a real Redis: replay after an id, resends taken once."""

import pytest

from handoff.journal import Journal

pytestmark = pytest.mark.integration


async def test_replay_after_the_last_id_seen(redis, keys):
    journal = Journal(redis, keys)
    ids = [await journal.record("c1", kind, {"text": text}) for kind, text in
           [("customer", "hi"), ("bot", "hello"), ("bot", "how can I help?")]]
    await journal.record("c2", "bot", {"text": "another conversation"})
    assert [e[2]["text"] for e in await journal.since("c1", None)] == [
        "hi", "hello", "how can I help?"]
    assert await journal.since("c1", ids[0]) == [(ids[1], "bot", {"text": "hello"}),
                                                 (ids[2], "bot", {"text": "how can I help?"})]
    assert await journal.since("c1", ids[2]) == []
    # A malformed id replays everything rather than failing.
    assert len(await journal.since("c1", "not-an-id")) == 3
    # So do ids Python's \d takes for digits and Redis does not (`last_seen` is the client's).
    for forged in ("\u0661-\u0661", "1-1\n", "99999999999999999999-0", "1-99999999999999999999"):
        assert len(await journal.since("c1", forged)) == 3, forged


async def test_a_customer_message_id_is_taken_once(redis, keys):
    journal = Journal(redis, keys)
    assert await journal.first_time("c1", "m-1") is True
    assert await journal.first_time("c1", "m-1") is False
    assert await journal.first_time("c2", "m-1") is True


async def test_an_agent_message_is_journaled_once_however_often_it_is_sent(redis, keys):
    journal = Journal(redis, keys)
    first, new = await journal.record_once("c1", "bot", {"text": "Marie here"}, "agent:m-1:0")
    assert new is True
    # A retry is told the first attempt's entry id (to send it again under the same id).
    assert await journal.record_once("c1", "bot", {"text": "Marie here"},
                                     "agent:m-1:0") == (first, False)
    assert await journal.since("c1", None) == [(first, "bot", {"text": "Marie here"})]


async def test_the_buttons_offered_are_those_since_the_customers_last_message(redis, keys):
    journal = Journal(redis, keys)
    assert await journal.offered_payloads("c1") == []
    await journal.record("c1", "bot", {"text": "Shall I?", "buttons": [
        {"title": "Yes", "payload": "/affirm"}]})
    await journal.record("c1", "customer", {"text": "yes"})
    assert await journal.offered_payloads("c1") == []  # answered: no longer on offer
    await journal.record("c1", "bot", {"text": "Anything else?"})
    await journal.record("c1", "bot", {"text": "Pick one", "quick_replies": [
        {"title": "A person", "payload": "/request_human"}]})
    await journal.record("c1", "bot", {"text": "Or", "buttons": [
        {"title": "No", "payload": "/deny"}]})
    assert sorted(await journal.offered_payloads("c1")) == ["/deny", "/request_human"]
    assert await journal.offered_payloads("c2") == []
