"""The action server as the stack starts it: loopback only, a shared secret, bounded bodies."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import pytest

from actions.server import DEFAULT_MAX_BODY, HEADER
from stack.services import Ports, Stack, StackError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CALL = {"next_action": "action_that_does_not_exist", "sender_id": "c1", "version": "3.6.2",
        "tracker": {"sender_id": "c1", "slots": {}, "latest_message": {}, "events": [],
                    "paused": False, "followup_action": None, "active_loop": {},
                    "latest_action_name": None},
        "domain": {}}


def _stack(tmp_path: Path, redis_url: str, **options: str) -> Stack:
    return Stack(model=Path(), run_dir=tmp_path, ports=Ports.free(), redis_url=redis_url,
                 say=lambda _: None, **options)


@pytest.fixture
def actions(tmp_path: Path, redis_server) -> Iterator[Stack]:
    stack = _stack(tmp_path, redis_server.url)
    try:
        stack.start_actions()
        stack._wait(lambda: _call(stack, "GET", "/health")[0] == 200, "actions", 90)
        yield stack
    finally:
        stack.stop()


def _call(stack: Stack, method: str, path: str, body: Optional[bytes] = None,
          headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes]:
    request = urllib.request.Request(f"{stack.actions_url}{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def test_a_call_without_the_secret_is_refused(actions):
    body = json.dumps(CALL).encode()
    assert _call(actions, "POST", "/webhook", body)[0] == 401
    assert _call(actions, "POST", "/webhook", body, {HEADER: "wrong" * 10})[0] == 401
    assert _call(actions, "POST", "/webhook", body, {HEADER: "é" * 48})[0] == 401
    assert _call(actions, "GET", "/actions")[0] == 401
    # With it, the call reaches the actions (this one names none: 404 from rasa-sdk).
    status, answer = _call(actions, "POST", "/webhook", body, {HEADER: actions.actions_token})
    assert status == 404 and b"action_that_does_not_exist" in answer
    status, answer = _call(actions, "GET", "/actions", headers={HEADER: actions.actions_token})
    assert status == 200 and b"action_handoff" in answer
    assert _call(actions, "GET", "/health")[0] == 200  # says nothing, needs nothing


def test_a_body_over_the_limit_is_refused_before_it_is_read(actions):
    assert _status_of_declared_body(actions, DEFAULT_MAX_BODY + 1) == 413
    assert _status_of_declared_body(actions, 64) != 413  # the secret, then a 64-byte body


def _status_of_declared_body(stack: Stack, length: int) -> int:
    """The status of a POST that announces `length` bytes (the server answers before them)."""
    with socket.create_connection(("127.0.0.1", stack.ports.actions), 10) as sock:
        sock.sendall(f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     f"\r\n{HEADER}: {stack.actions_token}\r\nContent-Length: {length}\r\n"
                     f"\r\n".encode() + b" " * min(length, 64))
        return int(sock.recv(64).split()[1])


def test_it_listens_on_loopback_only(actions):
    assert _listening_addresses(actions.ports.actions) == {"127.0.0.1"}


def test_it_does_not_start_without_a_secret(tmp_path, redis_server):
    stack = _stack(tmp_path, redis_server.url, actions_token="")
    try:
        stack.start_actions()
        with pytest.raises(StackError, match="ACTION_SERVER_TOKEN"):
            stack._wait(lambda: False, "actions", 60)
    finally:
        stack.stop()


def _listening_addresses(port: int) -> set:
    """The local IPv4/IPv6 addresses with a listening TCP socket on `port` (/proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return "::" if set(hex_address) == {"0"} else hex_address
