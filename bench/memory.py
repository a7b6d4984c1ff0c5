"""Memory: a process's resident set, and the Redis bytes that belong to conversations."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterable, List

from redis.asyncio import Redis

from handoff.keys import Keys

_TIMESTAMPED = re.compile(r":\d{9,}(\.\d+)?$")  # keys that end in a time: one kind


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc/PID/stat."""
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time every process of the machine has used so far (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """VmRSS of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def used_memory(redis: Redis) -> int:
    """Redis's `used_memory` (INFO memory)."""
    return int((await redis.info("memory"))["used_memory"])


async def conversation_keys(redis: Redis, keys: Keys, conversation_id: str) -> List[str]:
    """Every key of one conversation.

    Those named after it (tracker, lock, conversation hash and its sub-keys, journal, message
    ids) and its ticket.
    """
    found = [key async for key in redis.scan_iter(match=f"*{conversation_id}*", count=1000)]
    ticket_id = await redis.hget(keys.conversation(conversation_id), "ticket_id")
    if ticket_id:
        found.append(f"{keys.prefix}:ticket:{_text(ticket_id)}")
    return [_text(key) for key in found]


async def bytes_of_conversations(redis: Redis, keys: Keys,
                                 conversation_ids: Iterable[str]) -> Dict[str, float]:
    """MEMORY USAGE summed over each conversation's keys: mean bytes and the biggest kinds."""
    totals: List[int] = []
    by_kind: Dict[str, int] = {}
    for cid in conversation_ids:
        total = 0
        for key in await conversation_keys(redis, keys, cid):
            size = int(await redis.memory_usage(key, samples=0) or 0)
            total += size
            kind = key.replace(cid, "<id>")
            kind = kind.split(":ticket:")[0] + ":ticket:<ticket>" if ":ticket:" in kind else kind
            kind = kind.split(":web-msg:")[0] + ":web-msg:<message>" if ":web-msg:" in kind \
                else kind
            kind = _TIMESTAMPED.sub(":<time>", kind)
            by_kind[kind] = by_kind.get(kind, 0) + size
        totals.append(total)
    count = max(1, len(totals))
    return {"conversations": len(totals), "mean_bytes": sum(totals) / count,
            "max_bytes": max(totals, default=0),
            "by_kind": {k: v / count for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])}}


async def stream_bytes(redis: Redis, keys: Keys) -> Dict[str, int]:
    """MEMORY USAGE of the shared streams (events, tickets, outbox, relay, customer-out).

    They hold every conversation's entries until the trimmer removes handled ones.
    """
    names = {"events": keys.events_stream, "tickets": keys.tickets_stream,
             "outbox": keys.outbox_stream, "relay": keys.relay_stream,
             "customer-out": keys.customer_out_stream}
    return {name: int(await redis.memory_usage(key, samples=0) or 0)
            for name, key in names.items()}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
