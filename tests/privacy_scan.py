"""Looking for a person's data anywhere: every Redis key (by its type), stream entry and file.

Written apart from `handoff.privacy` on purpose: a test of the erasure must not trust the
erasure's own idea of where data is. Values are read raw and, when they hold JSON, decoded too
(Rasa's tracker store escapes non-ASCII text: "Zoé" is stored as "Zo\\u00e9").
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Iterable, List, Tuple

from redis.asyncio import Redis


async def every_value(redis: Redis) -> List[Tuple[str, str]]:
    """(key, text) for every key of the database: its name, and each value it holds."""
    found: List[Tuple[str, str]] = []
    async for key in redis.scan_iter(count=1000):
        found.append((key, key))
        kind = await redis.type(key)
        if kind == "string":
            values: Iterable[Any] = [await redis.get(key)]
        elif kind == "hash":
            values = [f"{k}={v}" for k, v in (await redis.hgetall(key)).items()]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)
        elif kind == "set":
            values = await redis.smembers(key)
        elif kind == "zset":
            values = [m for m, _ in await redis.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            values = [f"{entry_id} {json.dumps(fields, ensure_ascii=False)}"
                      for entry_id, fields in await redis.xrange(key, "-", "+")]
        else:
            values = []
        found.extend((key, _readable(str(v))) for v in values if v is not None)
    return found


def _readable(text: str) -> str:
    """The text, plus its JSON decoded (escaped characters as themselves) when it is JSON."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return text + "\n" + json.dumps(decoded, ensure_ascii=False)


async def traces(redis: Redis, needles: Iterable[str]) -> List[Tuple[str, str]]:
    """(key, needle) for each needle found anywhere in Redis (case ignored)."""
    wanted = [n for n in needles if n]
    hits = set()
    for key, text in await every_value(redis):
        lowered = text.lower()
        hits.update((key, n) for n in wanted if n.lower() in lowered)
    return sorted(hits)


def file_traces(paths: Iterable[Path], needles: Iterable[str]) -> List[Tuple[str, str]]:
    """(file, needle) for each needle found in the files (bytes decoded leniently)."""
    wanted = [n for n in needles if n]
    hits = []
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace").lower()
        hits.extend((str(path), n) for n in wanted if n.lower() in text)
    return hits


async def rewritten(redis: Redis) -> None:
    """Waits until Redis has rewritten its append-only file (asked by an erasure)."""
    for _ in range(300):
        info = await redis.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("Redis never finished rewriting its append-only file")
