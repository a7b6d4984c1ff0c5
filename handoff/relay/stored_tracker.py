"""Appending the human segment's turns to Rasa's stored tracker, in Redis, without Rasa.

Rasa's Redis tracker store keeps a conversation as one JSON string, `{"events": [...], "name":
<id>}` (`hfv1:tracker:{<id>}`, `handoff.keys.RasaKeys`), which Rasa reads whole at the start of
each turn and writes whole at its end, under its ticket lock (`hfv1:lock:{<id>}`). Both carry the
conversation's hash tag, so the step below stays in one slot on a Redis Cluster. Handing turns
to Rasa to append (`bot/tracker_writes.py`) made Rasa parse and rewrite every live conversation's
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
Rasa's stored trackers. Off a Cluster, the step also looks under the names of Rasa's own layout
(`hfv1:tracker:<id>`, a slot of their own): a lock there counts, and a tracker there is moved to
the new name first, as the stores move it (`handoff.rasa_keys`).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from redis.asyncio import Redis

from handoff.keys import RASA_KEYS, RasaKeys
from handoff.redis_client import Script, is_cluster

BUSY = -1  # Rasa holds the conversation's lock: try again later
UNKNOWN_LAYOUT = -2  # not the layout this module knows: go through Rasa's door

# Lua: `held(lock, now)`, whether a stored Rasa lock (its JSON, or false when there is none) has
# a ticket unexpired at `now`. An unreadable one counts as held.
LOCK_HELD = """
local function held(lock, now)
  if not lock then return false end
  local ok, decoded = pcall(cjson.decode, lock)
  if not ok or type(decoded) ~= 'table' then return true end
  for _, raw in ipairs(decoded['tickets'] or {}) do
    local good, ticket = pcall(cjson.decode, raw)
    if not good or type(ticket) ~= 'table' or (tonumber(ticket['expires']) or 0) > now then
      return true
    end
  end
  return false
end
"""
# KEYS: tracker, lock; off a Cluster also the legacy tracker and lock. ARGV: now, JSON of the
# conversation id, then per event: JSON of its message id (or ''), JSON of its type, its
# timestamp, and the rest of its JSON object after the timestamp (`, "text": ...}` or `}`).
_APPEND = LOCK_HELD + """
for l = 2, #KEYS, 2 do
  if held(redis.call('GET', KEYS[l]), tonumber(ARGV[1])) then return -1 end
end
if KEYS[3] and redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[1])
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
-- Whether `head` holds `"message_id": <id>` (`id` in JSON, quotes included). The search is for
-- the id without its opening quote, then the key before it is checked: a search that starts
-- with a quote stops at every quote of the JSON, and took twice as long on a long tracker.
local key = '"message_id": "'
local function holds(id)
  local bare, from = string.sub(id, 2), 1
  while true do
    local at = string.find(head, bare, from, true)
    if not at then return false end
    if at > #key and string.sub(head, at - #key, at - 1) == key then return true end
    from = at + 1
  end
end
local parts, seen = {}, {}
for i = 3, #ARGV, 4 do
  local id = ARGV[i]
  local fresh = id == '' or (not seen[id] and not holds(id))
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
    """Appends turns to Rasa's stored trackers, one conversation's step per round trip."""

    def __init__(self, redis: Redis, rasa_keys: RasaKeys = RASA_KEYS) -> None:
        self._redis, self._rasa_keys = redis, rasa_keys
        self._append = Script(redis, _APPEND)
        # On a Cluster the legacy names sit in other slots: the data was moved before
        # (docs/deploy.md), and the step takes the conversation's slot only.
        self._legacy = not is_cluster(redis)

    async def append(self, batch: Dict[str, List[Dict[str, Any]]],
                     now: float) -> Dict[str, int]:
        """Per conversation: events appended (0 or more), `BUSY` or `UNKNOWN_LAYOUT`.

        One step per round trip, one after the other. Redis runs a Lua step whole, and this
        one reads, searches and rewrites the conversation's whole stored tracker: about 0.6 ms
        for 10 turns on a 26 KB tracker, 2.2 ms on 260 KB (round trip included, measured
        here). Redis runs every command of a pipeline it has read (16 KB at a time) before it
        serves another client: with fifty conversations in one pipeline, every other client
        waited tens of ms at a time, and the relay's p99 with them. One at a time, other
        commands run between.
        """
        outcome = {cid: 0 for cid in batch}
        for cid, events in batch.items():
            args: List[Any] = [repr(now), json.dumps(cid)]
            for event in events:
                if isinstance(event, dict) and isinstance(event.get("event"), str):
                    args += _arguments(event)
            if len(args) > 2:
                outcome[cid] = int(await self._append(keys=self._keys(cid), args=args))
        return outcome

    def _keys(self, conversation_id: str) -> List[str]:
        rasa = self._rasa_keys
        found = [rasa.tracker(conversation_id), rasa.lock(conversation_id)]
        if self._legacy:
            found += [rasa.legacy_tracker(conversation_id), rasa.legacy_lock(conversation_id)]
        return found
