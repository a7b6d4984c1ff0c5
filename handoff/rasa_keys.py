"""Moving Rasa's trackers and locks to the names that share their conversation's hash slot.

    python -m handoff.rasa_keys            # moves every one left, showing progress
    python -m handoff.rasa_keys --check    # counts them, moves nothing

Rasa's own stores named them `hfv1:tracker:<id>` and `hfv1:lock:<id>`; the project's stores use
`hfv1:tracker:{<id>}` and `hfv1:lock:{<id>}` (`handoff.keys.RasaKeys`), in the slot of the
conversation's other keys, which a Redis Cluster needs. The stores and the live path's
write-behind already find a tracker or a lock under the old name and move it when they next write
it; this moves the rest (conversations nobody wrote to since the upgrade), on a single Redis or
a Sentinel group: a Cluster cannot rename a key into another slot, so run it before moving the
data to a Cluster (docs/deploy.md). Safe while the product runs, and to run again: each key
moves in one Lua step, only when nothing is under the new name yet.

A key under both names (an older Rasa process ran beside a new one) is left as it is and
reported: the new one is what the product reads. A stale lock there (every ticket expired) is
dropped instead: it holds nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from redis.asyncio import Redis

from handoff.keys import RASA_KEY_PREFIX, RASA_KEYS, RasaKeys, is_hash_tagged
from handoff.redis_client import CLUSTER, RedisAddress, Script, connect
from handoff.relay.stored_tracker import LOCK_HELD
from handoff.settings import Settings

SCAN_COUNT = 1000
BATCH = 500  # keys moved per round trip
PROGRESS_EVERY = 10_000  # keys looked at between two progress lines
SHOWN = 20  # keys under both names listed by name

MOVED, GONE, BOTH, DROPPED, NEW = "moved", "gone", "both", "dropped", "new"

# KEYS: the old name, the new name. ARGV: `tracker` or `lock`, now (seconds), `move` or `check`
# (say what would be done, do nothing), and for a name that ends in `{…}` (the old name of an id
# `{x}`, or the new name of `x`: the stored JSON tells) the JSON of `x` and the id `{x}`.
_MOVE = LOCK_HELD + """
local value = redis.call('GET', KEYS[1])
if not value then return 'gone' end
if ARGV[4] then
  local field = 'conversation_id'
  if ARGV[1] == 'tracker' then
    field = 'name'
    local tail = '"name": ' .. ARGV[4] .. '}'
    if string.sub(value, -#tail) == tail then return 'new' end
  end
  local ok, stored = pcall(cjson.decode, value)
  if not ok or type(stored) ~= 'table' or stored[field] ~= ARGV[5] then return 'new' end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if ARGV[1] == 'lock' and not held(value, tonumber(ARGV[2])) then
    if ARGV[3] == 'move' then redis.call('DEL', KEYS[1]) end
    return 'dropped'
  end
  return 'both'
end
if ARGV[3] == 'move' then redis.call('RENAME', KEYS[1], KEYS[2]) end
return 'moved'
"""


@dataclass
class Outcome:
    """What a pass found and did."""

    looked_at: int = 0  # keys of either layout
    moved: int = 0  # (with `check`: to move)
    dropped: int = 0  # stale locks already under the new name too (with `check`: to drop)
    both: List[str] = field(default_factory=list)  # left under both names

    @property
    def done(self) -> bool:
        """Whether nothing is left under the old names."""
        return not self.both


async def migrate(redis: Redis, rasa: RasaKeys = RASA_KEYS, check: bool = False,
                  say: Callable[[str], None] = lambda _: None,
                  clock: Callable[[], float] = time.time) -> Outcome:
    """Moves (or, with `check`, counts) every tracker and lock under its old name."""
    outcome = Outcome()
    move = Script(redis, _MOVE)
    for kind, pattern in (("tracker", rasa.tracker_pattern), ("lock", rasa.lock_pattern)):
        batch: List[Tuple[str, str]] = []
        async for raw in redis.scan_iter(match=pattern, count=SCAN_COUNT):
            key = raw.decode() if isinstance(raw, bytes) else raw
            outcome.looked_at += 1
            batch.append((kind, key))
            if len(batch) >= BATCH:
                await _pass(redis, rasa, move, batch, check, outcome, clock)
                batch = []
            if outcome.looked_at % PROGRESS_EVERY == 0:
                say(_progress(outcome, check))
        await _pass(redis, rasa, move, batch, check, outcome, clock)
    return outcome


async def _pass(redis: Redis, rasa: RasaKeys, move: Script, batch: List[Tuple[str, str]],
                check: bool, outcome: Outcome, clock: Callable[[], float]) -> None:
    if not batch:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for kind, key in batch:
            start = rasa.legacy_tracker("") if kind == "tracker" else rasa.legacy_lock("")
            cid = key[len(start):]  # as the old name reads
            new = rasa.tracker(cid) if kind == "tracker" else rasa.lock(cid)
            args = [kind, repr(clock()), "check" if check else "move"]
            if is_hash_tagged(cid):
                args += [json.dumps(cid[1:-1]), cid]
            await move(keys=[key, new], args=args, client=pipe)
        replies = await pipe.execute()
    for (_, key), reply in zip(batch, replies, strict=True):
        if reply == MOVED:
            outcome.moved += 1
        elif reply == DROPPED:
            outcome.dropped += 1
        elif reply == BOTH:
            outcome.both.append(key)


def _progress(outcome: Outcome, check: bool) -> str:
    moved, dropped = ("to move", "to drop") if check else ("moved", "dropped")
    return (f"looked at {outcome.looked_at} keys: {outcome.moved} {moved}, "
            f"{outcome.dropped} stale locks {dropped}, {len(outcome.both)} under both names")


async def _run(args: argparse.Namespace) -> int:
    url = Settings.from_env().redis_url
    if RedisAddress.parse(url).kind == CLUSTER:
        # A Cluster cannot rename a key into another slot: every move would be refused.
        print("REDIS_URL names a Redis Cluster: run this on the single Redis or Sentinel group "
              "the data comes from, before moving it to the Cluster (docs/deploy.md).\n"
              "REDIS_URL désigne un Redis Cluster : lancez cette commande sur le Redis seul ou "
              "le groupe Sentinel d'où viennent les données, avant de les passer sur le Cluster "
              "(docs/deploy.md).", file=sys.stderr)
        return 2
    redis = connect(url)
    try:
        outcome = await migrate(redis, RasaKeys(args.prefix), check=args.check, say=print)
    finally:
        await redis.close(close_connection_pool=True)
    print(_progress(outcome, args.check) + ".")
    if outcome.both:
        print("Under both names (the new one is read; compare them and delete the old one):")
        for key in outcome.both[:SHOWN]:
            print(f"  {key}")
        if len(outcome.both) > SHOWN:
            print(f"  … and {len(outcome.both) - SHOWN} more")
    if args.check:
        return 1 if outcome.moved or outcome.dropped or outcome.both else 0
    return 0 if outcome.done else 1


def main(argv: Optional[list] = None) -> int:
    """`python -m handoff.rasa_keys [--check] [--prefix hfv1]` (with `REDIS_URL` set)."""
    parser = argparse.ArgumentParser(prog="python -m handoff.rasa_keys",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="count the keys under their old names, move nothing "
                             "(exit status 1 while any is left)")
    parser.add_argument("--prefix", default=RASA_KEY_PREFIX,
                        help="`key_prefix` of the tracker and lock stores in endpoints.yml")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
