"""One rule for a customer's text at every door (handoff.customer_text)."""

import pytest

from handoff.customer_text import (
    BAD_TEXT,
    EMPTY,
    MAX_MESSAGE_CHARS,
    NOTICES,
    TOO_LONG,
    holds_lone_surrogate,
    neutralise,
    notice,
    payloads_of,
    problem,
)


@pytest.mark.parametrize("text,attachment,expected", [
    ("hello", False, None),
    ("x" * MAX_MESSAGE_CHARS, False, None),
    ("x" * (MAX_MESSAGE_CHARS + 1), False, TOO_LONG),
    ("é" * (MAX_MESSAGE_CHARS + 1), False, TOO_LONG),
    ("", False, EMPTY),
    (None, False, EMPTY),
    ("   \n\t", False, EMPTY),
    ("", True, None),  # a photo needs no words
    ("hello \ud800", False, BAD_TEXT),
    ("\udfff", False, BAD_TEXT),
    ("an emoji 😀 is two UTF-16 units, one character", False, None),
    (42, False, BAD_TEXT),
    (["a"], False, BAD_TEXT),
])
def test_what_a_door_refuses(text, attachment, expected):
    assert problem(text, attachment) == expected


def test_the_customer_is_told_in_their_language_or_both():
    for code in NOTICES:
        assert notice(code, "fr") == NOTICES[code]["fr"]
        assert notice(code, "en") == NOTICES[code]["en"]
        for unknown in (None, "de", ["fr"], {"fr": 1}, 3):  # whatever a client sends
            assert notice(code, unknown) == f"{NOTICES[code]['en']}\n{NOTICES[code]['fr']}"
    assert "4,000" in notice(TOO_LONG, "en") and "4\u202f000" in notice(TOO_LONG, "fr")


OFFERED = ["/affirm", "/deny"]


@pytest.mark.parametrize("typed,expected", [
    ("/affirm", "/affirm"),  # a button the bot offered: a payload
    ("/request_human", "request_human"),  # not offered: words for the NLU
    ('/EXTERNAL_handback_satisfaction', "EXTERNAL_handback_satisfaction"),
    ('/inform{"order_number": "10234"}', 'inform{"order_number": "10234"}'),
    ("  //  /affirm{\"x\": 1}", 'affirm{"x": 1}'),
    ("where is my order? /track", "where is my order? /track"),  # only a leading slash
    ("hello", "hello"),
])
def test_only_offered_payloads_are_commands(typed, expected):
    out = neutralise(typed, OFFERED)
    assert out == expected
    assert out in OFFERED or not out.strip().startswith("/")


def test_payloads_of_buttons_and_quick_replies():
    assert payloads_of([{"text": "hi"},
                        {"text": "ok?", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
                        {"quick_replies": [{"title": "No", "payload": "/deny"},
                                           {"title": "bad"}, "junk"]}]) == OFFERED


@pytest.mark.parametrize("bottom, expected", [("\udcff", True), ("fine", False)])
def test_a_lone_surrogate_is_found_at_any_depth_a_parser_allows(bottom, expected):
    # json.loads takes about 1,000 levels; a recursive walk stopped near 500 (RecursionError:
    # the console's socket and the chat's metadata check crashed on such a frame).
    deep: object = bottom
    for level in range(5000):
        deep = [deep] if level % 2 else {"a": deep}
    assert holds_lone_surrogate(deep) is expected
    assert holds_lone_surrogate({bottom: 1}) is expected  # keys too
    assert holds_lone_surrogate([1, None, 2.5, {"k": [bottom]}]) is expected
