"""Reading Redis whole, whatever a key holds: the privacy tools' view of the store.

The stores of the product each read their own keys; finding one customer everywhere, exporting
and erasing them needs the opposite: every key and stream entry, read by its type.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Dict, Iterable, List, Set, Tuple

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.exceptions import RedisError, ResponseError

from handoff.keys import RASA_KEY_PREFIX, RASA_KEYS, Keys
from handoff.redis_client import get_many, is_cluster, scan_keys

SCAN_COUNT = 500
RANGE_COUNT = 1000  # stream entries read per XRANGE

# Streams shared by every conversation: their entries name the conversation in their fields.
Entry = Tuple[str, Dict[str, str]]


def shared_streams(keys: Keys) -> List[str]:
    """Every stream whose entries belong to many customers."""
    return [keys.events_stream, keys.relay_stream, keys.outbox_stream, keys.tickets_stream,
            keys.customer_requests_stream, keys.customer_out_stream, keys.dead_letters]


def glob_escape(text: str) -> str:
    """`text` matched literally by a SCAN pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def conversation_pattern(keys: Keys, conversation_id: str) -> str:
    """Every per-conversation key of `conversation_id` (they share its hash tag)."""
    return keys.conversation(glob_escape(conversation_id)) + "*"


def rasa_patterns() -> List[str]:
    """Rasa's own keys (trackers and locks), beside the product's prefix."""
    return [f"{RASA_KEY_PREFIX}:*"]


async def scan(redis: Redis, pattern: str) -> AsyncIterator[str]:
    """Key names matching `pattern`, on every primary of a Cluster (`scan_keys`)."""
    async for key in scan_keys(redis, pattern, SCAN_COUNT):
        yield key


async def read_key(redis: Redis, key: str) -> Tuple[str, Any]:
    """The key's type and its value as JSON-friendly data (`none`, None when it is gone)."""
    kind = await redis.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return kind, await redis.get(key)
    if kind == "hash":
        return kind, await redis.hgetall(key)
    if kind == "list":
        return kind, await redis.lrange(key, 0, -1)
    if kind == "set":
        return kind, sorted(await redis.smembers(key))
    if kind == "zset":
        return kind, [[member, score] for member, score in
                      await redis.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return kind, [[entry_id, fields] async for entry_id, fields in entries(redis, key)]
    return kind, None


async def entries(redis: Redis, stream: str) -> AsyncIterator[Entry]:
    """Every entry of a stream, oldest first, a page at a time."""
    start = "-"
    while True:
        try:
            page = await redis.xrange(stream, start, "+", count=RANGE_COUNT)
        except ResponseError:
            return  # not a stream (or gone)
        for entry_id, fields in page:
            yield entry_id, fields
        if len(page) < RANGE_COUNT:
            return
        start = "(" + page[-1][0]


def mentions(text: str, needles: Iterable[str]) -> bool:
    """Whether `text` contains any of `needles` (case ignored)."""
    lowered = text.lower()
    return any(needle.lower() in lowered for needle in needles if needle)


def entry_text(fields: Dict[str, str]) -> str:
    """A stream entry's fields as one string, to look for identifiers in."""
    return json.dumps(fields, ensure_ascii=False)


async def tracker(redis: Redis, conversation_id: str) -> Dict[str, Any]:
    """Rasa's stored tracker of the conversation (`{}` when there is none), either name."""
    # Two slots on a Cluster (the old name has no hash tag): one GET each there.
    new, old = await get_many(redis, RASA_KEYS.trackers(conversation_id))
    raw = new if new is not None else old
    return json.loads(raw) if raw else {}


async def rewrite_persistence(redis: Redis, patience: float = 60.0) -> List[str]:
    """Asks Redis to rewrite its files from what it holds now; what it was asked.

    Erased data otherwise stays in the append-only file (and an RDB snapshot) until Redis
    rewrites it on its own. A rewrite already under way started before the erasure, so its
    files still hold the data: Redis refuses a second one meanwhile, and it is asked again once
    that one is over (for up to `patience` s). Best effort: a Redis whose ACL refuses these
    commands keeps its files as they are (docs/privacy.md says what the operator does then).

    On a Redis Cluster every node is asked, replicas too (each keeps files of its own; these
    commands name no key, so the cluster client sends them nowhere unless told where): a kind
    is reported once every node that keeps such files was asked.
    """
    if not is_cluster(redis):
        _, asked = await _rewrite_node(redis, patience)
        return [kind for kind in _KINDS if kind in asked]
    replicas = await _replicas(redis)
    try:
        found = [await _rewrite_node(redis, patience, target_nodes=node)
                 for node in redis.get_nodes() + replicas]
    finally:
        for node in replicas:  # connections of their own, not the client's
            await node.disconnect()
    return [kind for kind in _KINDS if any(kind in asked for _, asked in found)
            and all(kind in asked for kept, asked in found if kind in kept)]


_KINDS = ("aof", "rdb")


async def _replicas(redis: Any) -> List[AsyncClusterNode]:
    """The Cluster's live replicas, which its client does not know (it reads from primaries)."""
    found = []
    try:
        nodes = await redis.cluster_nodes()
    except RedisError:
        return []
    for address, node in nodes.items():
        flags = set(str(node.get("flags", "")).split(","))
        if "slave" in flags and not flags & {"fail", "fail?", "noaddr"} and node.get("connected"):
            host, _, port = address.rpartition(":")
            found.append(AsyncClusterNode(host, int(port), server_type="replica",
                                          **redis.nodes_manager.connection_kwargs))
    return found


async def _rewrite_node(redis: Redis, patience: float,
                        **node: Any) -> Tuple[Set[str], Set[str]]:
    """What one Redis keeps (`aof`, `rdb`), and what it was asked to rewrite."""
    kept: Set[str] = set()
    asked: Set[str] = set()
    try:
        info = await redis.info("persistence", **node)
        if info.get("aof_enabled"):
            kept.add("aof")
            if await _rewrite_aof(redis, patience, **node):
                asked.add("aof")
        if info.get("rdb_saves"):
            kept.add("rdb")
            await redis.execute_command("BGSAVE", "SCHEDULE", **node)
            asked.add("rdb")
    except RedisError:
        pass
    return kept, asked


async def _rewrite_aof(redis: Redis, patience: float, **node: Any) -> bool:
    deadline = time.monotonic() + patience
    while True:
        try:
            await redis.bgrewriteaof(**node)
            return True
        except ResponseError as exc:
            if "in progress" not in str(exc) or time.monotonic() > deadline:
                return False
        await asyncio.sleep(0.2)
