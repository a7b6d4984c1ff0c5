"""Agent accounts in Redis, with argon2 password hashes.

    python -m handoff.accounts create USERNAME --name "Marie Dupont" [--role supervisor]
        [--teams orders,billing] [--languages fr,en] [--max-conversations 5]

asks for the password (or reads it from HANDOFF_NEW_PASSWORD).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from handoff import teams as team_file
from handoff.keys import Keys
from handoff.redis_client import connect
from handoff.settings import Settings

ROLES = ("agent", "supervisor")
LANGUAGES = ("en", "fr")
DEFAULT_MAX_CONVERSATIONS = 5
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Agent:
    """A signed-in person of the support team."""

    username: str
    name: str
    role: str
    max_conversations: int = DEFAULT_MAX_CONVERSATIONS
    teams: Tuple[str, ...] = ()
    languages: Tuple[str, ...] = LANGUAGES

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see every team's queue and every held conversation."""
        return self.role == "supervisor"

    def serves(self, team: Optional[str]) -> bool:
        """Whether a conversation waiting for `team` (None: anyone) is for this agent."""
        return not team or team in self.teams or self.is_supervisor

    def public(self) -> dict:
        """The JSON shape of the agent API."""
        return {"username": self.username, "name": self.name, "role": self.role,
                "max_conversations": self.max_conversations, "teams": list(self.teams),
                "languages": list(self.languages)}


class AccountError(ValueError):
    """A bad username, role or password on account creation."""


class AccountStore:
    """Creates and checks agent accounts."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def create(self, username: str, name: str, password: str, role: str = "agent",
                     max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
                     teams: Sequence[str] = (), languages: Sequence[str] = LANGUAGES) -> Agent:
        """Creates or replaces an account; teams must be in `handoff/teams.yml`."""
        if not username.isidentifier() or len(username) > 64:
            raise AccountError("username: letters, digits and _ only, up to 64 characters")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 4:
            raise AccountError("password: at least 4 characters")
        if not 1 <= max_conversations <= 50:
            raise AccountError("max conversations: between 1 and 50")
        unknown = set(teams) - set(team_file.load())
        if unknown:
            raise AccountError(f"unknown team(s): {', '.join(sorted(unknown))}")
        if not languages or set(languages) - set(LANGUAGES):
            raise AccountError(f"languages: one or more of {', '.join(LANGUAGES)}")
        await self._redis.hset(self._keys.agent(username), mapping={
            "name": name or username, "role": role, "password": _hasher.hash(password),
            "max_conversations": str(max_conversations), "teams": ",".join(sorted(teams)),
            "languages": ",".join(sorted(languages))})
        await self._redis.sadd(self._keys.agents, username)
        return Agent(username, name or username, role, max_conversations,
                     tuple(sorted(teams)), tuple(sorted(languages)))

    async def all(self) -> List[Agent]:
        """Every account, by username."""
        found = [await self.get(name) for name in sorted(await self._redis.smembers(
            self._keys.agents))]
        return [agent for agent in found if agent is not None]

    async def get(self, username: str) -> Optional[Agent]:
        """An account, or None."""
        raw = await self._redis.hgetall(self._keys.agent(username))
        if not raw:
            return None
        return Agent(username, raw.get("name", username), raw.get("role", "agent"),
                     int(raw.get("max_conversations", DEFAULT_MAX_CONVERSATIONS)),
                     _split(raw.get("teams", "")), _split(raw.get("languages", "")) or LANGUAGES)

    async def verify(self, username: str, password: str) -> Optional[Agent]:
        """The account if the password matches, else None."""
        stored = await self._redis.hget(self._keys.agent(username), "password")
        if not stored:
            _hasher.hash(password)  # same cost whether or not the account exists
            return None
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return await self.get(username)


def _split(joined: str) -> Tuple[str, ...]:
    return tuple(part for part in joined.split(",") if part)


async def _create(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    password = os.environ.get("HANDOFF_NEW_PASSWORD") or getpass.getpass("Password: ")
    redis = connect(settings.redis_url)
    try:
        agent = await AccountStore(redis, Keys(settings.key_prefix)).create(
            args.username, args.name, password, args.role, args.max_conversations,
            _split(args.teams.replace(" ", "")), _split(args.languages.replace(" ", "")))
    finally:
        await redis.close()
    teams = ", ".join(agent.teams) or "no team"
    print(f"Account {agent.username} ({agent.role}; {teams}; speaks "
          f"{', '.join(agent.languages)}) saved.")


def main(argv: Optional[list] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m handoff.accounts")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create or replace an agent account")
    create.add_argument("username")
    create.add_argument("--name", default="")
    create.add_argument("--role", default="agent", choices=ROLES)
    create.add_argument("--max-conversations", type=int, default=DEFAULT_MAX_CONVERSATIONS,
                        help="how many conversations the agent may hold at once")
    create.add_argument("--teams", default="",
                        help="comma-separated teams from handoff/teams.yml, e.g. orders,billing")
    create.add_argument("--languages", default=",".join(LANGUAGES),
                        help="comma-separated languages the agent answers in (en, fr)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_create(args))
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
