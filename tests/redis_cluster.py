"""A real Redis Cluster of the tests' own, on free ports: 3 primaries, each with 1 replica.

Every node wants a password (as an operator's would), kept in its configuration file, never on
a command line: `redis-cli --cluster create` reads it from `REDISCLI_AUTH`. A primary silent
for `NODE_TIMEOUT_MS` is failed by the other primaries and its replica promoted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, List, Optional, Tuple

from redis import Redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import RedisError

from handoff.redis_client import ClusterClient, RedisAddress
from stack.services import free_port
from tests.redis_processes import RedisProcesses

PRIMARIES = 3
SLOTS = 16384
HOST = "127.0.0.1"
# A primary silent this long is suspected by each node; once most primaries agree it is failed.
NODE_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class NodeView:
    """One node as another node sees it: a line of `CLUSTER NODES`."""

    node_id: str
    port: int
    flags: FrozenSet[str]
    primary_id: str  # "-" for a primary
    slots: Tuple[Tuple[int, int], ...]  # inclusive ranges

    @classmethod
    def parse(cls, line: str) -> "NodeView":
        """A `CLUSTER NODES` line: id ip:port@bus flags primary ping pong epoch link slots..."""
        fields = line.split()
        port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
        ranges = []
        for item in fields[8:]:
            if item.startswith("["):  # a slot being migrated: none here
                continue
            low, _, high = item.partition("-")
            ranges.append((int(low), int(high or low)))
        return cls(fields[0], port, frozenset(fields[2].split(",")), fields[3], tuple(ranges))

    @property
    def is_primary(self) -> bool:
        """Whether the node serves slots (a replica promoted is one)."""
        return "master" in self.flags

    @property
    def failed(self) -> bool:
        """Whether the viewer suspects (`fail?`) or knows (`fail`) the node is down."""
        return bool(self.flags & {"fail", "fail?"})

    def serves(self, slot: int) -> bool:
        """Whether `slot` is one of the node's."""
        return any(low <= slot <= high for low, high in self.slots)


def new_client(url: str, decode_responses: bool = True) -> AsyncRedisCluster:
    """redis-py's asyncio cluster client of the Cluster `url` names, as made synchronously:
    it knows only its seed nodes until its first command (or `initialize`)."""
    address = RedisAddress.parse(url)
    return ClusterClient(
        startup_nodes=[AsyncClusterNode(host, port) for host, port in address.nodes],
        password=address.password, decode_responses=decode_responses, socket_timeout=2)


async def async_client(url: str) -> AsyncRedisCluster:
    """redis-py's asyncio cluster client of the Cluster `url` names, its nodes found."""
    return await new_client(url).initialize()


