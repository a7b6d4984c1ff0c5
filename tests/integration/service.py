"""The handoff service's application on a real Redis, in the test's own loop, without Rasa.

For the agent API's own rules (sign-in, throttling, headers, permissions, malformed input):
the routes that need Rasa are tested end to end in tests/e2e.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any, AsyncIterator, Callable, Dict, Optional, Tuple

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from handoff.accounts import AccountStore
from handoff.service.app import create_app
from handoff.settings import Settings
from stack.services import free_port
from tests.conftest import PASSWORD
from tests.redis_server import RedisServer

PREFIX = "hf:test"  # the `keys` fixture's


def settings_for(redis_server: RedisServer, **more: Any) -> Settings:
    """Settings of a service on the test Redis, with no Rasa behind it and no assigner."""
    base = Settings.from_env({"REDIS_URL": redis_server.url, "HANDOFF_KEY_PREFIX": PREFIX,
                              "RASA_URL": f"http://127.0.0.1:{free_port()}",
                              "HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_ALWAYS_OPEN": "1",
                              # Tests write records dated 1970 or 2024 (tests/events.py): the
                              # retention job (tests/integration/test_retention.py) keeps them.
                              "HANDOFF_RETAIN_CONVERSATIONS_DAYS": "0",
                              "HANDOFF_RETAIN_RECORDS_DAYS": "0"})
    return replace(base, **more)


@contextlib.asynccontextmanager
async def running_service(settings: Settings,
                          prepare: Optional[Callable[[web.Application], None]] = None,
                          ) -> AsyncIterator[TestServer]:
    """The service listening on 127.0.0.1 (a free port), stopped on the way out."""
    app = create_app(settings)
    if prepare is not None:
        prepare(app)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


class Agent:
    """One browser: its own cookies, speaking JSON like the console."""

    def __init__(self, server: TestServer, headers: Optional[Dict[str, str]] = None) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=30),
                                          headers=headers or {})

    async def request(self, method: str, path: str, body: Any = None,
                      **kwargs: Any) -> Tuple[int, Any, "aiohttp.typedefs.LooseHeaders"]:
        if body is not None and "data" not in kwargs:
            kwargs["json"] = body
        async with self.http.request(method, self.server.make_url(path), **kwargs) as resp:
            text = await resp.text()
            try:
                data = await resp.json(content_type=None) if text else None
            except ValueError:
                data = text
            return resp.status, data, resp.headers

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Tuple[int, Any]:
        status, data, _ = await self.request("POST", path, {} if body is None else body,
                                             **kwargs)
        return status, data

    async def get(self, path: str, **kwargs: Any) -> Tuple[int, Any]:
        status, data, _ = await self.request("GET", path, **kwargs)
        return status, data

    async def login(self, username: str, password: str, **kwargs: Any) -> Tuple[int, Any]:
        return await self.post("/api/login", {"username": username, "password": password},
                               **kwargs)

    async def close(self) -> None:
        await self.http.close()


@contextlib.asynccontextmanager
async def agents(server: TestServer, count: int) -> AsyncIterator[Tuple[Agent, ...]]:
    """`count` browsers, closed on the way out."""
    found = tuple(Agent(server) for _ in range(count))
    try:
        yield found
    finally:
        for agent in found:
            await agent.close()


async def claimed_by_marie(store: Any, redis: Any, keys: Any, ticket: Any, team: str,
                           **others: Dict[str, Any]) -> str:
    """`ticket`'s conversation queued for `team` and claimed by Marie, who is in `team`.

    `others`: more accounts (password PASSWORD), username -> `AccountStore.create`'s keywords.
    """
    accounts = AccountStore(redis, keys)
    await accounts.create("marie", "Marie", PASSWORD, teams=(team,))
    for username, options in others.items():
        await accounts.create(username, username.title(), PASSWORD, **options)
    await store.enqueue(ticket, team)
    await store.claim(ticket.conversation_id, "marie", "Marie")
    return ticket.conversation_id
