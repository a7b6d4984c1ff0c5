"""The running stack keeps its secrets off command lines and its files to its owner."""

from __future__ import annotations

import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List
from urllib.parse import urlparse

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from tests.e2e.conftest import MESSENGER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _command_lines() -> Dict[int, List[str]]:
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                raw = (proc / "cmdline").read_bytes()
                pgrp = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
            except (OSError, ValueError, IndexError):
                continue
            found.setdefault(pgrp, []).append(raw.replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_no_secret_is_on_a_command_line(stack):
    env = stack.env()
    secrets = {"RASA_TOKEN": stack.rasa_token, "ACTION_SERVER_TOKEN": stack.actions_token,
               "REDIS_PASSWORD": urlparse(env["REDIS_URL"]).password or "",
               "CHAT_SESSION_SECRET": env["CHAT_SESSION_SECRET"],
               "MESSENGER_APP_SECRET": MESSENGER["MESSENGER_APP_SECRET"],
               "MESSENGER_PAGE_TOKEN": MESSENGER["MESSENGER_PAGE_TOKEN"]}
    assert all(len(value) >= 16 for value in secrets.values())
    by_group = _command_lines()
    lines = [line for process in stack.processes.values()
             for line in by_group.get(process.popen.pid, [])]
    assert len(lines) >= len(stack.processes)  # every process of the stack was read
    leaks = {name: line for line in lines for name, value in secrets.items() if value in line}
    assert leaks == {}


def test_rasa_api_takes_the_token_from_the_environment(stack):
    with urllib.request.urlopen(f"{stack.rasa_url}/status?token={stack.rasa_token}",
                                timeout=10) as answer:
        assert answer.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stack.rasa_url}/status?token=not-the-token", timeout=10)
    refused.value.close()
    assert refused.value.code == 401


def test_redis_wants_the_password_and_the_files_are_the_owners(stack):
    stranger = Redis(host="127.0.0.1", port=stack.ports.redis)
    try:
        with pytest.raises((AuthenticationError, ResponseError)):
            stranger.get("anything")
    finally:
        stranger.close()
    run_dir = Path(stack.run_dir)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    logs = sorted(run_dir.glob("*.log"))
    assert {"redis.log", "rasa.log", "actions.log", "handoff.log"} <= {p.name for p in logs}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in logs} == {p.name: 0o600
                                                                     for p in logs}
