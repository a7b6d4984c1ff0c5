"""The call-back's pure parts: the phone number's check, the slots offered, the slot chosen."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff.availability import OpeningHours
from handoff.callbacks import (
    NOW,
    SLOTS_SHOWN,
    CallbackError,
    asks_for_a_call,
    choose_slot,
    clean_phone,
    offered_slots,
)

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = OpeningHours("Europe/Paris", {d: [(dt.time(9), dt.time(18))] for d in range(5)})
# Tuesday 2 June 2026, 10:10 in Paris.
TUESDAY = dt.datetime(2026, 6, 2, 10, 10, tzinfo=PARIS).timestamp()


@pytest.mark.parametrize("text,expected", [
    ("06 12 34 56 78", "06 12 34 56 78"),
    ("  0612345678 ", "0612345678"),
    ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),
    ("+44 20 7946 0958", "+44 20 7946 0958"),
    ("06.12.34.56.78", "06.12.34.56.78"),
])
def test_phone_numbers_taken(text, expected):
    assert clean_phone(text) == expected


@pytest.mark.parametrize("text", [
    "", "call me", "12 34", "06 12 34 56", "06 12 34 56 78 9", "06 12 34 56 78 or 07 12 34 56 78",
    "06 12 34 56 78<script>", "+1 2", "0" * 40, None, 612345678, ["06 12 34 56 78"],
])
def test_malformed_phone_numbers_refused(text):
    assert clean_phone(text) is None


def test_now_then_hours_within_the_opening_hours():
    slots = offered_slots(WEEKDAYS, TUESDAY, "en")
    assert slots[0]["id"] == NOW and slots[0]["label"] == "As soon as possible (now)"
    hours = [dt.datetime.fromtimestamp(s["starts_at"], PARIS) for s in slots[1:]]
    assert len(hours) == SLOTS_SHOWN
    # The first hour starts at least 30 minutes ahead; every hour ends by closing time.
    assert hours[0] == dt.datetime(2026, 6, 2, 11, 0, tzinfo=PARIS)
    assert all(9 <= h.hour < 18 and h.weekday() < 5 for h in hours)
    assert slots[1]["label"] == "Today 11:00–12:00"
    french = offered_slots(WEEKDAYS, TUESDAY, "fr")
    assert french[1]["label"] == "Aujourd'hui 11:00–12:00"
    assert french[-1]["label"].startswith("Demain ")


def test_closed_no_now_and_the_next_opening_first():
    friday_night = dt.datetime(2026, 6, 5, 20, 0, tzinfo=PARIS).timestamp()
    slots = offered_slots(WEEKDAYS, friday_night, "fr")
    assert slots[0]["id"] != NOW
    assert slots[0]["label"] == "Lundi 09:00–10:00"


def test_a_slot_is_chosen_among_those_offered():
    slot = offered_slots(WEEKDAYS, TUESDAY, "en")[3]
    assert choose_slot(WEEKDAYS, slot["id"], TUESDAY) == (slot["id"], slot["starts_at"])
    assert choose_slot(WEEKDAYS, NOW, TUESDAY) == (NOW, TUESDAY)


@pytest.mark.parametrize("slot,code", [
    (str(int(TUESDAY) - 7200), "slot_past"),
    ("0", "slot_past"),
    (str(int(TUESDAY) + 7200), "bad_slot"),  # not on the hour
    ("tomorrow", "bad_slot"),
    ("", "bad_slot"),
    (None, "bad_slot"),
    (1780000000, "bad_slot"),
])
def test_a_slot_in_the_past_or_not_offered_is_refused(slot, code):
    with pytest.raises(CallbackError) as raised:
        choose_slot(WEEKDAYS, slot, TUESDAY)
    assert raised.value.code == code


def test_now_is_refused_while_closed():
    sunday = dt.datetime(2026, 6, 7, 12, 0, tzinfo=PARIS).timestamp()
    with pytest.raises(CallbackError):
        choose_slot(WEEKDAYS, NOW, sunday)


def test_an_hour_begun_since_the_page_was_drawn_is_still_taken():
    slot = offered_slots(WEEKDAYS, TUESDAY, "en")[1]
    later = slot["starts_at"] + 600
    assert choose_slot(WEEKDAYS, slot["id"], later) == (slot["id"], later)


def test_who_may_open_a_conversation_for_its_call():
    from handoff.callbacks import Callback
    offered = Callback("c", "conv", "offered", team="orders")
    scheduled = Callback("c", "conv", "scheduled", team="orders")
    done = Callback("c", "conv", "done", team="orders", done_by="paul")
    assert not offered.lets_see("paul", serves_team=True)  # nothing to call yet
    assert scheduled.lets_see("paul", serves_team=True)
    assert not scheduled.lets_see("ann", serves_team=False)  # another team's
    assert done.lets_see("paul", serves_team=True)
    assert not done.lets_see("marie", serves_team=True)  # the call is made: the caller only


@pytest.mark.parametrize("text", [
    "can someone call me back", "call me back please", "please call me", "I want a callback",
    "could you give me a call", "can we do this over the phone?", "ring me back please",
    "I'd prefer a phone call", "CALL ME", "can someone from your team call me back",
    "pouvez-vous me rappeler ?", "rappelez-moi au 06 45 78 12 09 svp", "rappelez moi",
    "je voudrais être rappelé", "un conseiller peut m'appeler ?", "appelez-moi svp",
    "téléphonez-moi demain", "je préfère en parler au téléphone", "un appel téléphonique svp",
    "je voudrais qu'un conseiller me rappelle", "vous pouvez m’appeler ?",
])
def test_a_request_for_a_person_that_asks_for_a_call(text):
    assert asks_for_a_call(text)


@pytest.mark.parametrize("text", [
    "I want to talk to a human", "real person please", "can I talk to someone about my order",
    "je veux parler à un conseiller", "un humain svp", "passez-moi quelqu'un",
    "I don't want to talk to a bot", "what is this called", "recall my order", None, 42,
])
def test_a_request_for_a_person_without_a_call(text):
    assert not asks_for_a_call(text)
