"""Routing rules: team by topic and slot, place by priority, who may be given a ticket."""

from handoff.accounts import Agent
from handoff.routing import HEAD_START, pick_agent, queue_score, route
from handoff.teams import load
from handoff.ticket import Reason, build_ticket
from tests import events as ev

TEAMS = load()


def _ticket(*intents: str, slots=None, reason=Reason.ASKED, now=1000.0, earlier=None, vip=False):
    events = [ev.user(f"message {i}", intent, ts=float(i)) for i, intent in enumerate(intents)]
    return build_ticket("c", events, dict(slots or {}, language="en"), events[-1]["parse_data"],
                        reason, earlier_conversations=earlier, now=now, vip=vip)


def test_the_latest_topic_a_team_lists_wins():
    assert route(_ticket("payment_methods", "order_status", "request_human"), TEAMS) == "orders"
    assert route(_ticket("order_status", "payment_methods", "request_human"), TEAMS) == "billing"
    assert route(_ticket("account_reset", "complaint"), TEAMS) == "technical"


def test_a_slot_routes_when_no_topic_does():
    assert route(_ticket("request_human", slots={"order_number": "10234"}), TEAMS) == "orders"
    assert route(_ticket("greet", "request_human"), TEAMS) is None


def test_priority_reasons_add_up_and_give_a_bounded_head_start():
    plain = _ticket("request_human")
    complaint = _ticket("complaint", reason=Reason.COMPLAINT)
    back = _ticket("request_human", earlier=[{"created_at": 1000.0 - 3600}])
    long_ago = _ticket("request_human", earlier=[{"created_at": 1000.0 - 72 * 3600}])
    vip_complaint = _ticket("complaint", reason=Reason.COMPLAINT, vip=True,
                            earlier=[{"created_at": 990.0}])
    assert (plain.priority, complaint.priority, back.priority, long_ago.priority) == (0, 1, 1, 0)
    assert back.priority_reasons == ["repeat_48h"]
    assert vip_complaint.priority == 3
    assert vip_complaint.priority_reasons == ["complaint", "repeat_48h", "vip"]
    assert queue_score(plain) - queue_score(vip_complaint) == 3 * HEAD_START


MARIE = Agent("marie", "Marie", "agent", 2, ("orders",), ("en", "fr"))
NORA = Agent("nora", "Nora", "agent", 2, ("orders",), ("fr",))
OWEN = Agent("owen", "Owen", "agent", 2, ("orders",), ("en",))
SAM = Agent("sam", "Sam", "supervisor", 5, ("orders",), ("en", "fr"))


def test_the_least_busy_available_agent_with_the_skills_gets_it():
    everyone = [MARIE, NORA, OWEN, SAM]
    online = ["marie", "nora", "owen", "sam"]
    assert pick_agent(everyone, "orders", "en", {"marie": 1}, online, {}).username == "owen"
    assert pick_agent(everyone, "orders", "fr", {"marie": 0, "nora": 1}, online,
                      {}).username == "marie"
    # Equal load: the one who got a conversation longest ago.
    assert pick_agent(everyone, "orders", "en", {}, online,
                      {"marie": 50.0, "owen": 10.0}).username == "owen"
    # Full, offline, wrong team or language, or supervisor: nobody.
    assert pick_agent(everyone, "orders", "en", {"marie": 2, "owen": 2}, online, {}) is None
    assert pick_agent(everyone, "orders", "en", {}, ["nora", "sam"], {}) is None
    assert pick_agent(everyone, "billing", "en", {}, online, {}) is None
