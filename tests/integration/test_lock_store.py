"""The lock store Rasa is configured with (endpoints.yml): still one holder at a time per
conversation, and a waiter looks again within milliseconds, not after a second."""

import asyncio

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import read_endpoint_config

from bot.lock_store import LOOK_AGAIN_AFTER, PromptRedisLockStore
from stack.model import ROOT
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.integration,
              # pykwalify (Rasa's YAML validation) loads its extensions the old way.
              pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")]


@pytest.fixture
def lock_store(redis_server, monkeypatch, redis) -> LockStore:
    for name, value in {"REDIS_URL": redis_server.url,
                        "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
                        "ACTION_SERVER_TOKEN": "unused-in-this-test",
                        "HANDOFF_KEY_PREFIX": "hf:v1"}.items():
        monkeypatch.setenv(name, value)
    return LockStore.create(read_endpoint_config(str(ROOT / "endpoints.yml"),
                                                 "lock_store"))


async def test_endpoints_configure_the_prompt_lock_store(lock_store):
    assert isinstance(lock_store, PromptRedisLockStore)


async def test_one_holder_at_a_time_in_ticket_order(lock_store, monkeypatch):
    inside, order, waits = [], [], []
    real_sleep = asyncio.sleep

    async def recorded_sleep(delay, *args):
        waits.append(delay)
        await real_sleep(delay, *args)
    monkeypatch.setattr("rasa.core.lock_store.asyncio.sleep", recorded_sleep)

    async def work(n: int) -> None:
        async with lock_store.lock("conversation-1"):
            inside.append(n)
            assert len(inside) == 1, "two holders at once"
            order.append(n)
            await real_sleep(0.05)
            inside.remove(n)

    tasks = []
    for n in range(5):  # tickets are issued in this order
        tasks.append(asyncio.create_task(work(n)))
        await real_sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert waits and set(waits) == {LOOK_AGAIN_AFTER}


async def test_redis_dying_at_the_end_of_a_turn_does_not_fail_the_turn(tmp_path, monkeypatch):
    own = RedisServer(tmp_path / "redis").start()
    try:
        for name, value in {"REDIS_URL": own.url,
                            "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
                            "ACTION_SERVER_TOKEN": "unused-in-this-test",
                            "HANDOFF_KEY_PREFIX": "hf:v1"}.items():
            monkeypatch.setenv(name, value)
        store = LockStore.create(read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store"))
        async with store.lock("conversation-1"):
            own.proc.kill()  # the turn was saved; Redis dies before the lock is let go
            own.proc.wait(timeout=10)
        # No exception: the turn stands. With Redis back, the lock expires by its lifetime.
    finally:
        own.stop()
