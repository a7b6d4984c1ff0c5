"""First-reply SLA states."""

from handoff.service.jobs.sla import sla_status


def test_states_from_waiting_to_answered():
    assert sla_status(None, None, 120, 1000.0) is None
    assert sla_status(1000.0, None, 120, 1010.0)["state"] == "ok"
    near = sla_status(1000.0, None, 120, 1100.0)
    assert near["state"] == "near" and near["seconds_left"] == 20
    late = sla_status(1000.0, None, 120, 1200.0)
    assert late["state"] == "breached" and late["seconds_left"] == -80
    assert sla_status(1000.0, 1060.0, 120, 5000.0) == {
        "due_at": 1120.0, "seconds_left": None, "state": "met", "first_reply_after": 60.0}
    assert sla_status(1000.0, 1500.0, 120, 5000.0)["state"] == "missed"
