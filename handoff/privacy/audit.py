"""The record of what was done with customers' data: exports, erasures, retention passes.

An entry says what was done, by whom (a supervisor's username, `operator` for the command line,
`retention` for the job), when, under which reference (the operator's own request number, e.g.
a ticket of the data-protection officer), and how many things of each kind were exported or
erased. It never holds the customer's data or identifiers: the record of an erasure must not
undo it. Kept `HANDOFF_RETAIN_AUDIT_DAYS` (`handoff.privacy.retention`).
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Mapping, Optional

from redis.asyncio import Redis

from handoff import pii
from handoff.keys import Keys

ACTIONS = ("export", "erase", "retention")
MAX_REFERENCE = 128


def valid_reference(reference: Any, identity: str = "") -> Optional[str]:
    """The operator's reference if it is a short line of text ('' when none).

    A reference naming the customer (their identity, an e-mail address, a phone number) is
    refused: it would outlive the erasure in this log.
    """
    if reference is None:
        return ""
    if not isinstance(reference, str) or len(reference) > MAX_REFERENCE or \
            any(ch in reference for ch in "\r\n\0"):
        return None
    if pii.emails(reference) or pii.phones(reference) or \
            (identity and identity.lower() in reference.lower()):
        return None
    return reference.strip()


async def record(redis: Redis, keys: Keys, action: str, by: str, counts: Mapping[str, int],
                 reference: str = "", at: Optional[float] = None) -> str:
    """Appends an entry; its id."""
    assert action in ACTIONS
    return await redis.xadd(keys.privacy_audit, {
        "action": action, "by": by, "reference": reference,
        "at": repr(time.time() if at is None else at),
        "counts": json.dumps(dict(counts), sort_keys=True)})


async def entries(redis: Redis, keys: Keys, count: int = 100) -> List[Dict[str, Any]]:
    """The latest entries, newest first."""
    found = await redis.xrevrange(keys.privacy_audit, "+", "-", count=count)
    return [{"id": entry_id, **fields, "counts": json.loads(fields.get("counts") or "{}")}
            for entry_id, fields in found]
