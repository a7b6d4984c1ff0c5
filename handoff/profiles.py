"""One customer across channels: linked identities, and conversations that change channel.

An identity is `<channel>:<conversation id>` (`socketio:<id>` for the web chat, `messenger:<psid>`
for Messenger). Identities are linked only through something the customer has: a link code that
the agent sends on the channel the customer is on, and that comes back on the other channel (a
Messenger `m.me` link with `ref=<code>`, or a chat page address with `?link=<code>`). Redeeming a
code links both identities into one profile (so the agent sees the customer's earlier
conversations on every channel) and moves the conversation: the new channel's messages join the
same Rasa conversation, with its whole history, and replies go to the new channel.

Codes are random (about 40 bits), single-use (GETDEL) and expire after `CODE_TTL`.

A link and a move to Messenger write keys of several identities, profiles and the conversation.
Off a Redis Cluster each is one MULTI. On a Cluster those keys are in different slots and there
is no MULTI: a link adds the identities to the profile first, then points each identity at it,
then deletes the profiles merged into it; a move names the conversation in the Messenger user's
alias, then moves the conversation's replies. A process that dies in between leaves a profile
naming an identity that still points elsewhere (the link half made), or a merged profile that
nothing points to any more, or a Messenger user who writes in the conversation whose replies
still go to the web chat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import uuid
from typing import Any, Dict, Iterable, List, Optional

from redis.asyncio import Redis

from handoff.channels import MESSENGER, WEB, messenger_address
from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.redis_client import connect, is_cluster
from handoff.settings import Settings

CODE_TTL = 30 * 60
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed safely
CODE_LENGTH = 8


def identity(channel: str, external_id: str) -> str:
    """`messenger:1234…`, `socketio:ab12…`."""
    return f"{channel}:{external_id}"


def normalise_code(text: str) -> Optional[str]:
    """The code in what the customer sent (`hf-K7PQ4RDX`, `K7PQ-4RDX`…), or None."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if raw.startswith("HF"):
        raw = raw[2:]
    if len(raw) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in raw):
        return raw
    return None


class ProfileStore:
    """Profiles, link codes and Messenger aliases in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis, self._keys = redis, keys
        self._multi = not is_cluster(redis)  # off a Cluster, a link or a move in one MULTI

    async def issue_code(self, conversation_id: str, to_channel: str,
                         from_identity: str) -> str:
        """A one-time code that brings the customer of `conversation_id` over to `to_channel`."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        await self._redis.set(self._keys.link_code(code), json.dumps({
            "conversation_id": conversation_id, "to": to_channel, "from": from_identity}),
            ex=CODE_TTL)
        return code

    async def redeem(self, code: str, to_channel: str) -> Optional[Dict[str, Any]]:
        """The code's record if it exists, is unused and is for this channel; it is used up."""
        raw = await self._redis.getdel(self._keys.link_code(code))
        if raw is None:
            return None
        record = json.loads(raw)
        return record if record.get("to") == to_channel else None

    async def link(self, first: str, second: str) -> str:
        """Puts two identities in one profile (merging their profiles); the profile id."""
        a, b = await self.profile_id(first), await self.profile_id(second)
        target = a or b or uuid.uuid4().hex
        members = {first, second}
        for other in {a, b} - {None, target}:
            members |= set(await self._redis.smembers(self._keys.profile(other)))
        merged = [self._keys.profile(other) for other in {a, b} - {None, target}]
        if self._multi:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(self._keys.profile(target), *members)
                for member in members:
                    pipe.set(self._keys.profile_of(member), target)
                for key in merged:
                    pipe.delete(key)
                await pipe.execute()
            return target
        # On a Cluster, one slot at a time, in this order (see the module's docstring).
        await self._redis.sadd(self._keys.profile(target), *members)
        async with self._redis.pipeline(transaction=False) as pipe:
            for member in members:
                pipe.set(self._keys.profile_of(member), target)
            await pipe.execute()
        for key in merged:  # one key each: no DEL over two slots
            await self._redis.delete(key)
        return target

    async def profile_id(self, member: str) -> Optional[str]:
        """The profile an identity belongs to, if any."""
        return await self._redis.get(self._keys.profile_of(member))

    async def identities(self, member: str) -> List[str]:
        """Every identity of the customer behind `member` (itself alone without a profile)."""
        profile = await self.profile_id(member)
        if profile is None:
            return [member]
        return sorted(await self._redis.smembers(self._keys.profile(profile)) | {member})

    async def linked_conversations(self, conversation_id: str) -> List[str]:
        """Conversation ids of the same customer on every channel, this one included."""
        psid = await messenger_address(self._redis, self._keys, conversation_id)
        found = {conversation_id}
        for member in {identity(WEB, conversation_id), identity(MESSENGER, conversation_id),
                       identity(MESSENGER, psid)}:
            found |= {each.split(":", 1)[1] for each in await self.identities(member)}
        return sorted(found)

    async def is_vip(self, emails: Iterable[Optional[str]]) -> bool:
        """Whether any of these addresses belongs to a VIP customer."""
        for email in {e.strip().lower() for e in emails if e}:
            if await self._redis.sismember(self._keys.vip_customers, email):
                return True
        return False

    async def set_vip(self, email: str, vip: bool) -> None:
        """Adds or removes a VIP customer (by e-mail address)."""
        key, email = self._keys.vip_customers, email.strip().lower()
        await (self._redis.sadd(key, email) if vip else self._redis.srem(key, email))

    async def messenger_conversation(self, psid: str) -> str:
        """The conversation a Messenger user's messages go to (their own, unless moved)."""
        return await self._redis.get(self._keys.messenger_alias(psid)) or psid

    async def move_to_messenger(self, conversation_id: str, psid: str) -> None:
        """From now on this Messenger user writes in, and is answered in, `conversation_id`."""
        store, alias = ConversationStore(self._redis, self._keys), self._keys.messenger_alias(psid)
        if not self._multi:  # on a Cluster: the alias, then the record, each in its own slot
            await self._redis.set(alias, conversation_id)
        async with self._redis.pipeline(transaction=self._multi) as pipe:
            if self._multi:
                pipe.set(alias, conversation_id)
            store.moved_on(pipe, conversation_id, MESSENGER, psid)
            await pipe.execute()

    async def move_to_web(self, conversation_id: str) -> None:
        """From now on the conversation's replies go to the web chat."""
        async with self._redis.pipeline(transaction=False) as pipe:
            ConversationStore(self._redis, self._keys).moved_on(pipe, conversation_id, WEB)
            await pipe.execute()


async def _vip(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    redis = connect(settings.redis_url)
    try:
        await ProfileStore(redis, Keys(settings.key_prefix)).set_vip(args.email,
                                                                     args.action == "add")
    finally:
        await redis.close(close_connection_pool=True)
    print(f"{args.email}: {'VIP' if args.action == 'add' else 'no longer VIP'}.")


def main(argv: Optional[list] = None) -> int:
    """`python -m handoff.profiles vip add|remove EMAIL`: VIP customers get a higher priority."""
    parser = argparse.ArgumentParser(prog="python -m handoff.profiles")
    sub = parser.add_subparsers(dest="command", required=True)
    vip = sub.add_parser("vip", help="mark or unmark a VIP customer by e-mail address")
    vip.add_argument("action", choices=("add", "remove"))
    vip.add_argument("email")
    args = parser.parse_args(argv)
    if "@" not in args.email:
        print("error: give an e-mail address", file=sys.stderr)
        return 2
    asyncio.run(_vip(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
