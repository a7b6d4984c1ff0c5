"""Several Rasa and handoff processes behind HAProxy on one machine: `--rasa N --handoff M`.

The layout of a deployment on several machines (docs/deploy.md), to try and to test.

`ports.handoff` is the one public address (console, agent API, chat page, and Rasa's channels
under `/socket.io/` and `/webhooks/`: `stack.balancer`); `ports.rasa` is HAProxy's private front
to Rasa's HTTP API, which the handoff service uses. The processes themselves listen on free
ports of their own.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, List

from stack import balancer
from stack.services import Stack, StackError, _http_ok, free_port


@dataclass
class BalancedStack(Stack):
    """`Stack` with `rasa_count` Rasa processes and `handoff_count` handoff services."""

    rasa_count: int = 2
    handoff_count: int = 2
    backends: Dict[str, List[int]] = field(default_factory=dict)
    stats_port: int = 0  # HAProxy's figures (chosen at start)

    @property
    def chat_url(self) -> str:
        """Where customers' socket.io connects: the public address."""
        return self.handoff_url

    def backend_urls(self, kind: str) -> List[str]:
        """The URLs of the `rasa` or `handoff` processes themselves (behind HAProxy)."""
        return [f"http://127.0.0.1:{port}" for port in self.backends.get(kind, [])]

    def env(self) -> Dict[str, str]:
        """`Stack.env`, with the public address being HAProxy's."""
        env = super().env()
        return {
            **env,
            "HANDOFF_PUBLIC_URL": os.environ.get("HANDOFF_PUBLIC_URL") or self.handoff_url,
            "CHAT_RASA_URL": os.environ.get("CHAT_RASA_URL") or self.chat_url,
            # HAProxy's X-Forwarded-For names the client (sign-in throttling).
            "HANDOFF_TRUSTED_PROXIES": env.get("HANDOFF_TRUSTED_PROXIES") or "127.0.0.1",
            **self.extra_env,
        }

    def start(self) -> None:
        """Every process, then HAProxy; waits until each answers, through HAProxy too."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """`start`'s first half: Redis (until it answers), then every other process, started.

        Until `wait_ready` returns, Rasa may still be loading its model (about 30 s of one
        core): meanwhile another stack may be launched, so that their Rasa processes load side
        by side (bench.scaling, a plan with `start_together`). Stops all on any failure.
        """
        if self.rasa_count < 1 or self.handoff_count < 1:
            raise StackError("--rasa and --handoff want at least 1 process each")
        self._private_run_dir()
        self._check_redis_url()
        self._check_ports()
        self.backends = {"rasa": [free_port() for _ in range(self.rasa_count)],
                         "handoff": [free_port() for _ in range(self.handoff_count)]}
        self.stats_port = self.stats_port or free_port()
        try:
            if self.redis_url is None:
                self.start_redis()
            self._wait(self._redis_ready, "redis", 20)
            self.start_actions()
            for n, port in enumerate(self.backends["rasa"]):
                self.start_rasa(_name("rasa", n), port)
            for n, port in enumerate(self.backends["handoff"]):
                self._spawn(_name("handoff", n), [sys.executable, "-m", "handoff"],
                            {"HANDOFF_PORT": str(port)})
            self.start_balancer()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self) -> None:
        """`start`'s second half: waits until each process answers, through HAProxy too."""
        try:
            self._wait(lambda: _http_ok(f"{self.actions_url}/health"), "actions", 90)
            for n, url in enumerate(self.backend_urls("handoff")):
                self._wait(lambda u=url: _http_ok(f"{u}/api/flows", accept=(401,)),
                           _name("handoff", n), 60)
            for n, url in enumerate(self.backend_urls("rasa")):
                self._wait(lambda u=url: self._rasa_ready(u), _name("rasa", n), 300)
            self._wait(self._balanced_ready, "balancer", 30)
        except BaseException:
            self.stop()
            raise

    def start_balancer(self) -> None:
        """HAProxy in the foreground, its configuration in the run directory (owner only)."""
        try:
            binary = balancer.haproxy_binary()
        except FileNotFoundError as exc:
            raise StackError(str(exc)) from None
        path = self.run_dir / "haproxy.cfg"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(balancer.config(self.ports.handoff, self.ports.rasa,
                                      self.backends["rasa"], self.backends["handoff"],
                                      self.stats_port))
        self._spawn("balancer", [binary, "-db", "-f", str(path)])

    def sessions(self) -> Dict[str, int]:
        """Sessions HAProxy gave each process so far (`rasa/rasa1`, `handoff/handoff2`...)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/;csv", timeout=5) as r:
            rows = list(csv.reader(io.StringIO(r.read().decode().lstrip("# "))))
        header = rows[0]
        return {f"{row[0]}/{row[1]}": int(row[header.index("stot")] or 0) for row in rows[1:]
                if row and row[1] not in ("FRONTEND", "BACKEND")}

    def stop(self) -> None:
        """HAProxy first (no new requests), then as `Stack.stop`."""
        self.stop_process("balancer")
        super().stop()

    def _balanced_ready(self) -> bool:
        return (_http_ok(f"{self.handoff_url}/api/flows", accept=(401,))
                and _http_ok(f"{self.handoff_url}/webhooks/socketio/")
                and self._rasa_ready())


def _name(kind: str, n: int) -> str:
    """`rasa`, `rasa-2`, ...: the first keeps the single stack's name (logs, restarts)."""
    return kind if n == 0 else f"{kind}-{n + 1}"
