"""One customer across channels: linked identities, and conversations that change channel.

An identity is `<channel>:<conversation id>` (`socketio:<id>` for the web chat, `messenger:<psid>`
for Messenger). Identities are linked only through something the customer has: a link code that
the agent sends on the channel the customer is on, and that comes back on the other channel (a
Messenger `m.me` link with `ref=<code>`, or a chat page address with `?link=<code>`). Redeeming a
code links both identities into one profile (so the agent sees the customer's earlier
conversations on every channel) and moves the conversation: the new channel's messages join the
same Rasa conversation, with its whole history, and replies go to the new channel.

Codes are random (about 40 bits), single-use (GETDEL) and expire after `CODE_TTL`.
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
from handoff.redis_client import connect
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
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self._keys.profile(target), *members)
            for member in members:
                pipe.set(self._keys.profile_of(member), target)
            for other in {a, b} - {None, target}:
                pipe.delete(self._keys.profile(other))
            await pipe.execute()
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
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.messenger_alias(psid), conversation_id)
            ConversationStore(self._redis, self._keys).moved_on(pipe, conversation_id, MESSENGER,
                                                                psid)
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
