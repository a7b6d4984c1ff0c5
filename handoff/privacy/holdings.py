"""Where one customer's data is in the store: the one list that export and erasure both use.

Three kinds of place:
- keys that are wholly theirs (per-conversation keys, trackers, tickets, profiles, Messenger
  keys, their dashboard session pointers);
- fields and members of keys shared by everyone (good answers, the queue, who is online, the
  VIP list...);
- entries of shared streams that name one of their conversations;
and the aggregated records (dashboard sessions and handoffs, surveys) that keep their figures
once the customer is erased, without who.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Set, Tuple

from redis.asyncio import Redis

from handoff.channels import MESSENGER, WEB
from handoff.keys import RASA_KEYS, Keys
from handoff.privacy.finder import Customer
from handoff.privacy.store import (
    conversation_pattern,
    entries,
    entry_text,
    mentions,
    scan,
    shared_streams,
)
from handoff.profiles import identity

MIN_IDENTIFIER = 8  # shorter strings would match other customers' keys by chance


@dataclass
class Holdings:
    """What the store holds of one customer, by kind of place."""

    keys: Set[str] = field(default_factory=set)
    # (shared key, field or member) pairs: good answers, customers seen, queue, VIP...
    members: Set[Tuple[str, str]] = field(default_factory=set)
    stream_entries: Dict[str, List[str]] = field(default_factory=dict)
    sessions: List[str] = field(default_factory=list)  # dashboard conversation sessions
    handoffs: List[str] = field(default_factory=list)  # dashboard handoff records (ticket ids)
    surveys: List[str] = field(default_factory=list)
    claims: List[str] = field(default_factory=list)  # members of the recent claims zset


async def holdings(redis: Redis, keys: Keys, customer: Customer,
                   thorough: bool = True) -> Holdings:
    """Every place that holds something of `customer`.

    `customer` is one customer, or a batch of expired conversations: shared structures are
    read once for all of them. `thorough` also reads the whole key space for keys named by
    their ids (per-conversation keys by pattern, rate counters, link codes...): what an
    erasure on request does. Retention passes (`thorough=False`) name the per-conversation
    keys instead: the short-lived ones (TTLs of a day at most) are gone from a conversation
    idle for weeks.
    """
    held = Holdings()
    for cid in customer.conversations:
        await _conversation(redis, keys, cid, held, thorough)
    for psid in customer.psids:
        held.keys.update(await _existing(redis, [keys.messenger_alias(psid),
                                                 keys.messenger_last_inbound(psid)]))
    for member in customer.identities:
        held.keys.update(await _existing(redis, [keys.profile_of(member)]))
        profile = await redis.get(keys.profile_of(member))
        if profile:
            held.members.add((keys.profile(profile), member))
    for profile in customer.profiles:
        held.keys.update(await _existing(redis, [keys.profile(profile)]))
    for ticket_id in customer.tickets:
        held.keys.update(await _existing(redis, [keys.ticket(ticket_id)]))
        if await redis.exists(keys.metrics_handoff(ticket_id)):
            held.handoffs.append(ticket_id)
    await _members(redis, keys, customer.conversations, held)
    await _shared(redis, keys, customer, held)
    ids = {i for i in customer.identifiers() if len(i) >= MIN_IDENTIFIER}
    if thorough:
        await _named_keys(redis, keys, ids, held)
    for stream in shared_streams(keys):
        found = [entry_id async for entry_id, fields in entries(redis, stream)
                 if mentions(entry_text(fields), ids)]
        if found:
            held.stream_entries[stream] = found
    return held


def _per_conversation(keys: Keys, cid: str) -> List[str]:
    """The per-conversation keys by name (`Keys`), for passes that do not scan."""
    return [keys.conversation(cid), keys.delivered(cid), keys.client_ids(cid),
            keys.contact(cid), keys.segment(cid), keys.last_customer_turn(cid),
            keys.tracker_lease(cid), keys.notes(cid), keys.journal(cid),
            keys.survey_recent(cid), keys.transcript_mails(cid), keys.survey_comment(cid),
            keys.order_requests(cid), keys.proven_orders(cid), keys.conversation_approvals(cid),
            keys.conversation_callbacks(cid)]


async def _conversation(redis: Redis, keys: Keys, cid: str, held: Holdings,
                        thorough: bool) -> None:
    if thorough:
        held.keys.update([key async for key in scan(redis, conversation_pattern(keys, cid))])
    else:
        approvals = await redis.zrange(keys.conversation_approvals(cid), 0, -1)
        callbacks = await redis.zrange(keys.conversation_callbacks(cid), 0, -1)
        held.keys.update(await _existing(redis, [*_per_conversation(keys, cid),
                                                 *(keys.approval(cid, a) for a in approvals),
                                                 *(keys.callback(cid, c) for c in callbacks)]))
    held.keys.update(await _existing(redis, [
        *RASA_KEYS.trackers(cid), keys.customer_tickets(cid), keys.metrics_current(cid),
        keys.profile_of(identity(WEB, cid)), keys.profile_of(identity(MESSENGER, cid))]))


def _owner(member: str) -> str:
    """The conversation of a `<conversation id>:<something>` member."""
    return member.rsplit(":", 1)[0]


async def _members(redis: Redis, keys: Keys, cids: Set[str], held: Holdings) -> None:
    """Their members and fields in shared keys, each key read once for all of `cids`."""
    if not cids:
        return
    async for session, _ in redis.zscan_iter(keys.metrics_conversations, count=1000):
        if _owner(session) in cids:
            held.sessions.append(session)
    async for member, _ in redis.zscan_iter(keys.recent_claims, count=1000):
        if _owner(member) in cids:
            held.claims.append(member)
    async for pair, _ in redis.hscan_iter(keys.good_answers, count=1000):
        if _owner(pair) in cids:
            held.members.add((keys.good_answers, pair))
    for shared in (keys.approvals_pending, keys.callbacks_due):
        async for pending, _ in redis.zscan_iter(shared, count=1000):
            if json.loads(pending)[0] in cids:  # [conversation id, approval or callback id]
                held.members.add((shared, pending))
    ordered = sorted(cids)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hmget(keys.customers_seen, ordered)
        for key in (keys.queue, keys.givebacks, keys.tracker_pending):
            pipe.zmscore(key, ordered)
        seen, *scores = await pipe.execute()
    held.members.update((keys.customers_seen, cid)
                        for cid, at in zip(ordered, seen, strict=True) if at is not None)
    for key, found in zip((keys.queue, keys.givebacks, keys.tracker_pending), scores,
                          strict=True):
        held.members.update((key, cid) for cid, at in zip(ordered, found or [], strict=True)
                            if at is not None)
    for agent in await redis.smembers(keys.agents):
        for cid in cids & set(await redis.smembers(keys.agent_conversations(agent))):
            held.members.add((keys.agent_conversations(agent), cid))


async def _shared(redis: Redis, keys: Keys, customer: Customer, held: Holdings) -> None:
    """Surveys and handoff records that name them, and their addresses on the VIP list."""
    survey_ids = await redis.zrange(keys.surveys(), 0, -1)
    for survey_id in survey_ids:
        cid, ticket_id = await redis.hmget(keys.survey(survey_id), "conversation_id",
                                           "ticket_id")
        if cid in customer.conversations or (ticket_id and ticket_id in customer.tickets):
            held.surveys.append(survey_id)
    for ticket_id in await redis.zrange(keys.metrics_handoffs, 0, -1):
        if ticket_id in held.handoffs:
            continue
        if await redis.hget(keys.metrics_handoff(ticket_id), "conversation_id") in \
                customer.conversations:
            held.handoffs.append(ticket_id)
    for email in customer.emails:
        if await redis.sismember(keys.vip_customers, email):
            held.members.add((keys.vip_customers, email))


async def _named_keys(redis: Redis, keys: Keys, ids: Set[str], held: Holdings) -> None:
    """Keys whose name or value carries one of their ids: rate counters, link codes..."""
    if not ids:
        return
    aggregated = keys.metrics_conversation("")
    alias_start, alias_end = keys.messenger_alias("\0").split("\0")
    async for key in scan(redis, f"{keys.prefix}:*"):
        if key in held.keys or key.startswith(aggregated):
            continue  # dashboard sessions are kept, unlinked (`handoff.privacy.erase`)
        if mentions(key, ids):
            held.keys.add(key)
        elif key.startswith((keys.link_code(""), keys.callback_token(""))) or \
                (key.startswith(alias_start) and key.endswith(alias_end)):
            raw = await redis.get(key)  # a code's or a call-back link's JSON, an alias's id
            if raw and mentions(raw, ids):
                held.keys.add(key)
    async for key in scan(redis, RASA_KEYS.tracker_pattern):
        if mentions(key, ids):
            held.keys.add(key)


async def _existing(redis: Redis, names: List[str]) -> List[str]:
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(name)
        found = await pipe.execute()
    return [name for name, there in zip(names, found, strict=True) if there]


def dump(data: object) -> str:
    """JSON as the export writes it."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
