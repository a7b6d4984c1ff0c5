"""The demo account of `./run.sh`: only on its own Redis, only when absent, never overwritten."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from handoff.accounts import AccountStore
from handoff.keys import Keys
from stack.__main__ import DEMO_PASSWORD, DEMO_USER, create_demo_account
from stack.services import Ports, Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

NEW_PASSWORD = "a-passphrase-nobody-guesses"


def _with_accounts(stack: Stack, use: Callable[[AccountStore], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        env = stack.env()
        redis = Redis.from_url(env["REDIS_URL"], decode_responses=True)
        try:
            return await use(AccountStore(redis, Keys(env["HANDOFF_KEY_PREFIX"])))
        finally:
            await redis.close(close_connection_pool=True)
    return asyncio.run(run())


def _start_redis(stack: Stack) -> None:
    stack.start_redis()
    stack._wait(stack._redis_ready, "redis", 20)


def test_a_changed_demo_password_survives_a_restart(tmp_path: Path) -> None:
    stack = Stack(model=Path("unused"), run_dir=tmp_path, ports=Ports.free(), say=lambda _: None)
    try:
        _start_redis(stack)
        create_demo_account(stack)
        demo = _with_accounts(stack, lambda a: a.verify(DEMO_USER, DEMO_PASSWORD))
        assert demo is not None and demo.is_supervisor
        _with_accounts(stack, lambda a: a.create(DEMO_USER, "Demo Agent", NEW_PASSWORD,
                                                 role="supervisor"))

        stack.stop()  # the same data directory, as after Ctrl-C and ./run.sh again
        _start_redis(stack)
        create_demo_account(stack)
        assert _with_accounts(stack, lambda a: a.verify(DEMO_USER, DEMO_PASSWORD)) is None
        assert _with_accounts(stack, lambda a: a.verify(DEMO_USER, NEW_PASSWORD)) is not None
    finally:
        stack.stop()


def test_no_demo_account_on_the_operators_redis(tmp_path: Path, redis_server) -> None:
    client = SyncRedis.from_url(redis_server.url)
    try:
        client.flushdb()
        stack = Stack(model=Path("unused"), run_dir=tmp_path, redis_url=redis_server.url,
                      say=lambda _: None)
        assert not create_demo_account(stack)
        assert client.keys("*") == []
    finally:
        client.close()