class ClusterGroup(RedisProcesses):
    """Starts, breaks and stops the six nodes of a Redis Cluster; a context manager."""

    name = "the Redis Cluster"

    def __init__(self, data_dir: Path, password: str = "cluster-group-password-5307",
                 appendfsync: str = "always") -> None:
        super().__init__(data_dir, password)
        # `always` for the tests' crashes; the benchmarks take the single stack's `no`
        # (stack.services.start_redis), so that both topologies write to disk alike.
        self.appendfsync = appendfsync
        self.ports = [free_port() for _ in range(PRIMARIES * 2)]
        # The bus is on port + 10000 by default, a port nobody checked is free.
        self.bus_ports = {port: free_port() for port in self.ports}

    @property
    def seeds(self) -> List[Tuple[str, int]]:
        """The nodes a client is given; it finds the others (and which serve what) from them."""
        return [(HOST, port) for port in self.ports[:PRIMARIES]]

    @property
    def url(self) -> str:
        """`REDIS_URL` for the product, in the form `handoff.redis_client` parses."""
        nodes = ",".join(f"{host}:{port}" for host, port in self.seeds)
        return f"redis+cluster://:{self.password}@{nodes}"

    def __enter__(self) -> "ClusterGroup":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "ClusterGroup":
        """Every node, once they form one cluster whose every slot is served and copied."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for port in self.ports:
                self._start(port)
            self.wait(lambda: all(self._answers(port) for port in self.ports),
                      "every node to answer", 20)
            self._create()
            self.wait_settled()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops every node still running; reaps those killed."""
        self.stop_ports(self.ports)

    def wait_settled(self, timeout: float = 60) -> None:
        """Until all six nodes see every slot served, each primary copied by a live replica."""
        self.wait(self._settled, "the cluster to settle", timeout)

    def node_client(self, port: int) -> Redis:
        """A plain client of one node, on one connection: its `WAIT` counts its own writes."""
        return Redis(host=HOST, port=port, password=self.password, decode_responses=True,
                     socket_timeout=2, socket_connect_timeout=2, single_connection_client=True)

    def live_ports(self) -> List[int]:
        """The nodes whose process runs."""
        return [port for port, proc in self.procs.items() if proc.poll() is None]

    def slot_of(self, key: str) -> int:
        """The hash slot of `key`, as the nodes compute it."""
        with self.node_client(self.live_ports()[0]) as node:
            return int(node.execute_command("CLUSTER KEYSLOT", key))

    def view(self, port: Optional[int] = None) -> List[NodeView]:
        """Every node as `port` (by default the first live node) sees it."""
        with self.node_client(port or self.live_ports()[0]) as node:
            text = node.execute_command("CLUSTER", "NODES")
        return [NodeView.parse(line) for line in text.splitlines() if line.strip()]

    def primary_of(self, key: str) -> int:
        """The port of the primary that serves `key`'s slot now."""
        return self._primary_view(self.view(), self.slot_of(key)).port

    def replica_of(self, key: str) -> int:
        """The port of the live replica of the primary that serves `key`'s slot."""
        nodes = self.view()
        primary = self._primary_view(nodes, self.slot_of(key))
        replicas = [n.port for n in nodes if n.primary_id == primary.node_id and not n.failed]
        if len(replicas) != 1:
            raise RuntimeError(f"the primary on {primary.port} has replicas {replicas}")
        return replicas[0]

    def kill_primary_of(self, key: str) -> int:
        """kill -9 of the primary serving `key`, as a crash; its port."""
        port = self.primary_of(key)
        self.kill(port)
        return port

    def wait_for_failover(self, key: str, old: int, timeout: float = 30) -> int:
        """The port of the node promoted in place of `old` for `key`'s slot, once it serves it.

        Served means: every live node sees the cluster whole (`cluster_state:ok`), names the
        same primary for the slot, not `old`, and that primary says it is one.
        """
        slot = self.slot_of(key)
        promoted: List[int] = []

        def served() -> bool:
            try:
                ports = {self._primary_view(self.view(p), slot).port for p in self.live_ports()}
                if len(ports) != 1 or old in ports or not all(map(self._ok, self.live_ports())):
                    return False
                port = ports.pop()
                with self.node_client(port) as node:
                    if node.info("replication").get("role") != "master":
                        return False
            except (RedisError, RuntimeError):
                return False
            promoted[:] = [port]
            return True

        self.wait(served, f"a replica to serve slot {slot} in place of {old}", timeout)
        return promoted[0]

    def restart(self, port: int) -> None:
        """Starts a killed node again (its nodes.conf kept): it rejoins as a replica; returns
        once the cluster is whole again."""
        self._start(port)
        self.wait_settled()

    def roles(self) -> List[Tuple[int, str]]:
        """Each node's port and role, for a failing test's message."""
        return self.roles_of(self.ports, self.node_client)

    def _start(self, port: int) -> None:
        self.spawn(port, self._config(port))

    def _config(self, port: int) -> Path:
        node_dir = self.data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"port {port}", f"bind {HOST}", f'dir "{node_dir}"',
            "cluster-enabled yes", f'cluster-config-file "{node_dir / "nodes.conf"}"',
            f"cluster-port {self.bus_ports[port]}", f"cluster-node-timeout {NODE_TIMEOUT_MS}",
            "appendonly yes", f"appendfsync {self.appendfsync}", 'save ""',
            # A replica's full copy starts at once (Redis 7 waits 5 s for other replicas to
            # share a diskless transfer).
            "repl-diskless-sync-delay 0",
            f"requirepass {self.password}", f"masterauth {self.password}"]
        path = self.data_dir / f"{port}.conf"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path

    def _answers(self, port: int) -> bool:
        if self.procs[port].poll() is not None:  # no use waiting: say why at once
            raise RuntimeError(f"the Redis Cluster: node {port} exited:\n{self._tail(port)}")
        try:
            with self.node_client(port) as node:
                return bool(node.ping())
        except RedisError:
            return False

    def _create(self) -> None:
        binary = shutil.which("redis-cli")
        if binary is None:
            raise RuntimeError("redis-cli is not installed: apt-get install redis-tools")
        nodes = [f"{HOST}:{port}" for port in self.ports]
        log = self.data_dir / "create.log"
        with open(log, "wb") as out:
            done = subprocess.run(
                [binary, "--cluster", "create", *nodes, "--cluster-replicas", "1",
                 "--cluster-yes"], stdout=out, stderr=subprocess.STDOUT, timeout=60,
                env={**os.environ, "REDISCLI_AUTH": self.password})
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{log.read_text()[-2000:]}")

    def _settled(self) -> bool:
        try:
            return all(self._ok(port) and self._whole(self.view(port)) for port in self.ports)
        except RedisError:
            return False

    def _ok(self, port: int) -> bool:
        """Whether `port` sees every slot served and copies its primary, if it has one."""
        with self.node_client(port) as node:
            info = node.execute_command("CLUSTER INFO")
            replication = node.info("replication")
        return (info.get("cluster_state") == "ok"
                and int(info.get("cluster_slots_ok", 0)) == SLOTS
                and (replication.get("role") == "master"
                     or replication.get("master_link_status") == "up"))

    @staticmethod
    def _whole(nodes: List[NodeView]) -> bool:
        primaries = [n for n in nodes if n.is_primary and n.slots]
        replicas = [n for n in nodes if not n.is_primary]
        ids = {p.node_id for p in primaries}
        return (len(nodes) == PRIMARIES * 2 and len(primaries) == PRIMARIES
                and not any(n.failed for n in nodes)
                and sorted(r.primary_id for r in replicas) == sorted(ids))

    @staticmethod
    def _primary_view(nodes: List[NodeView], slot: int) -> NodeView:
        for node in nodes:
            if node.is_primary and not node.failed and node.serves(slot):
                return node
        raise RuntimeError(f"no live primary serves slot {slot}")

    def _tail(self, port: int) -> str:
        path = self.log_of(port)
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-10:])
