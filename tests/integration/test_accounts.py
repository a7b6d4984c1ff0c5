"""Account creation: passwords per OWASP ASVS V2.1, usernames normalised to a safe alphabet."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis.asyncio import Redis

from handoff.accounts import AccountError, AccountStore
from handoff.keys import Keys
from tests.conftest import repo_root

pytestmark = pytest.mark.integration

GOOD = "staple-horse-4821"


@pytest.mark.parametrize("password, reason", [
    ("demo", "at least 12"),
    ("pass", "at least 12"),
    ("short-9chr", "at least 12"),
    ("password1234", "too easy to guess"),
    ("qwertyuiop12", "too easy to guess"),
    ("            ", "too easy to guess"),
    ("aaaaaaaaaaaaaaaa", "too easy to guess"),
    ("marie-is-the-best", "username or the name"),
    ("MARIE2026-x-y-z", "username or the name"),
    ("dupont-rocks-2026", "username or the name"),
    ("ok-length-\ud800-lone", "control characters"),
    ("tab\tinside-a-password", "control characters"),
    ("x" * 129, "at most 128"),
])
async def test_weak_passwords_are_refused(redis: Redis, keys: Keys, password: str,
                                          reason: str) -> None:
    with pytest.raises(AccountError, match=reason) as refused:
        await AccountStore(redis, keys).create("marie", "Marie Dupont", password)
    assert refused.value.french != str(refused.value)  # said in French too
    assert await redis.exists(keys.agent("marie")) == 0


async def test_a_long_passphrase_with_spaces_is_accepted(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys)
    await accounts.create("marie", "Marie", "correct horse battery staple")
    assert await accounts.verify("marie", "correct horse battery staple") is not None


@pytest.mark.parametrize("username", [
    "m\u0430rie",            # Cyrillic а, looks like Latin a
    "ｍａｒｉｅ",             # full-width
    "marie\u200b",           # zero-width space
    "marie dupont", "marie/x", "-marie", "", "m" * 65, "émile", "ma\ud800rie",
])
async def test_look_alike_and_unsafe_usernames_are_refused(redis: Redis, keys: Keys,
                                                           username: str) -> None:
    with pytest.raises(AccountError, match="username") as refused:
        await AccountStore(redis, keys).create(username, "Marie", GOOD)
    assert "identifiant" in refused.value.french
    assert await redis.keys("*") == []


async def test_usernames_are_normalised(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys)
    agent = await accounts.create("Marie.D", "Marie", GOOD)
    assert agent is not None and agent.username == "marie.d"
    # The same account whichever way it is typed (a phone's full-width input, capitals).
    assert (await accounts.verify("ｍａｒｉｅ.ｄ", GOOD)).username == "marie.d"
    assert (await accounts.verify("MARIE.D", GOOD)).username == "marie.d"
    assert await accounts.verify("m\u0430rie.d", GOOD) is None
    assert await redis.smembers(keys.agents) == {"marie.d"}


def test_the_command_says_why_in_both_languages(redis_server) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "handoff.accounts", "create", "marie"], cwd=repo_root(),
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": redis_server.url,
             "HANDOFF_KEY_PREFIX": "hf:test", "HANDOFF_NEW_PASSWORD": "password"},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "at least 12 characters" in done.stderr
    assert "au moins 12 caractères" in done.stderr
