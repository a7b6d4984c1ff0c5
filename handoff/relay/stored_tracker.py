"""Appending the human segment's turns to Rasa's stored tracker, in Redis, without Rasa.

Rasa's Redis tracker store keeps a conversation as one JSON string, `{"events": [...], "name":
<id>}` (`hfv1:tracker:<id>`, endpoints.yml), which Rasa reads whole at the start of each turn
and writes whole at its end, under its ticket lock (`hfv1:lock:<id>`). Handing turns to Rasa
to append (`bot/tracker_writes.py`) made Rasa parse and rewrite every live conversation's
whole transcript every few seconds: most of the CPU Rasa spent during a pure relay
(docs/benchmarks.md). Here one Lua step per conversation appends the turns to the string in
place, in Redis:
- only while no unexpired ticket of Rasa's lock is out: a turn Rasa is handling would save a
  tracker read before the append and drop it. A conversation Rasa is busy with is left for
  the next pass;
- each event once: one whose message id is in the stored string already is skipped (a retry,
  a second writer, a turn the door wrote);
- in time order: an event older than the stored last one takes its time (Rasa merges trackers
  by time).
The string is changed only where its layout is the one above; any other layout is reported so
that the caller goes through Rasa's door instead. This is the only code outside Rasa that writes
Rasa's stored trackers.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from redis.asyncio import Redis

from handoff.redis_client import Script

RASA_KEY_PREFIX = "hfv1"  # endpoints.yml: `key_prefix` of the tracker store and lock store
BUSY = -1  # Rasa holds the conversation's lock: try again later
UNKNOWN_LAYOUT = -2  # not the layout this module knows: go through Rasa's door

# KEYS: tracker, lock. ARGV: now, JSON of the conversation id, then per event: JSON of its
# message id (or ''), JSON of its type, its timestamp, and the rest of its JSON object after
# the timestamp (`, "text": ...}` or `}`).
_APPEND = """
local lock = redis.call('GET', KEYS[2])
if lock then
  local ok, decoded = pcall(cjson.decode, lock)
  if not ok or type(decoded) ~= 'table' then return -1 end
  for _, raw in ipairs(decoded['tickets'] or {}) do
    local good, ticket = pcall(cjson.decode, raw)
    if not good or type(ticket) ~= 'table'
        or (tonumber(ticket['expires']) or 0) > tonumber(ARGV[1]) then
      return -1
    end
  end
end
local suffix = '], "name": ' .. ARGV[2] .. '}'
local stored = redis.call('GET', KEYS[1])
local head = '{"events": ['
if stored then
  if string.sub(stored, -#suffix) ~= suffix then return -2 end
  head = string.sub(stored, 1, -#suffix - 1)
end
local last_text = nil
local stamps = '"event": "[^"]*", "timestamp": ([^,}]+)'
for found in string.gmatch(string.sub(head, -16384), stamps) do
  last_text = found
end
local last = tonumber(last_text or '0') or 0
local parts, seen = {}, {}
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  local fresh = id == '' or
    (not seen[id] and not string.find(head, '"message_id": ' .. id, 1, true))
  if fresh then
    if id ~= '' then seen[id] = true end
    local stamp = ARGV[i + 2]
    if (tonumber(stamp) or 0) < last then
      stamp = last_text
    else
      last, last_text = tonumber(stamp), stamp
    end
    parts[#parts + 1] = '{"event": ' .. ARGV[i + 1] .. ', "timestamp": ' .. stamp .. ARGV[i + 3]
  end
end
if #parts == 0 then return 0 end
local sep = ', '
if string.sub(head, -1) == '[' then sep = '' end
local body = head .. sep .. table.concat(parts, ', ') .. suffix
if stored then
  redis.call('SET', KEYS[1], body, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], body)
end
return #parts
"""


def tracker_key(conversation_id: str) -> str:
    """Rasa's stored tracker (its Redis tracker store's layout)."""
    return f"{RASA_KEY_PREFIX}:tracker:{conversation_id}"


def lock_key(conversation_id: str) -> str:
    """Rasa's ticket lock on the conversation (its Redis lock store's layout)."""
    return f"{RASA_KEY_PREFIX}:lock:{conversation_id}"


def _message_id(event: Dict[str, Any]) -> str:
    if event.get("event") == "user":
        return event.get("message_id") or ""
    if event.get("event") == "bot":
        return (event.get("metadata") or {}).get("message_id") or ""
    return ""


def _arguments(event: Dict[str, Any]) -> List[str]:
    rest = {k: v for k, v in event.items() if k not in ("event", "timestamp")}
    tail = json.dumps(rest)  # as Rasa writes it (ASCII), so that a message id is found as is
    message_id = _message_id(event)
    return [json.dumps(message_id) if message_id else "",
            json.dumps(event["event"]), repr(float(event.get("timestamp") or 0)),
            ", " + tail[1:] if rest else "}"]


class StoredTrackers:
    """Appends turns to Rasa's stored trackers, many conversations per round trip."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._append = Script(redis, _APPEND)

    async def append(self, batch: Dict[str, List[Dict[str, Any]]],
                     now: float) -> Dict[str, int]:
        """Per conversation: events appended (0 or more), `BUSY` or `UNKNOWN_LAYOUT`."""
        ids = [cid for cid, events in batch.items() if events]
        if not ids:
            return {cid: 0 for cid in batch}
        async with self._redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                args: List[Any] = [repr(now), json.dumps(cid)]
                for event in batch[cid]:
                    if isinstance(event, dict) and isinstance(event.get("event"), str):
                        args += _arguments(event)
                await self._append(keys=[tracker_key(cid), lock_key(cid)], args=args,
                                   client=pipe)
            replies = await pipe.execute()
        return {**{cid: 0 for cid in batch},
                **{cid: int(reply) for cid, reply in zip(ids, replies, strict=True)}}
