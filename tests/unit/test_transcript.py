"""Reading the transcript out of tracker events."""

from handoff.transcript import turn_from_event


def _user(text, external=False):
    event = {"event": "user", "text": text, "parse_data": {"intent": {"name": "greet"}}}
    if external:
        event["metadata"] = {"is_external": True}
    return event


def test_triggered_intents_are_not_customer_turns():
    assert turn_from_event(_user("EXTERNAL: greet", external=True)) is None
    assert turn_from_event(_user("hello"))["kind"] == "customer"
