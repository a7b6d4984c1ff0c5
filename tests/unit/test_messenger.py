"""Messenger rules that need no server: windows (with an injected clock), signatures, payloads."""

import hashlib
import hmac

import pytest

from bot.messenger import (
    event_id,
    malformed,
    messaging_events,
    to_text_and_metadata,
    typed,
    valid_signature,
)
from handoff.messenger_api import quick_replies, send_fields

HOUR = 3600.0
NOW = 1_800_000_000.0


@pytest.mark.parametrize("age_hours,human,expected", [
    (0, False, {"messaging_type": "RESPONSE"}),
    (23.9, False, {"messaging_type": "RESPONSE"}),
    (23.9, True, {"messaging_type": "RESPONSE"}),
    (24.1, False, None),  # the bot never uses a tag
    (24.1, True, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
    (7 * 24 - 0.1, True, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
    (7 * 24 + 0.1, True, None),
])
def test_messaging_windows(age_hours, human, expected):
    assert send_fields(NOW - age_hours * HOUR, NOW, human=human) == expected


def test_a_person_who_never_wrote_cannot_be_written_to():
    assert send_fields(None, NOW, human=True) is None


def test_signatures():
    body = b'{"object":"page"}'
    good = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert valid_signature("secret", body, good)
    assert not valid_signature("secret", body + b" ", good)
    assert not valid_signature("other", body, good)
    assert not valid_signature("secret", body, None)
    assert not valid_signature("", body, good)
    assert not valid_signature("secret", body, good.replace("sha256=", "sha1="))


def test_batched_events_in_order_and_their_content():
    payload = {"object": "page", "entry": [
        {"messaging": [{"sender": {"id": "1"}, "timestamp": 1,
                        "message": {"mid": "m1", "text": "hi"}}]},
        {"messaging": [
            {"sender": {"id": "2"}, "timestamp": 2,
             "message": {"mid": "m2", "text": "Yes", "quick_reply": {"payload": "/affirm"}}},
            {"sender": {"id": "2"}, "timestamp": 3,
             "postback": {"mid": "m3", "title": "Talk to someone", "payload": "/request_human"}},
            {"sender": {"id": "2"}, "timestamp": 4,
             "message": {"mid": "m4", "attachments": [
                 {"type": "image", "payload": {"url": "https://x/y.jpg"}}]}},
            {"sender": {"id": "2"}, "timestamp": 5, "read": {"watermark": 4}},
            "not an event",
        ]},
    ]}
    events = list(messaging_events(payload))
    assert [event_id(e) for e in events[:4]] == ["m1", "m2", "m3", "m4"]
    found = [to_text_and_metadata(e) for e in events]
    assert [f[0] if f else None for f in found] == ["hi", "/affirm", "/request_human", "", None]
    assert found[3][1]["attachment"] == {"type": "image", "url": "https://x/y.jpg"}
    assert found[2][1]["messenger"]["postback_title"] == "Talk to someone"


def test_buttons_become_quick_replies_within_messenger_limits():
    buttons = [{"title": "A very long button title indeed", "payload": "/x"}] * 20
    replies = quick_replies(buttons)
    assert len(replies) == 13
    assert replies[0] == {"content_type": "text", "title": "A very long button t", "payload": "/x"}


def _page(*events):
    return {"object": "page", "entry": [{"id": "1", "time": 1, "messaging": list(events)}]}


GOOD = {"sender": {"id": "42"}, "timestamp": 1, "message": {"mid": "m1", "text": "hi"}}


@pytest.mark.parametrize("payload", [
    _page(GOOD),
    _page({"sender": {"id": "42"}, "timestamp": 2, "read": {"watermark": 1}}),  # not read
    _page({**GOOD, "message": {"mid": "m2", "attachments": [{"type": "image"}]}}),
    {"object": "page", "entry": [{"id": "1", "time": 1}]},  # no messaging (e.g. changes)
])
def test_bodies_in_facebooks_format_are_well_formed(payload):
    assert malformed(payload) is None


@pytest.mark.parametrize("payload", [
    [1, 2],
    {"object": "user"},
    {"object": "page", "entry": 5},
    {"object": "page", "entry": {"id": "1"}},
    {"object": "page", "entry": ["x"]},
    {"object": "page", "entry": [{"messaging": 5}]},
    {"object": "page", "entry": [{"messaging": {"sender": {"id": "1"}}}]},
    _page("not an event"),
    _page({"timestamp": 1, "message": {"text": "no sender"}}),
    _page({**GOOD, "sender": {"id": ["42"]}}),
    _page({**GOOD, "sender": {"id": True}}),
    # No hash tag: on a Redis Cluster the conversation's keys would be in several slots.
    _page({**GOOD, "sender": {"id": ""}}),
    _page({**GOOD, "sender": {"id": "}42"}}),
    _page({**GOOD, "timestamp": "yesterday"}),
    _page({**GOOD, "message": "hi"}),
    _page({**GOOD, "message": {"mid": "m1", "text": {"nested": "text"}}}),
    _page({**GOOD, "message": {"mid": ["m1"], "text": "hi"}}),
    _page({**GOOD, "message": {"mid": "m1", "text": "hi", "quick_reply": {"payload": 7}}}),
    _page({**GOOD, "message": {"mid": "m1", "text": "hi", "quick_reply": "/affirm"}}),
    _page({**GOOD, "message": {"mid": "m1", "attachments": {"type": "image"}}}),
    _page({**GOOD, "message": {"mid": "m1", "attachments": [{"payload": "url"}]}}),
    _page({**GOOD, "message": {"mid": "m1", "is_echo": "yes"}}),
    _page({"sender": {"id": "42"}, "timestamp": 1, "postback": {"payload": {"a": 1}}}),
    _page({"sender": {"id": "42"}, "timestamp": 1, "postback": "/request_human"}),
    _page({**GOOD, "message": {"mid": "m1", "text": "lone \ud800 surrogate"}}),
    {"object": "page", "entry": [], "\udc00": 1},
])
def test_malformed_bodies_are_named(payload):
    assert isinstance(malformed(payload), str)


def test_only_typed_text_is_taken_as_words():
    assert typed(GOOD)
    assert not typed({**GOOD, "message": {"mid": "m", "text": "Yes",
                                          "quick_reply": {"payload": "/affirm"}}})
    assert not typed({"sender": {"id": "1"}, "postback": {"payload": "/request_human"}})
