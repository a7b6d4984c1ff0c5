"""Waits that count everyone who waited (`handoff.service.insights.dashboard_now`)."""

from __future__ import annotations

from handoff.service.insights.dashboard_now import answered_within, target_of, waited
from handoff.service.jobs.sla import DEFAULT_FIRST_REPLY_SLA

AT = 10_000.0
TARGETS = {"orders": 120}


def test_a_wait_ends_at_the_reply_at_the_end_or_now():
    assert waited({"queued_at": "100", "first_reply_at": "130"}, AT) == 30
    assert waited({"queued_at": "100", "ended_at": "400", "outcome": "abandoned"}, AT) == 300
    assert waited({"queued_at": "9000"}, AT) == 1000  # still waiting
    assert waited({}, AT) is None


def test_the_share_answered_within_target_counts_those_not_answered():
    handoffs = [
        {"queued_at": "100", "first_reply_at": "150", "team": "orders"},    # within 120 s
        {"queued_at": "100", "first_reply_at": "400", "team": "orders"},    # late reply
        {"queued_at": "100", "ended_at": "200", "team": "orders"},          # left unanswered
        {"queued_at": str(AT - 1000), "team": "orders"},                    # waiting, past target
        {"queued_at": str(AT - 10), "team": "orders"},                      # waiting, in time yet
    ]
    found = answered_within(handoffs, TARGETS, AT)
    assert found == {"count": 4, "within": 1, "rate": 0.25}


def test_a_conversation_for_no_team_has_the_default_target():
    assert target_of(TARGETS, None) == target_of(TARGETS, "") == DEFAULT_FIRST_REPLY_SLA
    assert answered_within([], TARGETS, AT) == {"count": 0, "within": 0, "rate": None}
