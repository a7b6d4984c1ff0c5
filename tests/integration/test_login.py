"""Sign-in: growing delays against guessing that cannot lock a real agent out, argon2 off the loop.

Addresses are told apart by X-Forwarded-For from a trusted proxy (127.0.0.1 here), as behind
the reverse proxy of a production setup; the guard's clock is the test's.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List

import pytest
from argon2 import PasswordHasher

from handoff.accounts import AccountStore
from handoff.service.api.login_guard import LoginGuard
from handoff.service.appkeys import ACCOUNTS, KEYS, LOGIN_GUARD, REDIS
from tests.conftest import PASSWORD
from tests.integration.service import agents, running_service, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def accounts(redis, keys):
    store = AccountStore(redis, keys)
    await store.create("marie", "Marie", PASSWORD)
    await store.create("sam", "Sam", PASSWORD, role="supervisor")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(redis_server, accounts, clock):
    def with_clock(app: Any) -> None:
        app[LOGIN_GUARD] = LoginGuard(app[REDIS], app[KEYS], clock=clock)

    settings = settings_for(redis_server, trusted_proxies=("127.0.0.1",))
    async with running_service(settings, with_clock) as running:
        yield running


def at(address: str, **more: str) -> Dict[str, Any]:
    return {"headers": {"X-Forwarded-For": address, **more}}


async def test_one_client_guessing_meets_growing_delays(server, clock):
    async with agents(server, 1) as (guesser,):
        for _ in range(5):
            assert (await guesser.login("marie", "wrong-guess-123", **at("10.0.0.1")))[0] == 401
        status, body, headers = await guesser.request(
            "POST", "/api/login", {"username": "marie", "password": PASSWORD},
            **at("10.0.0.1", **{"Accept-Language": "fr"}))
        assert status == 429  # even the right password is not checked yet
        assert body["error"]["code"] == "login_throttled"
        assert "attendez 1 s" in body["error"]["message"]
        assert headers["Retry-After"] == "1"

        clock.now += 1.5
        assert (await guesser.login("marie", "wrong-guess-124", **at("10.0.0.1")))[0] == 401
        status, _, headers = await guesser.request(
            "POST", "/api/login", {"username": "marie", "password": "x"}, **at("10.0.0.1"))
        assert (status, headers["Retry-After"]) == (429, "2")  # it doubles

        clock.now += 2.5
        assert (await guesser.login("marie", PASSWORD, **at("10.0.0.1")))[0] == 200


async def test_volume_from_elsewhere_never_locks_the_agent_out(server, clock):
    async with agents(server, 4) as (marie, attacker, newcomer, marie_again):
        assert (await marie.login("marie", PASSWORD, **at("10.0.0.1")))[0] == 200
        assert (await marie.post("/api/logout"))[0] == 200
        # Wrong passwords from 20 addresses, each below its own allowance, as fast as the
        # account's slow-down lets them be checked, for 5 hours.
        statuses = []
        for n in range(20):
            clock.now += 901
            for attempt in range(2):
                status, _ = await attacker.login("marie", f"guess-{n}-{attempt}",
                                                 **at(f"10.1.{n}.1"))
                statuses.append(status)
        assert set(statuses) == {401, 429} and statuses.count(401) >= 20
        # A client the account does not know is slowed down, even with the right password...
        assert (await newcomer.login("marie", PASSWORD, **at("10.2.0.1")))[0] == 429
        # ...Marie is not: from the address she signed in from before,
        assert (await marie_again.login("marie", PASSWORD, **at("10.0.0.1")))[0] == 200
        # and from anywhere with the browser she signed in with (its device cookie).
        assert (await marie.login("marie", PASSWORD, **at("10.3.0.1")))[0] == 200


async def test_one_address_trying_many_accounts_is_slowed(server):
    async with agents(server, 2) as (sprayer, neighbour):
        for n in range(20):
            assert (await sprayer.login(f"user{n}", "Summer2026!!", **at("10.0.0.7")))[0] == 401
        status, body = await sprayer.login("sam", "Summer2026!!", **at("10.0.0.7"))
        assert (status, body["error"]["code"]) == (429, "login_throttled")
        assert (await neighbour.login("sam", PASSWORD, **at("10.0.0.8")))[0] == 200


async def test_cheap_requests_without_a_session_do_not_lock_sign_in(server):
    async with agents(server, 1) as (someone,):
        statuses = [(await someone.get("/api/queue"))[0] for _ in range(130)]
        assert set(statuses) == {401}
        assert (await someone.login("marie", PASSWORD))[0] == 200


class GatedHasher(PasswordHasher):
    """The real argon2 hasher, held inside `verify` until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: List[str] = []

    def verify(self, hash: Any, password: Any) -> bool:  # noqa: A002 (argon2's name)
        if self.armed:
            self.threads.append(threading.current_thread().name)
            self.entered.set()
            self.release.wait(10)  # bounded: a loop blocked here fails the test, never hangs
        return super().verify(hash, password)


async def test_other_agents_are_served_while_a_password_is_checked(redis_server, accounts):
    hasher = GatedHasher()

    def with_hasher(app: Any) -> None:
        app[ACCOUNTS] = AccountStore(app[REDIS], app[KEYS], hasher=hasher)

    async with running_service(settings_for(redis_server), with_hasher) as server, \
            agents(server, 2) as (sam, guesser):
        assert (await sam.login("sam", PASSWORD))[0] == 200
        hasher.armed = True
        guess = asyncio.create_task(guesser.login("marie", "wrong-guess-123"))
        assert await asyncio.to_thread(hasher.entered.wait, 10)
        served_meanwhile = await asyncio.wait_for(sam.get("/api/me"), 5)
        assert served_meanwhile[0] == 200
        assert not hasher.release.is_set() and not guess.done()
        hasher.release.set()
        assert (await guess)[0] == 401
        assert hasher.threads and all(t.startswith("argon2") for t in hasher.threads)
        assert threading.current_thread().name not in hasher.threads


async def test_a_lone_surrogate_or_a_huge_field_is_a_400(server):
    async with agents(server, 1) as (someone,):
        for raw in (b'{"username": "\\ud800", "password": "x"}',
                    b'{"username": "marie", "password": "\\udfff"}'):
            status, body = await someone.post("/api/login", data=raw,
                                              headers={"Content-Type": "application/json"})
            assert (status, body["error"]["code"]) == (400, "bad_request")
        status, body = await someone.login("marie", "x" * 5000)
        assert (status, body["error"]["code"]) == (400, "bad_request")
