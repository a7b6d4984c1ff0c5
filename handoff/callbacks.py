"""Call-backs: the phone as the next step of a conversation, with its whole context.

    offered ──(the customer picks a time and leaves a number)──▶ scheduled ──(outcome)──▶ done
                 ↑ picked again while scheduled: the new time replaces the old

An agent offers a call from the console, or the bot does when the customer asks a person for a
call ("call me back", "rappelez-moi": `asks_for_a_call`, read by `actions/handoff.py`, reason
`callback`). The customer gets a link (`/callback/<token>`, a
secret) that opens a page in their language where they pick a slot (`now` while the team is
open, or an hour within the opening hours of `handoff/hours.yml`) and their phone number. The
scheduled call joins the call-back list (`Keys.callbacks_due`, by due time), which agents of the
call's team see in the console; the agent who calls records the outcome (`OUTCOMES`), once.

Shared by the action server and the handoff service: Redis only, no Rasa, no aiohttp. Telling
the customer (and so the conversation's record, a `bot` event whose metadata carries the
call-back) is the caller's (`handoff.service.api.callback_routes`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from handoff import pii
from handoff.availability import OpeningHours
from handoff.keys import Keys
from handoff.redis_client import Script, is_cluster

OFFERED, SCHEDULED, DONE = "offered", "scheduled", "done"
OPEN_STATUSES = (OFFERED, SCHEDULED)
OUTCOMES = ("reached", "no_answer", "voicemail", "wrong_number")
NOW = "now"
TOKEN_TTL = 7 * 24 * 3600  # the link works for a week
SLOTS_SHOWN = 8  # hours offered besides "now"
SLOT_LENGTH = 3600
SLOT_LEAD = 30 * 60  # the first hour offered starts at least this long after now
MAX_NOTE = 1000
MAX_PHONE = 32
MAX_REQUEST_ID = 64

# KEYS: the call-back's hash, the conversation's call-backs, then (off a Cluster only) the
# token. ARGV: call-back id, time offered, token's value, token's TTL, then field, value pairs.
_OFFER = """
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4]) end
return 1
"""
# KEYS: the call-back's hash, then (off a Cluster only) the call-back list. ARGV: the fields the
# change was decided on, as read (JSON), the fields to write (JSON), `add` or `remove` (from the
# list), the list's member, the due time. Replies 1 (written), 0 (the hash changed since it was
# read: read again, as a WATCH would), -1 (no such call-back).
_CHANGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for name, value in pairs(cjson.decode(ARGV[1])) do
  if (redis.call('HGET', KEYS[1], name) or '') ~= value then return 0 end
end
for name, value in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', KEYS[1], name, value) end
if KEYS[2] then
  if ARGV[3] == 'add' then redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
  else redis.call('ZREM', KEYS[2], ARGV[4]) end
end
return 1
"""
# What a change is decided on: another write of these since the read makes it read again.
_DECIDED_ON = ("status", "slot", "phone", "request_id")


