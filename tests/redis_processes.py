"""What the tests' own Redis groups (Sentinel, Cluster) share: their processes' lives."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Tuple

from redis import Redis
from redis.exceptions import RedisError


class RedisProcesses:
    """Starts, kills and stops `redis-server` processes, one per port, logging in `data_dir`."""

    name = "the Redis group"  # in error messages

    def __init__(self, data_dir: Path, password: str) -> None:
        self.data_dir = data_dir
        self.password = password
        self.procs: Dict[int, "subprocess.Popen[bytes]"] = {}

    def spawn(self, port: int, config: Path, *extra: str) -> None:
        """Starts `redis-server config extra…` for `port`; its output goes to `log_of(port)`."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install redis-server")
        log = open(self.log_of(port), "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.procs[port] = subprocess.Popen([binary, str(config), *extra], stdout=log,
                                                stderr=subprocess.STDOUT)
        finally:
            log.close()

    def log_of(self, port: int) -> Path:
        """Where the node on `port` writes its log."""
        return self.data_dir / f"{port}.log"

    def kill(self, port: int) -> None:
        """kill -9 of one node, as a crash."""
        proc = self.procs[port]
        proc.kill()
        proc.wait(timeout=10)

    def stop_ports(self, ports: Iterable[int]) -> None:
        """Stops the nodes still running, in this order; reaps those killed."""
        for port in ports:
            proc = self.procs.pop(port, None)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)

    def wait(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Polls `ready` until it holds; a clear error after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: waited {timeout:.0f} s for {what}")

    @staticmethod
    def roles_of(ports: Iterable[int], client: Callable[[int], Redis]) -> List[Tuple[int, str]]:
        """Each node's port and role (`down` if it does not answer), for a failing test."""
        found = []
        for port in ports:
            try:
                with client(port) as node:
                    found.append((port, node.info("replication").get("role", "?")))
            except RedisError:
                found.append((port, "down"))
        return found
