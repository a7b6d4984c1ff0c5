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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from handoff import teams as team_file
from handoff.account_rules import RuleError, canonical_username, check_password, new_username
from handoff.keys import Keys
from handoff.redis_client import connect
from handoff.settings import Settings

ROLES = ("agent", "supervisor")
LANGUAGES = ("en", "fr")
DEFAULT_MAX_CONVERSATIONS = 5
# argon2 takes tens of milliseconds of CPU and 64 MiB on purpose: it runs in these threads (the
# C code releases the GIL), never on the event loop, so wrong passwords slow nobody else's
# requests; two threads bound the CPU and memory a flood of logins can take.
T = TypeVar("T")
_HASH_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


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
    """A bad username, role or password on account creation (`french`: the same in French)."""

    def __init__(self, english: str, french: Optional[str] = None) -> None:
        super().__init__(english)
        self.french = french or english


class AccountStore:
    """Creates and checks agent accounts."""

    def __init__(self, redis: Redis, keys: Keys,
                 hasher: Optional[PasswordHasher] = None) -> None:
        self._redis = redis
        self._keys = keys
        self._hasher = hasher or PasswordHasher()

    async def create(self, username: str, name: str, password: str, role: str = "agent",
                     max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
                     teams: Sequence[str] = (), languages: Sequence[str] = LANGUAGES,
                     replace: bool = True) -> Optional[Agent]:
        """Creates or replaces an account; teams must be in `handoff/teams.yml`.

        With `replace=False` an existing account is left as it is and None is returned.
        """
        try:
            username = new_username(username)
            check_password(password, (username, name))
        except RuleError as exc:
            raise AccountError(str(exc), exc.french) from exc
        return await self._store(username, name, password, role, max_conversations, teams,
                                 languages, replace)

    async def create_builtin(self, username: str, name: str, password: str,
                             role: str) -> Optional[Agent]:
        """The demo account of a local trial (`./run.sh`): kept if it exists, never replaced.

        Its well-known password is exempt from the password rules; it is created only on the
        Redis that `./run.sh` starts itself (`stack.__main__`).
        """
        return await self._store(new_username(username), name, password, role,
                                 DEFAULT_MAX_CONVERSATIONS, (), LANGUAGES, replace=False)

    async def _store(self, username: str, name: str, password: str, role: str,
                     max_conversations: int, teams: Sequence[str], languages: Sequence[str],
                     replace: bool) -> Optional[Agent]:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}",
                               f"le rôle doit être l'un de : {', '.join(ROLES)}")
        if not 1 <= max_conversations <= 50:
            raise AccountError("max conversations: between 1 and 50",
                               "conversations simultanées : entre 1 et 50")
        unknown = set(teams) - set(team_file.load())
        if unknown:
            raise AccountError(f"unknown team(s): {', '.join(sorted(unknown))}",
                               f"équipe(s) inconnue(s) : {', '.join(sorted(unknown))}")
        if not languages or set(languages) - set(LANGUAGES):
            raise AccountError(f"languages: one or more of {', '.join(LANGUAGES)}",
                               f"langues : une ou plusieurs de {', '.join(LANGUAGES)}")
        key = self._keys.agent(username)
        hashed = await self._in_thread(self._hasher.hash, password)
        # The password field is written first and only if absent: two starts racing, or an
        # operator's account, are never overwritten when `replace` is off.
        if replace:
            await self._redis.hset(key, "password", hashed)
        elif not await self._redis.hsetnx(key, "password", hashed):
            return None
        await self._redis.hset(key, mapping={
            "name": name or username, "role": role, "max_conversations": str(max_conversations),
            "teams": ",".join(sorted(teams)), "languages": ",".join(sorted(languages))})
        await self._redis.sadd(self._keys.agents, username)
        return Agent(username, name or username, role, max_conversations,
                     tuple(sorted(teams)), tuple(sorted(languages)))

    async def all(self) -> List[Agent]:
        """Every account, by username."""
        found = [await self.get(name) for name in sorted(await self._redis.smembers(
            self._keys.agents))]
        return [agent for agent in found if agent is not None]

    async def get(self, username: str) -> Optional[Agent]:
        """An account (by any form of its name, e.g. full-width or capitals), or None."""
        canonical = canonical_username(username)
        if canonical is None:
            return None
        return self.agent_from(canonical, await self._redis.hgetall(self._keys.agent(canonical)))

    def get_on(self, pipe: Pipeline, username: str) -> Optional[str]:
        """`get` queued on `pipe`: the canonical name, for `agent_from` with the reply.

        None (and nothing queued) for a name no account can have.
        """
        canonical = canonical_username(username)
        if canonical is not None:
            pipe.hgetall(self._keys.agent(canonical))
        return canonical

    @staticmethod
    def agent_from(username: str, raw: Dict[str, str]) -> Optional[Agent]:
        """The account stored as `raw` under its canonical `username`, or None."""
        if not raw or "role" not in raw:
            return None
        return Agent(username, raw.get("name", username), raw.get("role", "agent"),
                     int(raw.get("max_conversations", DEFAULT_MAX_CONVERSATIONS)),
                     _split(raw.get("teams", "")), _split(raw.get("languages", "")) or LANGUAGES)

    async def verify(self, username: str, password: str) -> Optional[Agent]:
        """The account if the password matches, else None (argon2 runs in a worker thread)."""
        canonical = canonical_username(username)
        stored = await self._redis.hget(self._keys.agent(canonical), "password") \
            if canonical else None
        if not stored:
            await self._in_thread(self._hasher.hash, "x")  # the same cost for unknown names
            return None
        try:
            await self._in_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return await self.get(canonical)

    @staticmethod
    async def _in_thread(function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(_HASH_THREADS, function, *args)


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
        print(f"error: {exc}\nerreur : {exc.french}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
