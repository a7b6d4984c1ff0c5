"""Starting, checking and stopping the product's processes."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set

from redis.exceptions import RedisClusterException, RedisError

from handoff.keys import Keys
from handoff.messenger_api import DEFAULT_GRAPH_URL
from handoff.redis_client import BadRedisUrl, RedisAddress, connect_sync
from stack.model import ROOT

# Messenger is optional: with no app secret its webhook answers 503 (docs/channels.md). Rasa
# needs every variable of credentials.yml to exist, so each has a default.
MESSENGER_DEFAULTS = {
    "MESSENGER_VERIFY_TOKEN": "",
    "MESSENGER_APP_SECRET": "",
    "MESSENGER_PAGE_TOKEN": "",
    "MESSENGER_GRAPH_URL": DEFAULT_GRAPH_URL,
    "MESSENGER_RETRY_BACKOFF": "0.5",
    "MESSENGER_PAGE_ID": "",  # for m.me links ("continue on Messenger")
    # The REST channel for scripted clients: off unless REST_CHANNEL=1 (bot/rest.py).
    "REST_CHANNEL": "",
}


class StackError(RuntimeError):
    """A setup problem, with what to do about it."""


_RANDOM = random.Random()  # its own state: a test that seeds `random` must not pick our ports
_GIVEN: Set[int] = set()


def free_port() -> int:
    """A TCP port nobody listens on right now, and that no outgoing connection will take.

    Port 0 would give one from the kernel's ephemeral range, the range it also gives to client
    sockets: in a busy test session a client connection took such a port in the 35 s between
    the choice and Rasa's bind ("address already in use"). So the port is drawn below that
    range, and never given twice by this process.
    """
    low = _ephemeral_low()
    first, last = (max(1024, low - 12000), low - 1) if low > 3024 else (61000, 64999)
    for _ in range(200):
        port = _RANDOM.randint(first, last)
        if port in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise StackError(f"no free port between {first} and {last}")


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Ports:
    """The ports of one stack."""

    redis: int = 6380
    rasa: int = 5005
    actions: int = 5055
    handoff: int = 8080

    @classmethod
    def free(cls) -> "Ports":
        """Four ports nobody uses (for tests)."""
        return cls(free_port(), free_port(), free_port(), free_port())


@dataclass
class Process:
    """One child process, in its own process group, with its output in a log file."""

    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        """The end of the process's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the group, then SIGKILL if it has not gone within `timeout`."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


