"""The atomic steps of the smaller modules on the tests' real Redis Cluster (issue 17), and the
same tests on a single Redis: each through the module's public API, checking what it wrote.

On a Cluster a Lua step, MULTI or WATCH may touch one slot only, and redis-py's cluster
pipelines are not transactions (`pipeline(transaction=True)` raises): each module's steps are
on one slot there, the writes in other slots following (see docs/architecture.md).
"""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from handoff import notes
from handoff.keys import Keys

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()


@pytest.fixture(params=["single", "cluster"])
def client(request):  # type: ignore[no-untyped-def]
    """Each test on a single Redis and on the Cluster."""
    return request.getfixturevalue("redis" if request.param == "single" else "cluster_client")


def _slots(*keys: str) -> int:
    """How many hash slots `keys` fall in (for tests that need keys on several)."""
    return len({key_slot(key.encode()) for key in keys})


async def test_notes_are_added_and_trimmed(client, monkeypatch):
    monkeypatch.setattr(notes, "MAX_NOTES", 3)
    for n in range(5):
        await notes.add(client, KEYS, "c1", "alice", "Alice", f"note {n}")
    kept = await notes.all_notes(client, KEYS, "c1")
    assert [note["text"] for note in kept] == ["note 2", "note 3", "note 4"]
    assert {note["agent"] for note in kept} == {"alice"}
