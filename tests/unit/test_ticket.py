"""The ticket builder: every fact the customer gave the bot is in the ticket."""

from handoff.ticket import Reason, Ticket, build_ticket, reason_for
from handoff.transcript import MARKER_ENDED, MARKER_STARTED, agent_metadata, turns_from_events
from tests import events as ev


def _ticket(**overrides):
    events = ev.order_conversation()
    latest = events[-1]["parse_data"]
    args = dict(conversation_id="c1", events=events,
                slots={"order_number": "10234", "language": "en", "requested_slot": None,
                       "handoff_reason": None},
                latest_message=latest, reason=Reason.ASKED, now=100.0)
    args.update(overrides)
    return build_ticket(**args)


def test_ticket_carries_order_number_transcript_reason_language_channel():
    ticket = _ticket()
    assert ticket.slots == {"order_number": "10234", "language": "en"}
    assert {"entity": "order_number", "value": "10234"} in ticket.entities
    assert ticket.reason == "asked"
    assert ticket.language == "en"
    assert ticket.channel == "socketio"
    assert ticket.customer["id"] == "c1"
    assert [t["kind"] for t in ticket.transcript] == ["customer", "bot", "customer", "bot",
                                                     "customer"]
    assert ticket.transcript[2]["text"] == "where is my order 10234"
    assert ticket.intent_ranking[0]["name"] == "request_human"
    assert "10234" in ticket.summary and "10234" in ticket.summary_fr
    # Topics in words, in each language, never as intent names.
    assert "Topics: Order status." in ticket.summary and "order_status" not in ticket.summary
    assert "Sujets : Suivi de commande." in ticket.summary_fr


def test_ticket_round_trips_through_json():
    ticket = _ticket(earlier_conversations=[{"ticket_id": "old"}])
    again = Ticket.from_json(ticket.to_json())
    assert again == ticket


def test_reason_follows_the_last_intent():
    assert reason_for("request_human") is Reason.ASKED
    assert reason_for("nlu_fallback") is Reason.NOT_UNDERSTOOD
    assert reason_for("complaint") is Reason.COMPLAINT
    assert reason_for("frustration") is Reason.FRUSTRATION
    assert reason_for("sensitive_topic") is Reason.SENSITIVE
    assert reason_for(None) is Reason.ASKED


def test_french_conversation_gives_a_french_ticket():
    ticket = _ticket(slots={"language": "fr"})
    assert ticket.language == "fr"
    assert ticket.summary_fr.endswith("A demandé à parler à une personne.")


def test_transcript_marks_agent_turns_buttons_and_handoff_markers():
    meta = agent_metadata("marie", "Marie", "msg-1", "client-1")
    turns = turns_from_events([
        ev.user("/affirm", "affirm", ts=1.0),
        {"event": "pause", "timestamp": 2.0},
        ev.bot("Hello, Marie here", ts=3.0, metadata=meta),
        {"event": "resume", "timestamp": 4.0},
        {"event": "slot", "name": "x", "value": 1, "timestamp": 4.1},
    ])
    assert [t["kind"] for t in turns] == ["customer", "marker", "agent", "marker"]
    assert turns[0]["payload"] == "/affirm"
    assert turns[1]["marker"] == MARKER_STARTED and turns[3]["marker"] == MARKER_ENDED
    assert turns[2]["agent"] == "Marie" and turns[2]["id"] == "msg-1"
    assert turns[2]["client_id"] == "client-1"
