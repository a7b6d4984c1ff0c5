"""A conversation's journal: every message to and from the customer, in a Redis stream.

Written by the web chat and Messenger channels and by the handoff service's delivery of agents'
messages on Messenger, so that a conversation that moves to the web chat shows its whole history.
socket.io delivers at most once (a message emitted while the browser reconnects, or while the
Redis manager's pub/sub is down, is gone). So every message is first written to the
conversation's stream, and its entry id is the message id the browser sees; a browser that
reconnects says the last id it has and gets the rest again. The browser drops ids it already
shows, so nothing appears twice. Customer messages are journaled too (a new tab shows the whole
conversation), and their ids make a resent message a no-op.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Tuple, Union

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff.customer_text import payloads_of
from handoff.keys import Keys
from handoff.redis_client import Script

MAX_ENTRIES = 500
TAKEN_FOR = 24 * 3600
# ASCII digits only (Python's \d takes any script's), each part at most Redis's 2**64 - 1.
_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})", re.ASCII)
_MAX_ID_PART = 2 ** 64 - 1

Entry = Tuple[str, str, Dict[str, Any]]


def _stream_id(value: Any) -> bool:
    """Whether Redis takes `value` for a stream id (a browser's `last_seen` may be anything)."""
    found = _STREAM_ID.fullmatch(value) if isinstance(value, str) else None
    return found is not None and all(int(part) <= _MAX_ID_PART for part in found.groups())
_RECORD_ONCE = """
local before = redis.call('GET', KEYS[1])
if before then return {before, 0} end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'kind', ARGV[3],
                      'payload', ARGV[4])
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
return {id, 1}
"""  # (entry id, "customer" | "bot", payload)
# `record` as a Lua step of a caller's script (`record_lua_parts` gives its keys and args): the
# same entry as `record_on`'s XADD.
RECORD_LUA = """
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'kind', ARGV[2],
                  'payload', ARGV[3])
"""


class Journal:
    """Writes and replays one Redis stream per conversation."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._record_once = Script(redis, _RECORD_ONCE)

    async def record(self, conversation_id: str, kind: str, payload: Dict[str, Any]) -> str:
        """Appends a message; its entry id."""
        return await self.record_on(self._redis, conversation_id, kind, payload)

    async def record_on(self, client: Union[Redis, Pipeline], conversation_id: str, kind: str,
                        payload: Dict[str, Any]) -> Any:
        """`record` on `client`: queued on a pipeline, its reply is the entry id."""
        return await client.xadd(
            self._keys.journal(conversation_id),
            {"kind": kind, "payload": json.dumps(payload, ensure_ascii=False)},
            maxlen=MAX_ENTRIES, approximate=True)

    def record_lua_parts(self, conversation_id: str, kind: str, payload: Dict[str, Any]
                         ) -> Tuple[List[str], List[Any]]:
        """The keys and args of `RECORD_LUA` for this message."""
        return ([self._keys.journal(conversation_id)],
                [MAX_ENTRIES, kind, json.dumps(payload, ensure_ascii=False)])

    async def record_once(self, conversation_id: str, kind: str, payload: Dict[str, Any],
                          once_key: str) -> Tuple[str, bool]:
        """Appends a message unless `once_key` was recorded already.

        The result is its entry id, and whether it is new.

        Marking and appending are one step: a retry of a message that was journaled is given
        the same entry id (the page drops an id it shows, so sending it again is harmless, and
        it is needed when the first attempt was cut between journaling and sending), and one
        that was not is never taken for a duplicate.
        """
        entry_id, new = await self.record_once_on(self._redis, conversation_id, kind, payload,
                                                  once_key)
        return str(entry_id), bool(new)

    async def record_once_on(self, client: Union[Redis, Pipeline], conversation_id: str,
                             kind: str, payload: Dict[str, Any], once_key: str) -> Any:
        """`record_once` on `client`: queued on a pipeline, its reply is `[entry id, new]`."""
        return await self._record_once(
            keys=[self._keys.web_message(conversation_id, once_key),
                  self._keys.journal(conversation_id)],
            args=[TAKEN_FOR, MAX_ENTRIES, kind, json.dumps(payload, ensure_ascii=False)],
            client=client)

    async def since(self, conversation_id: str, last_id: Optional[str]) -> List[Entry]:
        """Messages after `last_id` (all of them when None or malformed), oldest first."""
        start = f"({last_id}" if _stream_id(last_id) else "-"
        entries = await self._redis.xrange(self._keys.journal(conversation_id), start, "+")
        return [(entry_id, fields.get("kind", "bot"), json.loads(fields.get("payload", "{}")))
                for entry_id, fields in entries]

    async def offered_payloads(self, conversation_id: str, look_back: int = 20) -> List[str]:
        """The payloads of the buttons the bot offered since the customer's last message.

        The bot's answer to one message may come in several messages (text, then buttons):
        every bot entry after the last customer entry counts, within the last `look_back`.
        """
        entries = await self._redis.xrevrange(self._keys.journal(conversation_id), "+", "-",
                                              count=look_back)
        since: List[Dict[str, Any]] = []
        for _, fields in entries:
            if fields.get("kind") != "bot":
                break
            since.append(json.loads(fields.get("payload", "{}")))
        return payloads_of(since)

    async def first_time(self, conversation_id: str, message_id: str) -> bool:
        """Whether this customer message id is new (a resend after a lost ack is not)."""
        return bool(await self._redis.set(self._keys.web_message(conversation_id, message_id),
                                          "1", nx=True, ex=TAKEN_FOR))
