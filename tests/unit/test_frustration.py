"""Frustration signals raise the ticket's priority."""

import pytest

from handoff.frustration import detect
from handoff.ticket import Reason, build_ticket
from tests import events as ev


def _user(text, intent="order_status", ts=1.0):
    return ev.user(text, intent, ts=ts)


@pytest.mark.parametrize("text,signal", [
    ("WHERE IS MY PARCEL", "capitals"),
    ("OÙ EST MON COLIS", "capitals"),
    ("this bot is useless", "insult"),
    ("ce bot est nul", "insult"),
    ("ça ne marche pas", "exasperation"),
    ("Ca marche pas votre truc", "exasperation"),
    ("I'm fed up with this", "exasperation"),
    ("where is it???!!!", "exclamations"),
])
def test_signals_in_one_message(text, signal):
    assert signal in detect([_user(text)]).signals


@pytest.mark.parametrize("text", [
    "Where is my order 10234?", "Bonjour, où en est ma commande ?", "OK", "UPS", "merci !",
    "I consider this a fair price", "Je suis à Lyon",
])
def test_calm_messages_have_no_signal(text):
    assert detect([_user(text)]).score == 0


def test_the_same_question_twice_is_a_signal():
    events = [_user("where is my order?", ts=1.0), ev.bot("Which order?", ts=1.1),
              _user("Where is my order", ts=2.0)]
    assert detect(events).signals == ["repeated_question"]


def test_frustration_intent_and_fallbacks_count():
    events = [_user("blah", "nlu_fallback", 1.0), _user("bleh", "nlu_fallback", 2.0),
              _user("whatever", "frustration", 3.0)]
    assert set(detect(events).signals) == {"frustration_intent", "not_understood_twice"}


def test_priority_rises_with_reason_and_signals():
    calm = ev.order_conversation()
    angry = calm[:-1] + [_user("THIS IS USELESS, I WANT A HUMAN", "frustration", 3.0)]
    plain = build_ticket("c", calm, {}, calm[-1]["parse_data"], Reason.ASKED)
    furious = build_ticket("c", angry, {}, angry[-1]["parse_data"], Reason.FRUSTRATION)
    assert plain.priority == 0 and plain.frustration == {"score": 0, "signals": []}
    assert furious.priority == 2
    assert {"capitals", "insult", "frustration_intent"} <= set(furious.frustration["signals"])
