"""One customer, found by any of their identities, across the channels their profile links.

A query names one identity: a web chat session (the conversation id, or the signed session id
the page keeps), a Messenger id (PSID), an e-mail address, a phone number, or a conversation id.
E-mail addresses and phone numbers are looked for where customers give them: the contact details
kept for a waiting customer, the tickets, and the words and slots of every Rasa tracker (a scan
of the whole store: an operator's request, not a hot path). From there the customer's profile
(`handoff.profiles`: identities linked by a code the customer carried from one channel to the
other) and Messenger aliases bring in every conversation of theirs, on every channel.

Addresses found in their conversations are theirs too (for the VIP list and the scans), but do
not bring in other conversations: an address a customer once typed may be someone else's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Set

from redis.asyncio import Redis

from handoff import pii
from handoff.channels import MESSENGER, WEB
from handoff.conversation import ConversationStore
from handoff.keys import RASA_KEYS, Keys
from handoff.privacy.store import scan, tracker
from handoff.profiles import ProfileStore, identity
from handoff.redis_client import get_many

KINDS = ("web", "messenger", "email", "phone", "conversation")
MAX_VALUE = 256
READ_BATCH = 200


class BadQuery(ValueError):
    """A query that names no identity: `kind` unknown, or a value of the wrong shape."""


@dataclass(frozen=True)
class Query:
    """The identity a request names."""

    kind: str
    value: str

    @classmethod
    def of(cls, kind: Any, value: Any) -> "Query":
        """A checked query; raises BadQuery."""
        if kind not in KINDS or not isinstance(value, str):
            raise BadQuery(f"kind must be one of {', '.join(KINDS)}")
        value = value.strip()
        if not value or len(value) > MAX_VALUE or any(ch in value for ch in "\n\r\0"):
            raise BadQuery("the value is empty, too long or has line breaks")
        if kind == "email" and not pii.emails(value):
            raise BadQuery("not an e-mail address")
        if kind == "phone" and len(pii.phone_key(value)) < 8:
            raise BadQuery("not a phone number")
        if kind == "web":
            value = value.split(".", 1)[0]  # the signed session id: `<id>.<signature>`
        return cls(kind, value)


@dataclass
class Customer:
    """Everything that names one customer."""

    conversations: Set[str] = field(default_factory=set)  # Rasa sender ids, every channel
    psids: Set[str] = field(default_factory=set)
    identities: Set[str] = field(default_factory=set)  # `socketio:<id>`, `messenger:<psid>`
    profiles: Set[str] = field(default_factory=set)
    emails: Set[str] = field(default_factory=set)
    phones: Set[str] = field(default_factory=set)
    tickets: Set[str] = field(default_factory=set)

    def identifiers(self) -> Set[str]:
        """The strings that name them in keys and entries (conversation ids, PSIDs, profiles)."""
        return self.conversations | self.psids | self.profiles

    def public(self) -> Dict[str, List[str]]:
        """As the export and the API show it."""
        return {"conversations": sorted(self.conversations), "messenger_ids": sorted(self.psids),
                "identities": sorted(self.identities), "emails": sorted(self.emails),
                "phones": sorted(self.phones), "tickets": sorted(self.tickets)}


async def find(redis: Redis, keys: Keys, query: Query) -> Customer:
    """The customer `query` names, with every conversation of theirs that exists."""
    seeds = await _seeds(redis, keys, query)
    customer = Customer()
    if query.kind == "email":
        customer.emails.add(query.value.lower())
    if query.kind == "phone":
        customer.phones.add(query.value)
    profiles = ProfileStore(redis, keys)
    todo = list(seeds)
    while todo:
        cid = todo.pop()
        if cid in customer.conversations or not await _exists(redis, keys, cid):
            continue
        customer.conversations.add(cid)
        todo.extend(await _linked(redis, keys, profiles, customer, cid))
    for cid in customer.conversations:
        await _details(redis, keys, customer, cid)
    return customer


async def _seeds(redis: Redis, keys: Keys, query: Query) -> Set[str]:
    if query.kind in ("web", "conversation"):
        return {query.value}
    if query.kind == "messenger":
        return {query.value, await ProfileStore(redis, keys).messenger_conversation(query.value)}
    if query.kind == "email":
        wanted = query.value.lower()
        return await _mentioning(redis, keys, lambda text: wanted in text.lower())
    wanted = pii.phone_key(query.value)
    return await _mentioning(redis, keys, lambda text: any(
        pii.phone_key(found) == wanted for found in pii.phones(text)))


async def _exists(redis: Redis, keys: Keys, cid: str) -> bool:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.exists(*RASA_KEYS.trackers(cid), keys.conversation(cid), keys.journal(cid),
                    keys.metrics_current(cid), keys.messenger_alias(cid))
        pipe.exists(keys.profile_of(identity(WEB, cid)), keys.profile_of(identity(MESSENGER, cid)))
        pipe.hexists(keys.customers_seen, cid)  # a page still open after an erasure
        found = await pipe.execute()
    return any(found)


async def _linked(redis: Redis, keys: Keys, profiles: ProfileStore, customer: Customer,
                  cid: str) -> List[str]:
    """Conversations linked to `cid`; records its identities and profiles on the way."""
    psid = (await ConversationStore(redis, keys).get(cid)).messenger_psid
    linked = set(await profiles.linked_conversations(cid))
    for member in (identity(WEB, cid), identity(MESSENGER, cid),
                   *([identity(MESSENGER, psid)] if psid else [])):
        profile = await profiles.profile_id(member)
        if profile:
            customer.profiles.add(profile)
            customer.identities.update(await profiles.identities(member))
    if psid:
        customer.psids.add(psid)
        linked.add(psid)
    if await redis.exists(keys.messenger_alias(cid), keys.messenger_last_inbound(cid)):
        customer.psids.add(cid)  # a Messenger user's own conversation is named by their PSID
        linked.add(await profiles.messenger_conversation(cid))
    for member in customer.identities:
        channel, _, other = member.partition(":")
        if channel == MESSENGER:
            customer.psids.add(other)
        linked.add(other)
    return sorted(linked - customer.conversations)


async def _details(redis: Redis, keys: Keys, customer: Customer, cid: str) -> None:
    """Their tickets, and the addresses and numbers they gave in `cid`."""
    customer.tickets.update(await redis.lrange(keys.customer_tickets(cid), 0, -1))
    ticket_id = (await ConversationStore(redis, keys).get(cid)).ticket_id
    if ticket_id:
        customer.tickets.add(ticket_id)
    contact = await redis.hgetall(keys.contact(cid))
    texts = [json.dumps(contact, ensure_ascii=False)]
    for event in (await tracker(redis, cid)).get("events") or []:
        if event.get("event") == "slot" and event.get("name") in ("email", "phone"):
            texts.append(str(event.get("value") or ""))
        elif event.get("event") == "user":
            texts.append(str(event.get("text") or ""))
    for text in texts:
        customer.emails.update(e.lower() for e in pii.emails(text))
        customer.phones.update(pii.phones(text))


async def _mentioning(redis: Redis, keys: Keys, matches: Callable[[str], bool]) -> Set[str]:
    """Conversations whose contact details, tickets or tracker mention what `matches`."""
    found: Set[str] = set()
    async for key in scan(redis, keys.contact("*")):
        if matches(json.dumps(await redis.hgetall(key), ensure_ascii=False)):
            found.add(_hash_tag(key))
    async for key in scan(redis, keys.ticket("*")):
        raw = await redis.get(key)
        if raw and matches(raw):
            found.add(str(json.loads(raw).get("conversation_id") or ""))
    batch: List[str] = []
    async for key in scan(redis, RASA_KEYS.tracker_pattern):
        batch.append(key)
        if len(batch) >= READ_BATCH:
            found |= await _trackers_matching(redis, batch, matches)
            batch = []
    found |= await _trackers_matching(redis, batch, matches)
    return found - {""}


async def _trackers_matching(redis: Redis, batch: List[str],
                             matches: Callable[[str], bool]) -> Set[str]:
    if not batch:
        return set()
    raws = await get_many(redis, batch)  # one slot per tracker on a Cluster
    # The tracker's own `name` first: an unmoved name of an id `{x}` reads as `x`.
    return {json.loads(raw).get("name") or RASA_KEYS.conversation_of(key)
            for key, raw in zip(batch, raws, strict=True) if raw and matches(raw)}


def _hash_tag(key: str) -> str:
    return key[key.index("{") + 1:key.index("}")] if "{" in key and "}" in key else ""