@dataclass
class Stack:
    """Redis (unless `redis_url` is given), action server, Rasa server and handoff service."""

    model: Path
    run_dir: Path
    ports: Ports = field(default_factory=Ports)
    redis_url: Optional[str] = None
    # Hex, so that the token never starts with "-" (argparse would take it for an option).
    rasa_token: str = field(default_factory=lambda: secrets.token_hex(24))
    # The action server answers only calls that carry it (actions/server.py).
    actions_token: str = field(default_factory=lambda: secrets.token_hex(24))
    say: Callable[[str], None] = print
    processes: Dict[str, Process] = field(default_factory=dict)
    # More environment for every process (tests point Messenger at their own Graph API).
    extra_env: Dict[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def chat_url(self) -> str:
        """Where customers' socket.io connects (Rasa here; HAProxy in `BalancedStack`)."""
        return self.rasa_url

    @property
    def handoff_url(self) -> str:
        """Base URL of the handoff service (console, chat page, agent API)."""
        return f"http://127.0.0.1:{self.ports.handoff}"

    @property
    def actions_url(self) -> str:
        """Base URL of the action server."""
        return f"http://127.0.0.1:{self.ports.actions}"

    def start(self) -> None:
        """Starts every process and waits until each answers; stops all on any failure."""
        self._private_run_dir()
        self._check_redis_url()
        self._check_ports()
        try:
            if self.redis_url is None:
                self.start_redis()
            self._wait(self._redis_ready, "redis", 20)
            self.start_actions()
            self.start_rasa()
            self.start_handoff()
            self._wait(lambda: _http_ok(f"{self.actions_url}/health"), "actions", 90)
            self._wait(lambda: _http_ok(f"{self.handoff_url}/api/flows", accept=(401,)),
                       "handoff", 60)
            self._wait(self._rasa_ready, "rasa", 240)
        except BaseException:
            self.stop()
            raise

    def add_rasa(self, name: str, port: int, timeout: float = 240,
                 credentials: str = "credentials.yml", endpoints: str = "endpoints.yml",
                 env: Optional[Dict[str, str]] = None) -> str:
        """Starts one more Rasa server on `port` and waits for it; its URL.

        Other `credentials` and `endpoints` files give other channels and stores (the
        benchmarks' plain-Rasa baseline); `env`, other settings (e.g. `REST_CHANNEL`).
        """
        self.start_rasa(name, port, credentials, endpoints, env)
        url = f"http://127.0.0.1:{port}"
        self._wait(lambda: self._rasa_ready(url), name, timeout)
        return url

    def add_handoff(self, name: str, port: int, env: Dict[str, str],
                    timeout: float = 60) -> str:
        """Starts one more handoff service on `port` with more settings; its URL."""
        self._spawn(name, [sys.executable, "-m", "handoff"], {**env, "HANDOFF_PORT": str(port)})
        url = f"http://127.0.0.1:{port}"
        self._wait(lambda: _http_ok(f"{url}/api/flows", accept=(401,)), name, timeout)
        return url

    def stop_process(self, name: str) -> None:
        """Stops one process of the stack (e.g. an extra Rasa server)."""
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop()

    def stop(self) -> None:
        """Stops every process (handoff and Rasa first, Redis last)."""
        rasas = sorted(name for name in self.processes if name.startswith("rasa"))
        handoffs = sorted(name for name in self.processes if name.startswith("handoff"))
        for name in (*handoffs, *rasas, "actions", "redis"):
            if name in self.processes:
                self.processes[name].stop()

    @property
    def embedded_redis_url(self) -> str:
        """The URL of the Redis this stack runs itself, with its generated password."""
        return f"redis://:{self._secret('redis-password')}@127.0.0.1:{self.ports.redis}/0"

    def env(self) -> Dict[str, str]:
        """Environment shared by every process of the stack (secrets only here, never argv)."""
        return {
            **MESSENGER_DEFAULTS,
            **os.environ,
            "PYTHONPATH": str(ROOT),
            # The one Redis setting of every process, Rasa's stores included (endpoints.yml):
            # a single Redis or a Sentinel group (handoff/redis_client.py).
            "REDIS_URL": self.redis_url or self.embedded_redis_url,
            "ACTION_SERVER_URL": f"{self.actions_url}/webhook",
            "ACTION_SERVER_TOKEN": self.actions_token,
            "RASA_URL": self.rasa_url,
            "RASA_TOKEN": self.rasa_token,
            "HANDOFF_PORT": str(self.ports.handoff),
            "HANDOFF_HOST": "127.0.0.1",
            # Every process, Rasa's too (channels, event broker), names keys the same way.
            "HANDOFF_KEY_PREFIX": os.environ.get("HANDOFF_KEY_PREFIX") or Keys.prefix,
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            # Each stack gets its own copy of the sample orders (tests cancel and edit orders).
            "ORDERS_DB_PATH": str(self.run_dir / "orders.db"),
            "CHAT_SESSION_SECRET": (os.environ.get("CHAT_SESSION_SECRET")
                                    or self._secret("chat-session-secret")),
            # Pseudonyms of conversation ids in every process's log (handoff/log_privacy.py).
            "HANDOFF_LOG_KEY": os.environ.get("HANDOFF_LOG_KEY") or self._secret("log-key"),
            "CHAT_ALLOWED_ORIGINS": os.environ.get("CHAT_ALLOWED_ORIGINS") or ",".join(filter(
                None, [os.environ.get("HANDOFF_PUBLIC_URL"), self.handoff_url,
                       f"http://localhost:{self.ports.handoff}"])),
            **self.extra_env,
        }

    def _secret(self, name: str) -> str:
        """A generated secret kept in the run directory (owner only), the same after restarts.

        `chat-session-secret` signs customers' chat sessions; `redis-password` is the embedded
        Redis's (`python -m handoff.accounts` needs it in REDIS_URL: see README).
        """
        path = self.run_dir / name
        if not path.exists():
            self._private_run_dir()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        path.chmod(0o600)
        return path.read_text().strip()

    def _private_run_dir(self) -> None:
        """The run directory (logs, Redis's data, secrets): its owner's only."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.run_dir.chmod(0o700)

    def start_redis(self) -> None:
        """A redis-server of our own, with an append-only file in the run directory.

        `appendfsync no`: Redis writes every command to the file (the OS's cache) before it
        answers, so a crash of Redis loses nothing it acknowledged. Under `everysec` it may
        answer while it postpones that write (up to 2 s, when the previous second's fsync is
        slow: a busy disk), and a kill -9 then loses acknowledged writes (seen in
        tests/e2e/test_fault_relay.py). `always` would also survive a crash of the machine,
        at about 4 ms per write on a shared disk (docs/reliability.md).

        Its password is in a configuration file only the owner can read, never on the command
        line; every process of the stack gets it in REDIS_URL (`env`).
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is not installed: `apt-get install redis-server`, "
                             "or set REDIS_URL to a Redis you run yourself.")
        self._private_run_dir()
        data = self.run_dir / "redis"
        data.mkdir(exist_ok=True, mode=0o700)
        data.chmod(0o700)
        config = data / "redis.conf"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(_redis_config(self.ports.redis, data, self._secret("redis-password")))
        config.chmod(0o600)
        self._spawn("redis", [binary, str(config)])

    def start_actions(self) -> None:
        """The rasa-sdk action server, on loopback, behind its secret (in the environment)."""
        self._spawn("actions", [sys.executable, "-m", "actions.server",
                                "--port", str(self.ports.actions)])

    def start_rasa(self, name: str = "rasa", port: Optional[int] = None,
                   credentials: str = "credentials.yml", endpoints: str = "endpoints.yml",
                   env: Optional[Dict[str, str]] = None) -> None:
        """A Rasa server, with its HTTP API behind the token (more than one may run)."""
        port = port or self.ports.rasa
        # `bot.serve` is `rasa run` with the token from RASA_TOKEN, off the command line.
        self._spawn(name, [sys.executable, "-m", "bot.serve", "--model", str(self.model),
                           "--enable-api", "--port", str(port),
                           "--credentials", credentials, "--endpoints", endpoints,
                           "--interface", "127.0.0.1"], env)

    def start_handoff(self) -> None:
        """The handoff service."""
        self._spawn("handoff", [sys.executable, "-m", "handoff"])

    def _spawn(self, name: str, cmd: List[str], env: Optional[Dict[str, str]] = None) -> None:
        # Logs hold session ids, customers' words and tracebacks: owner only, like every file
        # the processes create (umask), Redis's append-only file included.
        log = self.run_dir / f"{name}.log"
        out = os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        log.chmod(0o600)
        popen = subprocess.Popen(cmd, cwd=ROOT, env={**self.env(), **(env or {})}, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, umask=0o077)
        out.close()
        self.processes[name] = Process(name, popen, log)

    def _check_redis_url(self) -> None:
        """A `REDIS_URL` no process could use stops the start here, with the reason."""
        if self.redis_url is not None:
            try:
                RedisAddress.parse(self.redis_url)
            except BadRedisUrl as exc:
                raise StackError(str(exc)) from None

    def _check_ports(self) -> None:
        wanted = {"rasa": self.ports.rasa, "actions": self.ports.actions,
                  "handoff": self.ports.handoff}
        if self.redis_url is None:
            wanted["redis"] = self.ports.redis
        for name, port in wanted.items():
            if port_in_use(port):
                raise StackError(f"Port {port} (for {name}) is already in use. Stop what uses "
                                 f"it, or choose another port: see `./run.sh --help`.")

    def _redis_ready(self) -> bool:
        """Whether the Redis of every process answers (the primary, under Sentinel)."""
        try:
            # A Cluster's client meets its nodes as it is made.
            client = connect_sync(self.redis_url or self.embedded_redis_url,
                                  socket_timeout=1, socket_connect_timeout=1)
        except (RedisError, RedisClusterException, OSError):
            return False
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False
        finally:
            client.close()

    def _rasa_ready(self, url: Optional[str] = None) -> bool:
        return _http_ok(f"{url or self.rasa_url}/status?token={self.rasa_token}")

    def _wait(self, ready: Callable[[], bool], name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                self.say(f"  {name} is up")
                return
            proc = self.processes.get(name)
            if proc is not None and proc.popen.poll() is not None:
                raise StackError(f"{name} exited with code {proc.popen.returncode}:\n"
                                 f"{proc.tail()}")
            time.sleep(0.3)
        proc = self.processes.get(name)
        raise StackError(f"{name} did not answer within {timeout:.0f} s"
                         + (f":\n{proc.tail()}" if proc else ""))


def _redis_config(port: int, data: Path, password: str) -> str:
    quoted = '"' + str(data).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "\n".join([f"port {port}", "bind 127.0.0.1", f"dir {quoted}", "appendonly yes",
                      "appendfsync no", 'save ""', f"requirepass {password}", ""])


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _http_ok(url: str, accept: tuple = ()) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code in accept
    except (urllib.error.URLError, OSError):
        return False