class CallbackError(Exception):
    """A request the call-back cannot take; `code` is the agent API's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Callback:
    """One call-back, as its hash holds it."""

    id: str
    conversation_id: str
    status: str
    team: str = ""
    language: str = "en"
    channel: str = ""
    token: str = ""
    offered_by: str = ""
    offered_by_name: str = ""
    offered_at: float = 0.0
    slot: str = ""
    due_at: float = 0.0
    phone: str = ""
    scheduled_at: float = 0.0
    outcome: str = ""
    note: str = ""
    done_by: str = ""
    done_by_name: str = ""
    done_at: float = 0.0
    request_id: str = ""
    told: str = ""

    @classmethod
    def from_hash(cls, raw: Dict[str, str]) -> "Callback":
        """Reads the hash (numbers stored as text)."""
        values: Dict[str, Any] = {}
        for field in fields(cls):
            if field.name in raw:
                values[field.name] = float(raw[field.name] or 0) if field.type == "float" \
                    else raw[field.name]
        return cls(**values)

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API (no token: the link is the customer's)."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("token", "request_id", "told")}
        return {**shown, "team": self.team or None}

    def lets_see(self, username: str, serves_team: bool) -> bool:
        """Whether an agent who does not hold the conversation may open it for this call.

        Any agent of the call's team while it is scheduled (whoever calls reads the whole
        conversation first), and the one who made the call afterwards.
        """
        return (self.status == SCHEDULED and serves_team) or \
            (self.status == DONE and self.done_by == username)

    def record(self) -> Dict[str, Any]:
        """What the conversation's record keeps of it (a notice's metadata)."""
        return {"id": self.id, "status": self.status, "slot": self.slot, "due_at": self.due_at,
                "phone": self.phone, "outcome": self.outcome or None, "note": self.note or None,
                "by": self.done_by or self.offered_by or None,
                "by_name": self.done_by_name or self.offered_by_name or None}


# A request for a person that asks for a call. Read only when the NLU already sent the message
# to a person (`request_human`): it chooses the handoff's reason, never whether there is one.
_ASKS_FOR_A_CALL = re.compile(
    r"\b(?:call|ring|phone)\s+(?:me|us)\b|\bcall\s*-?\s*back\b|\bgive\s+me\s+a\s+(?:call|ring)\b"
    r"|\b(?:phone|tele?phone)\s+call\b|\b(?:on|over|by)\s+the\s+phone\b"
    r"|\brappel\w*|\b(?:appel|t[ée]l[ée]phon)\w*[-\s]+moi\b"
    r"|\bm['’]\s*(?:appeler|t[ée]l[ée]phoner)\b|\b(?:par|au)\s+t[ée]l[ée]phone\b"
    r"|\bappel\s+t[ée]l[ée]phonique\b",
    re.IGNORECASE)


def asks_for_a_call(text: Any) -> bool:
    """Whether a request for a person asks to be called ("call me back", "rappelez-moi")."""
    return isinstance(text, str) and _ASKS_FOR_A_CALL.search(text) is not None


def clean_phone(text: Any) -> Optional[str]:
    """A phone number the way the customer wrote it, tidied, or None when it is not one.

    French national numbers and international ones (`handoff.pii`'s patterns), 8 to 15 digits,
    and nothing else in the field.
    """
    if not isinstance(text, str) or not 0 < len(text) <= MAX_PHONE:
        return None
    clean = " ".join(text.split())
    found = pii.phones(clean)
    if found != [clean]:
        return None
    return clean if 8 <= len(pii.phone_key(clean)) <= 15 else None


def offered_slots(hours: OpeningHours, now: float, language: str) -> List[Dict[str, Any]]:
    """What the customer may pick: `now` while open, then the next opening hours' slots."""
    zone = ZoneInfo(hours.timezone)
    slots: List[Dict[str, Any]] = []
    if hours.is_open(now):
        slots.append({"id": NOW, "starts_at": now, "label": _now_label(language)})
    start = (int(now + SLOT_LEAD) // SLOT_LENGTH + 1) * SLOT_LENGTH
    for step in range(24 * 8):
        if len(slots) >= SLOTS_SHOWN + (1 if slots and slots[0]["id"] == NOW else 0):
            break
        at = start + step * SLOT_LENGTH
        if hours.is_open(at) and hours.is_open(at + SLOT_LENGTH - 60):
            slots.append({"id": str(at), "starts_at": float(at),
                          "label": slot_label(at, now, zone, language)})
    return slots


def slot_label(at: float, now: float, zone: ZoneInfo, language: str) -> str:
    """`Today 14:00–15:00`, `demain 09:00–10:00`, `Monday 10:00–11:00`, in the shop's zone."""
    start = dt.datetime.fromtimestamp(at, zone)
    end = start + dt.timedelta(seconds=SLOT_LENGTH)
    days = (start.date() - dt.datetime.fromtimestamp(now, zone).date()).days
    if language == "fr":
        names = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
        day = "Aujourd'hui" if days == 0 else "Demain" if days == 1 else \
            names[start.weekday()].capitalize()
    else:
        day = "Today" if days == 0 else "Tomorrow" if days == 1 else f"{start:%A}"
    return f"{day} {start:%H:%M}–{end:%H:%M}"


def _now_label(language: str) -> str:
    return "Dès que possible (maintenant)" if language == "fr" else "As soon as possible (now)"


def choose_slot(hours: OpeningHours, slot: Any, now: float) -> Tuple[str, float]:
    """The slot's id and due time, or `CallbackError` (`slot_past`, `bad_slot`)."""
    if not isinstance(slot, str) or not slot or len(slot) > 20:
        raise CallbackError("bad_slot")
    if slot != NOW:
        try:
            at = float(int(slot))
        except ValueError as exc:
            raise CallbackError("bad_slot") from exc
        if at + SLOT_LENGTH <= now:
            raise CallbackError("slot_past")
    for offered in offered_slots(hours, now, "en"):
        if offered["id"] == slot:
            return slot, float(offered["starts_at"])
    # Offered when the page was drawn, begun since: still a valid time to call.
    if slot != NOW and at <= now < at + SLOT_LENGTH and hours.is_open(now):
        return slot, now
    raise CallbackError("bad_slot")


class Callbacks:
    """Call-backs in Redis (keys in `handoff.keys`: `callback`, `callbacks_due`...)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._cluster = is_cluster(redis)
        self._offer, self._change = Script(redis, _OFFER), Script(redis, _CHANGE)

    async def get(self, conversation_id: str, callback_id: str) -> Optional[Callback]:
        """One call-back, or None."""
        raw = await self._redis.hgetall(self._keys.callback(conversation_id, callback_id))
        return Callback.from_hash(raw) if raw else None

    async def by_token(self, token: Any) -> Optional[Callback]:
        """The call-back a customer's link names, or None (unknown, expired, erased)."""
        if not isinstance(token, str) or not 16 <= len(token) <= 64:
            return None
        raw = await self._redis.get(self._keys.callback_token(token))
        if raw is None:
            return None
        cid, callback_id = json.loads(raw)
        found = await self.get(cid, callback_id)
        return found if found is not None and found.token == token else None

    async def of_conversation(self, conversation_id: str) -> List[Callback]:
        """The conversation's call-backs, newest first."""
        ids = await self._redis.zrevrange(self._keys.conversation_callbacks(conversation_id),
                                          0, 19)
        found = [await self.get(conversation_id, cb) for cb in ids]
        return [c for c in found if c is not None]

    async def latest(self, conversation_id: str) -> Optional[Callback]:
        """The conversation's newest call-back, if any."""
        ids = await self._redis.zrevrange(self._keys.conversation_callbacks(conversation_id),
                                          0, 0)
        return await self.get(conversation_id, ids[0]) if ids else None

    async def open_one(self, conversation_id: str) -> Optional[Callback]:
        """The conversation's call-back not done yet, if any (there is at most one)."""
        for callback in await self.of_conversation(conversation_id):
            if callback.status in OPEN_STATUSES:
                return callback
        return None

    async def offer(self, conversation_id: str, *, team: Optional[str], language: str,
                    channel: str, by: str, by_name: str,
                    now: Optional[float] = None) -> Tuple[Callback, bool]:
        """A new call-back offered (True), or the conversation's open one (False)."""
        existing = await self.open_one(conversation_id)
        if existing is not None:
            return existing, False
        now = time.time() if now is None else now
        callback = Callback(id=uuid.uuid4().hex[:12], conversation_id=conversation_id,
                            status=OFFERED, team=team or "", language=language,
                            channel=channel, token=secrets.token_urlsafe(18), offered_by=by,
                            offered_by_name=by_name, offered_at=now)
        keys = self._keys
        token_key = keys.callback_token(callback.token)
        token_value = json.dumps([conversation_id, callback.id])
        if self._cluster:  # the token first: alone, it names no call-back (`by_token`)
            await self._redis.set(token_key, token_value, ex=TOKEN_TTL)
        await self._offer(
            keys=[keys.callback(conversation_id, callback.id),
                  keys.conversation_callbacks(conversation_id),
                  *([] if self._cluster else [token_key])],
            args=[callback.id, repr(now), token_value, TOKEN_TTL,
                  *[part for item in _hash(callback).items() for part in item]])
        return callback, True

    async def schedule(self, callback: Callback, slot: str, due_at: float, phone: str,
                       now: Optional[float] = None) -> Tuple[Callback, bool]:
        """Sets (or changes) the time and number; whether anything changed.

        `callback_done` once the call was made: a link used again changes nothing.
        """
        now = time.time() if now is None else now

        def change(current: Callback) -> Optional[Dict[str, str]]:
            if current.status == DONE:
                raise CallbackError("callback_done")
            if current.status == SCHEDULED and (current.slot, current.phone) == (slot, phone):
                return None  # the same answer again (a double click)
            return {"status": SCHEDULED, "slot": slot, "due_at": repr(due_at), "phone": phone,
                    "scheduled_at": repr(now)}

        return await self._update(callback, change, "add", due_at)

    async def record_outcome(self, callback: Callback, outcome: str, note: str, by: str,
                             by_name: str, request_id: str,
                             now: Optional[float] = None) -> Tuple[Callback, bool]:
        """The call's outcome, once; whether this request recorded it.

        The same request again (a double click, a resend) gets the recorded call-back back;
        another request on a call-back done is `callback_done`; one not scheduled yet is
        `callback_not_scheduled`.
        """
        now = time.time() if now is None else now

        def change(current: Callback) -> Optional[Dict[str, str]]:
            if current.status == DONE:
                if current.request_id == request_id:
                    return None
                raise CallbackError("callback_done")
            if current.status != SCHEDULED:
                raise CallbackError("callback_not_scheduled")
            return {"status": DONE, "outcome": outcome, "note": note, "done_by": by,
                    "done_by_name": by_name, "done_at": repr(now), "request_id": request_id}

        return await self._update(callback, change, "remove")

    async def mark_told(self, callback: Callback) -> None:
        """The outcome is in the conversation's record (a retry need not tell it again)."""
        await self._redis.hset(self._keys.callback(callback.conversation_id, callback.id),
                               "told", "1")

    async def due(self, limit: int = 200) -> List[Callback]:
        """Scheduled calls, soonest first.

        The list is an index of the hashes: a member whose call-back was erased or is done is
        taken out; one not scheduled yet (a `schedule` under way, or cut short) is skipped.
        """
        members = await self._redis.zrange(self._keys.callbacks_due, 0, limit - 1)
        found: List[Callback] = []
        for member in members:
            cid, callback_id = json.loads(member)
            callback = await self.get(cid, callback_id)
            if callback is None or callback.status == DONE:
                await self._redis.zrem(self._keys.callbacks_due, member)
            elif callback.status == SCHEDULED:
                found.append(callback)
        return sorted(found, key=lambda callback: callback.due_at)

    async def _update(self, callback: Callback, change: Any, listed: str,
                      due_at: float = 0.0) -> Tuple[Callback, bool]:
        """`change` applied to what the hash holds now, in one step on its slot.

        On a Cluster the list entry is added before the step and taken out after it; after a
        `schedule` the entry is set to what the hash backs (another `schedule` may have landed
        between, or this one found the call-back done).
        """
        cid = callback.conversation_id
        key, member = self._keys.callback(cid, callback.id), json.dumps([cid, callback.id])
        due = self._keys.callbacks_due
        listed_ahead = False
        try:
            while True:
                raw = await self._redis.hgetall(key)
                if not raw:
                    raise CallbackError("callback_unknown")
                current = Callback.from_hash(raw)
                written = change(current)
                if written is None:
                    return current, False
                if self._cluster and listed == "add":
                    await self._redis.zadd(due, {member: due_at})
                    listed_ahead = True
                done = await self._change(
                    keys=[key, *([] if self._cluster else [due])],
                    args=[json.dumps({name: raw.get(name, "") for name in _DECIDED_ON}),
                          json.dumps(written), listed, member, repr(due_at)])
                if done == 1:
                    if self._cluster and listed == "remove":  # done: it never comes back
                        await self._redis.zrem(due, member)
                    return Callback.from_hash({**raw, **written}), True
                if done == -1:
                    raise CallbackError("callback_unknown")
        finally:
            if listed_ahead:
                await self._list_as_stored(key, member)

    async def _list_as_stored(self, key: str, member: str) -> None:
        """On a Cluster, after a `schedule`: its list entry as the hash backs it.

        Scheduled: at its due time; done or erased (for good): out; offered (another
        `schedule` under way): left, the readers skip it.
        """
        raw = await self._redis.hgetall(key)
        if raw.get("status") == SCHEDULED:
            await self._redis.zadd(self._keys.callbacks_due,
                                   {member: float(raw.get("due_at") or 0)})
        elif not raw or raw.get("status") == DONE:
            await self._redis.zrem(self._keys.callbacks_due, member)


def _hash(callback: Callback) -> Dict[str, str]:
    return {f.name: repr(getattr(callback, f.name)) if f.type == "float"
            else str(getattr(callback, f.name)) for f in fields(callback)}
