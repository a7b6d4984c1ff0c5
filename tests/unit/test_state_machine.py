"""The transition table of the conversation state machine."""

import pytest

from handoff.conversation import ALLOWED, IllegalTransition, State, check_transition


def test_every_state_has_an_entry():
    assert set(ALLOWED) == set(State)


@pytest.mark.parametrize("current,target", [
    (State.BOT, State.QUEUED), (State.QUEUED, State.ASSIGNED), (State.ASSIGNED, State.BOT),
    (State.ASSIGNED, State.CLOSED), (State.ASSIGNED, State.TRANSFERRED),
    (State.TRANSFERRED, State.ASSIGNED), (State.CLOSED, State.QUEUED), (State.QUEUED, State.BOT),
    (State.TRANSFERRED, State.TRANSFERRED), (State.ASSIGNED, State.QUEUED),
    (State.TRANSFERRED, State.QUEUED),
])
def test_allowed_moves(current, target):
    check_transition("c", current, target)


@pytest.mark.parametrize("current,target", [
    (State.BOT, State.ASSIGNED), (State.BOT, State.CLOSED), (State.ASSIGNED, State.ASSIGNED),
    (State.QUEUED, State.QUEUED), (State.CLOSED, State.ASSIGNED), (State.BOT, State.BOT),
])
def test_illegal_moves_are_refused(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_transition("c", current, target)
    assert info.value.current is current and info.value.target is target
