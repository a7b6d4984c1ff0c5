"""What bounds Rasa's work: the NLU's length guard and the size of the tracker writer's calls."""

import json

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.limits import REQUEST_MAX_BYTES, MessageLengthGuard, cut
from handoff.customer_text import MAX_MESSAGE_CHARS
from handoff.relay.tracker import CALL_BYTES, _calls


def test_the_nlu_reads_at_most_the_limit():
    long, short = Message({TEXT: "a " * 50_000}), Message({TEXT: "hello"})
    MessageLengthGuard().process([long, short])
    assert long.get(TEXT) == ("a " * 50_000)[:MAX_MESSAGE_CHARS]
    assert short.get(TEXT) == "hello"
    assert cut(None) is None and cut("x" * MAX_MESSAGE_CHARS) == "x" * MAX_MESSAGE_CHARS


def test_the_writers_calls_fit_in_what_rasa_reads():
    turn = {"event": "user", "text": "é" * MAX_MESSAGE_CHARS}
    conversations = [{"conversation_id": f"c{n}", "events": [turn] * 60, "parse": {}}
                     for n in range(12)]
    calls = _calls(conversations)
    assert [c["conversation_id"] for call in calls for c in call] == [
        f"c{n}" for n in range(12)]  # all of them, in order
    assert len(calls) > 1
    for call in calls:
        body = json.dumps({"conversations": call}).encode()  # as aiohttp sends it
        assert len(body) <= REQUEST_MAX_BYTES
    assert CALL_BYTES * 2 == REQUEST_MAX_BYTES
