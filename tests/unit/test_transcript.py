"""Reading the transcript out of tracker events."""

from handoff.transcript import agent_metadata, turn_from_event, unanswered_at_handback


def _user(text, external=False):
    event = {"event": "user", "text": text, "parse_data": {"intent": {"name": "greet"}}}
    if external:
        event["metadata"] = {"is_external": True}
    return event


def _agent(text):
    return {"event": "bot", "text": text, "metadata": agent_metadata("marie", "Marie", "m1", None)}


RESUME = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


def test_a_message_after_the_agents_last_reply_is_left_unanswered():
    events = [_user("hello"), {"event": "pause"}, _agent("Hi, Marie here"), _user("one more thing"),
              *RESUME]
    assert unanswered_at_handback(events)["text"] == "one more thing"


def test_nothing_is_left_when_the_agent_answered_last():
    events = [{"event": "pause"}, _user("my parcel?"), _agent("On its way"), *RESUME]
    assert unanswered_at_handback(events) is None


def test_only_the_latest_handoff_counts():
    events = [{"event": "pause"}, _user("first handoff, unanswered"), *RESUME,
              _user("human please"), {"event": "pause"}, _agent("Paul here"), *RESUME]
    assert unanswered_at_handback(events) is None


def test_messages_after_the_resume_are_the_bots_already():
    events = [{"event": "pause"}, _agent("done"), *RESUME, _user("what are your hours?")]
    assert unanswered_at_handback(events) is None
    assert unanswered_at_handback([_user("no handoff at all")]) is None


def test_triggered_intents_are_not_customer_turns():
    assert turn_from_event(_user("EXTERNAL: greet", external=True)) is None
    assert turn_from_event(_user("hello"))["kind"] == "customer"
    events = [{"event": "pause"}, _agent("done"), _user("EXTERNAL: greet", external=True), *RESUME]
    assert unanswered_at_handback(events) is None
