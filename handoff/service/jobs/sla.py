"""First-reply SLA: how long a team may take, from the handoff to its first reply to the customer.

Each team sets `first_reply_sla` (seconds) in `handoff/teams.yml`; a conversation for no team
uses `DEFAULT_FIRST_REPLY_SLA`. The clock starts when the conversation is queued and stops at the
first agent message accepted for it (`first_reply_at` in the conversation hash). Supervisors see
`near` when less than `NEAR_SHARE` of the time is left, and `breached` after it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

DEFAULT_FIRST_REPLY_SLA = 300
NEAR_SHARE = 0.25


def sla_status(queued_at: Optional[float], first_reply_at: Optional[float], sla: int,
               now: float) -> Optional[Dict[str, Any]]:
    """`{"due_at", "seconds_left", "state": ok|near|breached|met|missed}`, None if never queued."""
    if not queued_at:
        return None
    due = queued_at + sla
    if first_reply_at:
        state = "met" if first_reply_at <= due else "missed"
        return {"due_at": due, "seconds_left": None, "state": state,
                "first_reply_after": first_reply_at - queued_at}
    left = due - now
    state = "breached" if left < 0 else "near" if left < sla * NEAR_SHARE else "ok"
    return {"due_at": due, "seconds_left": left, "state": state, "first_reply_after": None}
