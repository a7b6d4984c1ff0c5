"""Teams: the shipped file is bilingual, and console frames reach only their audience."""

import pytest

from handoff import push
from handoff.accounts import Agent
from handoff.teams import TeamsError, load

MARIE = Agent("marie", "Marie", "agent", teams=("orders",))
PAUL = Agent("paul", "Paul", "agent", teams=("billing",))
NOBODY = Agent("lea", "Léa", "agent")
SAM = Agent("sam", "Sam", "supervisor")


def test_shipped_teams_have_both_labels():
    teams = load()
    assert {"orders", "billing", "technical"} <= set(teams)
    assert teams["billing"].label == {"en": "Billing and payments",
                                      "fr": "Facturation et paiements"}


@pytest.mark.parametrize("text,error", [
    ("billing: {en: Billing}\n", "billing needs a label in en and fr"),
    ("'bad id': {en: X, fr: X}\n", "must be letters"),
    ("- orders\n", "expected a mapping"),
])
def test_a_malformed_teams_file_is_refused(tmp_path, text, error):
    path = tmp_path / "teams.yml"
    path.write_text(text)
    with pytest.raises(TeamsError, match=error):
        load(path)


@pytest.mark.parametrize("audience,reached", [
    (push.everyone(), {"marie", "paul", "lea", "sam"}),
    (push.agents("marie"), {"marie", "sam"}),
    (push.agents("marie", "paul", None), {"marie", "paul", "sam"}),
    (push.agents(None), {"sam"}),
    (push.team("billing"), {"paul", "sam"}),
    (push.team(None), {"marie", "paul", "lea", "sam"}),
])
def test_frames_reach_only_their_audience(audience, reached):
    assert {a.username for a in (MARIE, PAUL, NOBODY, SAM) if push.reaches(audience, a)} == reached


def test_limits_per_team_in_cents():
    teams = load()
    assert (teams["orders"].limit("refund"), teams["orders"].limit("voucher")) == (5000, 2000)
    assert teams["technical"].limit("refund") == 0  # none set: a supervisor approves every one
    assert teams["orders"].public()["limits"] == {"refund": 5000, "voucher": 2000}


@pytest.mark.parametrize("conversation_team, agent_teams, expected", [
    ("orders", ("orders", "billing"), 5000),   # the conversation's team, the agent is in it
    ("technical", ("orders", "billing"), 10000),  # not in it: the agent's highest
    (None, ("orders",), 5000),
    ("orders", (), 0),                          # in no team: everything goes to a supervisor
    (None, ("technical",), 0),
])
def test_the_limit_that_applies(conversation_team, agent_teams, expected):
    from handoff.teams import limit_for
    assert limit_for(load(), "refund", conversation_team, agent_teams) == expected


@pytest.mark.parametrize("limits", ["{refund: -1}", "{refund: lots}", "{cancel: 10}", "[1, 2]"])
def test_malformed_limits_are_refused(tmp_path, limits):
    path = tmp_path / "teams.yml"
    path.write_text(f"orders: {{en: O, fr: O, limits: {limits}}}\n")
    with pytest.raises(TeamsError, match="limit"):
        load(path)
