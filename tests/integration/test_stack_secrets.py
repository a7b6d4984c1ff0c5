"""The embedded Redis of `./run.sh`: a generated password off the command line, private files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from bot.serve import rasa_argv
from stack.services import Ports, Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_redis_wants_its_password_and_keeps_it_private(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o755)  # as a checkout's .run may be already
    stack = Stack(model=Path("unused"), run_dir=run_dir, ports=Ports.free(), say=lambda _: None)
    try:
        stack.start_redis()
        stack._wait(stack._redis_ready, "redis", 20)
        url = stack.env()["REDIS_URL"]
        password = (run_dir / "redis-password").read_text().strip()
        assert len(password) >= 32 and f":{password}@" in url
        assert "REDIS_PASSWORD" not in stack.env()  # one setting: Rasa's stores read the URL

        stranger = Redis(host="127.0.0.1", port=stack.ports.redis)
        with pytest.raises((AuthenticationError, ResponseError), match="NOAUTH|Authentication"):
            stranger.set("x", "1")
        stranger.close()
        owner = Redis.from_url(url)
        owner.set("written", "1")
        owner.config_set("appendfsync", "always")
        owner.set("synced", "1")
        owner.close()

        pid = stack.processes["redis"].popen.pid
        assert password not in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert _mode(run_dir) == 0o700
        assert _mode(run_dir / "redis") == 0o700
        private = [run_dir / "redis-password", run_dir / "redis" / "redis.conf",
                   run_dir / "redis.log",
                   *[p for p in (run_dir / "redis").rglob("*") if p.is_file()]]
        assert len(private) > 3
        assert {str(p): _mode(p) & 0o077 for p in private} == {str(p): 0 for p in private}
    finally:
        stack.stop()


def test_a_restart_keeps_the_password(tmp_path: Path) -> None:
    first = Stack(model=Path("unused"), run_dir=tmp_path, ports=Ports.free())
    again = Stack(model=Path("unused"), run_dir=tmp_path, ports=first.ports)
    assert first.env()["REDIS_URL"] == again.env()["REDIS_URL"]


def test_rasa_gets_its_token_from_the_environment_only() -> None:
    argv = rasa_argv(["--enable-api", "--port", "5005"], "s3cret-token")
    assert argv == ["rasa", "run", "--enable-api", "--port", "5005", "--auth-token",
                    "s3cret-token"]
    for forbidden in (["--auth-token", "x"], ["--auth-token=x"]):
        with pytest.raises(SystemExit, match="RASA_TOKEN"):
            rasa_argv(forbidden, "s3cret-token")
    with pytest.raises(SystemExit, match="set RASA_TOKEN"):
        rasa_argv(["--enable-api"], "")
