"""A real Sentinel group of the tests' own, on free ports: 1 primary, 2 replicas, 3 sentinels.

Every node wants a password (as an operator's would), kept in its configuration file, never on
a command line. Sentinels notice a dead primary after `DOWN_AFTER_MS` and promote a replica.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

from redis import Redis
from redis.exceptions import RedisError

from stack.services import free_port
from tests.redis_processes import RedisProcesses

SERVICE = "handoff"
DOWN_AFTER_MS = 1000   # a primary silent this long is down for a sentinel
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2


class SentinelGroup(RedisProcesses):
    """Starts, breaks and stops the six processes of a Sentinel group."""

    name = "the Sentinel group"

    def __init__(self, data_dir: Path, password: str = "sentinel-group-password-4821") -> None:
        super().__init__(data_dir, password)
        self.data_ports = [free_port() for _ in range(3)]   # the first starts as primary
        self.sentinel_ports = [free_port() for _ in range(3)]

    @property
    def url(self) -> str:
        """`REDIS_URL` for the product: the sentinels and the primary's service name."""
        nodes = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://:{self.password}@{nodes}/{SERVICE}/0"

    def start(self) -> "SentinelGroup":
        """Every node, once the replicas copy the primary and the sentinels know each other."""
        try:
            primary = self.data_ports[0]
            for port in self.data_ports:
                self._start(port, self._data_config(port, None if port == primary else primary))
            for port in self.sentinel_ports:
                self._start(port, self._sentinel_config(port, primary), "--sentinel")
            self.wait(self._settled, "the group to settle", 30)
        except BaseException:
            self.stop()
            raise
        return self

    def primary_port(self) -> int:
        """The port of the primary the sentinels name now."""
        for port in self.sentinel_ports:
            try:
                with Redis(port=port, socket_timeout=1) as sentinel:
                    address = sentinel.sentinel_get_master_addr_by_name(SERVICE)
                if address:
                    return int(address[1])
            except RedisError:
                continue
        raise RuntimeError("no sentinel names a primary")

    def kill_primary(self) -> int:
        """kill -9 of the primary, as a crash; its port."""
        port = self.primary_port()
        self.kill(port)
        return port

    def replica_ports(self) -> List[int]:
        """The data nodes that are not the primary now."""
        primary = self.primary_port()
        return [port for port in self.data_ports if port != primary]

    def wait_replicated(self, timeout: float = 30) -> None:
        """Until every replica copies the primary again."""
        self.wait(lambda: all(self._replicating(p) for p in self.replica_ports()),
                  "the replicas to copy the primary", timeout)

    def wait_for_failover(self, old: int, timeout: float = 60) -> int:
        """The port of the replica promoted in place of `old`, once it takes writes."""
        self.wait(lambda: self._promoted(old), "a replica to be promoted", timeout)
        return self.primary_port()

    def restart(self, port: int) -> None:
        """Starts a stopped data node again (its configuration, as the sentinels rewrote it)."""
        self._start(port, self.data_dir / f"{port}.conf")

    def data_client(self, port: int) -> Redis:
        """A plain client of one data node."""
        return Redis(port=port, password=self.password, decode_responses=True, socket_timeout=2)

    def stop(self) -> None:
        """Stops every process (sentinels first, so that none acts on the others' going)."""
        self.stop_ports([*self.sentinel_ports, *self.data_ports])

    def _start(self, port: int, config: Path, *extra: str) -> None:
        self.spawn(port, config, *extra)

    def _data_config(self, port: int, primary: Optional[int]) -> Path:
        lines = self._common(port) + [
            "appendonly yes", "appendfsync always", 'save ""',
            # A replica's full copy starts at once (Redis 7 waits 5 s for other replicas to
            # share a diskless transfer).
            "repl-diskless-sync-delay 0",
            f"requirepass {self.password}", f"masterauth {self.password}"]
        if primary is not None:
            lines.append(f"replicaof 127.0.0.1 {primary}")
        return self._write(port, lines)

    def _sentinel_config(self, port: int, primary: int) -> Path:
        return self._write(port, self._common(port) + [
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary} {QUORUM}",
            f"sentinel auth-pass {SERVICE} {self.password}",
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {SERVICE} 2",
            # Named here, the replicas are known at once; else a sentinel learns them from the
            # primary's INFO, which it reads every 10 s (each start waited that long to settle).
            *(f"sentinel known-replica {SERVICE} 127.0.0.1 {replica}"
              for replica in self.data_ports if replica != primary)])

    def _common(self, port: int) -> List[str]:
        node_dir = self.data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        return [f"port {port}", "bind 127.0.0.1", f'dir "{node_dir}"']

    def _write(self, port: int, lines: List[str]) -> Path:
        # Sentinels (and replicas, when the sentinels move them) rewrite their file.
        path = self.data_dir / f"{port}.conf"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path

    def _settled(self) -> bool:
        try:
            for port in self.sentinel_ports:
                with Redis(port=port, socket_timeout=1, decode_responses=True) as sentinel:
                    state = sentinel.sentinel_master(SERVICE)
                if int(state["num-other-sentinels"]) != 2 or int(state["num-slaves"]) != 2:
                    return False
            return all(self._replicating(port) for port in self.data_ports[1:])
        except RedisError:
            return False

    def _replicating(self, port: int) -> bool:
        try:
            with self.data_client(port) as node:
                return node.info("replication").get("master_link_status") == "up"
        except RedisError:
            return False

    def _promoted(self, old: int) -> bool:
        try:
            port = self.primary_port()
        except RuntimeError:
            return False
        if port == old:
            return False
        try:
            with self.data_client(port) as node:
                return node.info("replication").get("role") == "master"
        except RedisError:
            return False

    def roles(self) -> List[Tuple[int, str]]:
        """Each data node's port and role, for a failing test's message."""
        return self.roles_of(self.data_ports, self.data_client)
