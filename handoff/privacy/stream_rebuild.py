"""Rewriting a stream's storage after an erasure, so that erased entries leave no bytes behind.

`XDEL` only flags an entry deleted inside its node (a listpack of up to 100 entries): the node
keeps the entry's bytes while any other entry of it is alive, and Redis's rewritten files (AOF
base, RDB) copy the node whole. Rebuilding the stream writes the live entries into new nodes.

Everything a reader relies on is carried over in the same atomic step: entry ids, the last id,
the counters behind consumer lag, every consumer group's position and read count, and each
pending entry with its consumer, delivery time and delivery count. Pending ids whose entry is
gone are dropped (they could only ever be read as empty). The step reads the whole stream, so
it costs time in proportion to it; the shared streams are trimmed (handoff/streams.py), and an
erasure is rare.
"""

from __future__ import annotations

from redis.asyncio import Redis

from handoff.redis_client import Script

# KEYS: the stream. Returns the number of live entries rewritten (0: nothing to do).
_REBUILD = """
local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
  return nil
end
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('TYPE', KEYS[1]).ok ~= 'stream' then
  return 0
end
local info = redis.call('XINFO', 'STREAM', KEYS[1], 'FULL', 'COUNT', 0)
local entries = field(info, 'entries')
-- An empty stream has no node left to hold anything.
if #entries == 0 then return 0 end
local groups = field(info, 'groups')
redis.call('DEL', KEYS[1])
for _, entry in ipairs(entries) do
  redis.call('XADD', KEYS[1], entry[1], unpack(entry[2]))
end
redis.call('XSETID', KEYS[1], field(info, 'last-generated-id'),
           'ENTRIESADDED', field(info, 'entries-added'),
           'MAXDELETEDID', field(info, 'max-deleted-entry-id'))
for _, group in ipairs(groups) do
  local name = field(group, 'name')
  local read = field(group, 'entries-read')
  if read then
    redis.call('XGROUP', 'CREATE', KEYS[1], name, field(group, 'last-delivered-id'),
               'ENTRIESREAD', read)
  else
    redis.call('XGROUP', 'CREATE', KEYS[1], name, field(group, 'last-delivered-id'))
  end
  for _, consumer in ipairs(field(group, 'consumers')) do
    redis.call('XGROUP', 'CREATECONSUMER', KEYS[1], name, field(consumer, 'name'))
  end
  -- pending: id, consumer, delivery time (ms), delivery count
  for _, pending in ipairs(field(group, 'pending')) do
    redis.call('XCLAIM', KEYS[1], name, pending[2], 0, pending[1], 'TIME', pending[3],
               'RETRYCOUNT', pending[4], 'FORCE', 'JUSTID')
  end
end
return #entries
"""


class StreamRebuilder:
    """Rewrites streams in new nodes (see the module's docstring)."""

    def __init__(self, redis: Redis) -> None:
        self._rebuild = Script(redis, _REBUILD)

    async def rebuild(self, stream: str) -> int:
        """Rewrites `stream`; how many live entries it holds (0: nothing was done)."""
        return int(await self._rebuild(keys=[stream]))
