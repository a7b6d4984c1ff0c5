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
