"""Opening a Redis client: the one way every process of the product does it.

One setting, `REDIS_URL`, names the Redis of every process (docs/deploy.md):

- `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS, `unix://` for a socket): a
  single Redis;
- `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]` (`rediss+…`):
  the primary of a Sentinel group, found through its sentinels (port 26379 by default) and
  found again after a failover. The password is the data nodes'; sentinels that want one of
  their own take `?sentinel_password=…` (and `sentinel_username=…`). A message is acknowledged
  to the customer or the agent only once `wait_replicas` replicas (`?wait_replicas=N`, 1 by
  default) have it: see `replicated_on`;
- `redis+cluster://[[user]:password@]host[:port][,host[:port]...]`: a Redis Cluster, whose
  nodes are found from those given. Every atomic step names one slot's keys there
  (docs/architecture.md, "Redis topologies"). `?wait_replicas=N` (1 by default) as under
  Sentinel: `replicated_on` waits on the node of a key the pipeline wrote. Pub/sub goes through
  `pubsub_client`.

`connect` gives an asyncio client (the handoff service, the channels, the broker, the action
server, the commands), `connect_sync` a blocking one (Rasa's tracker and lock stores, which Rasa
calls synchronously). Both survive a restart of Redis and, under Sentinel, a failover: see
`connect`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
import redis
import redis.asyncio
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import ClusterPipeline
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.connection import Connection as AsyncConnection
from redis.asyncio.connection import ConnectionPool as AsyncConnectionPool
from redis.asyncio.connection import SSLConnection as AsyncSSLConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode as SyncClusterNode
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry as SyncRetry
from redis.sentinel import Sentinel as SyncSentinel

HEALTH_CHECK_INTERVAL = 1.0  # seconds a pooled connection may sit idle before it is PINGed
# A sentinel that does not answer within this is skipped for the next one.
SENTINEL_TIMEOUT = 1.0

# How long a write may take to reach the replicas before it is refused (sent again later).
REPLICATION_WAIT_MS = 1000
SENTINEL_WAIT_REPLICAS = 1
CLUSTER_WAIT_REPLICAS = 1

SINGLE, SENTINEL, CLUSTER = "single", "sentinel", "cluster"
_KINDS = {"redis": SINGLE, "rediss": SINGLE, "unix": SINGLE,
          "redis+sentinel": SENTINEL, "rediss+sentinel": SENTINEL,
          "redis+cluster": CLUSTER, "rediss+cluster": CLUSTER}
_DEFAULT_PORT = {SENTINEL: 26379, CLUSTER: 6379}
_SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username", "wait_replicas")


class BadRedisUrl(ValueError):
    """`REDIS_URL` cannot be used; the message says why (never the password)."""


class NotReplicated(RedisError):
    """The primary took a write that too few replicas confirmed in time.

    A failover now could lose it: it is not acknowledged, and its sender sends it again (the
    same id: the resend is taken once). A `RedisError`, so every door answers as for Redis
    away (`unavailable`, 503 `store_unavailable`).
    """


@dataclass(frozen=True)
class RedisAddress:
    """Where the product's Redis is, read from `REDIS_URL` once.

    `nodes` are the sentinels (Sentinel) or the seed nodes (Cluster); a single Redis keeps its
    URL as given (`url`), which redis-py reads itself.
    """

    kind: str
    url: str = ""
    nodes: Tuple[Tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: Optional[str] = None
    password: Optional[str] = None
    tls: bool = False
    sentinel_username: Optional[str] = None
    sentinel_password: Optional[str] = None
    wait_replicas: int = 0

    @classmethod
    def parse(cls, url: str) -> "RedisAddress":
        """The address `url` names; `BadRedisUrl` if it names none."""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        kind = _KINDS.get(scheme)
        if kind is None:
            raise BadRedisUrl(f"REDIS_URL must start with one of {', '.join(sorted(_KINDS))}://")
        if kind == SINGLE:
            return cls(SINGLE, url=url, tls=scheme == "rediss")
        parts = urlsplit(url)
        userinfo, _, hosts = parts.netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        path = [p for p in parts.path.split("/") if p]
        options = _options(parts.query)
        common = dict(nodes=_nodes(hosts, _DEFAULT_PORT[kind]), username=unquote(username) or None,
                      password=unquote(password) or None, tls=scheme.startswith("rediss"))
        if kind == SENTINEL:
            if not 1 <= len(path) <= 2:
                raise BadRedisUrl("redis+sentinel:// wants /<primary's service name>[/<db>]")
            return cls(SENTINEL, service=unquote(path[0]), db=_db(path[1:]), **common,
                       sentinel_username=options.get("sentinel_username"),
                       sentinel_password=options.get("sentinel_password"),
                       wait_replicas=_count(options.get("wait_replicas"),
                                            SENTINEL_WAIT_REPLICAS))
        if path or set(options) - {"wait_replicas"}:
            raise BadRedisUrl("redis+cluster:// takes nodes only (a Cluster has no db), and "
                              "?wait_replicas=N")
        return cls(CLUSTER, **common,
                   wait_replicas=_count(options.get("wait_replicas"), CLUSTER_WAIT_REPLICAS))


def connect(url: str, decode_responses: bool = True, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client for `url` that survives a restart of Redis and a Sentinel failover.

    After a restart, every pooled connection fails once ("Connection closed by server") before
    the pool opens a new one: without a retry, each of those first calls would fail although
    Redis is back. A command is retried once, on a new connection, only when the connection
    failed: a command Redis answered is never sent twice. On uvloop, the service's loop, a
    write on a lost connection fails as a lost connection too (`_LostOnClosedSocket`).

    redis-py does not retry pipelines (transactions) on a failed connection; the health check
    covers them: a connection idle for over a second is PINGed (with the retry) before use, so a
    pooled connection that died with Redis is replaced rather than failing its next request.

    Under Sentinel, every new connection asks the sentinels for the primary: once they have
    promoted a replica, the retry reaches it (before that, the call fails as with Redis down).
    """
    address = RedisAddress.parse(url)
    settings = {"decode_responses": decode_responses, "retry": Retry(NoBackoff(), 1),
                "retry_on_error": [RedisConnectionError],
                "health_check_interval": HEALTH_CHECK_INTERVAL, **options}
    if address.kind == SINGLE:
        client = redis.asyncio.Redis.from_url(url, **settings)
        _mend_pool(client.connection_pool)
        return client
    if address.kind == CLUSTER:
        return _cluster(address, decode_responses, **options)
    sentinels = Sentinel(address.nodes, sentinel_kwargs=_sentinel_settings(address))
    client = sentinels.master_for(address.service, redis_class=_SentinelRedis,
                                  **_node_settings(address), **settings)
    for pool in [client.connection_pool] + [s.connection_pool for s in sentinels.sentinels]:
        _mend_pool(pool)
    client.wait_replicas = address.wait_replicas
    return client


def replicated_on(pipe: Union[Pipeline, ClusterPipeline], client: Any,
                  near: Optional[str] = None) -> int:
    """Queues, last on `pipe`, the wait for `client`'s replicas; how many it waits for.

    0: no wait queued. Give the count, with the wait's reply, to `check_replicated`.

    Redis replicates asynchronously: a write the primary answered may not be on any replica
    when the primary dies, and the promoted replica then never had it. A message acknowledged
    to its sender (the customer's page, the agent's console) must survive a failover: its
    door waits, in the same round trip, until the replicas have everything its connection
    wrote (`WAIT`). On a Cluster, `near` is a key the pipeline wrote: the wait covers that
    key's node (a pipeline that writes on several nodes waits once per node). A primary
    without a replica (one promoted in a failover, until its old primary is back as its
    replica) refuses, as a Sentinel group without one does (docs/deploy.md).
    """
    if is_cluster(client) and near is None:
        raise ValueError("on a Redis Cluster, the wait names a key the pipeline wrote")
    waits = replicated_on_each(pipe, client, [near] if near is not None else [])
    return waits[0] if waits else 0


def replicated_on_each(pipe: Union[Pipeline, ClusterPipeline], client: Any,
                       near: Sequence[str]) -> List[int]:
    """`replicated_on` for a pipeline that wrote the `near` keys; how many each wait waits for.

    Off a Cluster one wait, on one a wait per node of those keys, in order: give each, with its
    reply (the last ones of the pipeline's), to `check_replicated`.
    """
    wanted = getattr(client, "wait_replicas", 0)
    if not wanted:
        return []
    if not is_cluster(client):
        pipe.execute_command("WAIT", wanted, REPLICATION_WAIT_MS)
        return [wanted]
    # WAIT names no key. A cluster pipeline sends each node's commands on one connection, in
    # order: sent to the node of a key the pipeline wrote, it waits for what it wrote there.
    nodes = {node.name: node for node in (client.get_node_from_key(key) for key in near)}
    for node in nodes.values():
        pipe.execute_command("WAIT", wanted, REPLICATION_WAIT_MS, target_nodes=node)
    return [wanted] * len(nodes)


def check_replicated(reply: Any, wanted: int) -> None:
    """`NotReplicated` unless `reply` (of the wait `replicated_on` queued) says enough have it.

    `wanted`: what `replicated_on` returned.
    """
    if isinstance(reply, Exception):
        raise reply
    if int(reply) < wanted:
        raise NotReplicated(f"{reply} of {wanted} replicas confirmed the write in time")


class Script:
    """A Lua step: `EVALSHA` on a client (loading it on a `NOSCRIPT`), `EVAL` in a pipeline.

    redis-py's registered scripts make every pipeline that holds one ask `SCRIPT EXISTS` before
    it runs: a round trip more, on the live path's every message. In a pipeline the script goes
    whole (`EVAL`): no cache to check, so nothing to ask first, and a Redis that lost its cache
    (restarted, failed over) runs it all the same; Redis compiles it once per SHA either way.
    """

    def __init__(self, client: redis.asyncio.Redis, source: str) -> None:
        self._client, self._source = client, source
        self._registered: Any = None  # hashed on first use outside a pipeline: some owners
        # (a request's rate limiter) are made per request and only ever use a pipeline

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = (),
                       client: Union[redis.asyncio.Redis, Pipeline, None] = None) -> Any:
        """Runs the script (on a pipeline: queues it; its reply comes with the others)."""
        if isinstance(client, Pipeline):
            return await client.eval(self._source, len(keys), *keys, *args)
        if isinstance(client, ClusterPipeline):  # queued; awaiting it would empty its stack
            return client.eval(self._source, len(keys), *keys, *args)
        if self._registered is None:
            self._registered = self._client.register_script(self._source)
        return await self._registered(keys=list(keys), args=list(args), client=client)


class ClusterClient(AsyncRedisCluster):
    """redis-py's asyncio cluster client, mended where a Cluster needs it.

    It finds its cluster again after a node died (`initialize`, `_determine_slot`). It routes
    the streams' commands itself: redis-py 4.6 finds no key in `XGROUP CREATE`, `XINFO GROUPS`
    and the like (it looks the pair up as one command name) and refuses to send them (their key
    is the first argument), and asks a node for the keys of `XREAD` and `XREADGROUP` on every
    call. A write on a connection whose socket closed fails as a lost connection on uvloop too
    (`_LostOnClosedSocket`), so that the client meets its cluster again. Its `close` takes the
    single client's arguments, so that every process closes either the same way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every node's connections fail as lost ones on a closed socket (`_LostOnClosedSocket`):
        # the nodes met later are made with these settings.
        settings = self.nodes_manager.connection_kwargs
        settings["connection_class"] = _mended(settings["connection_class"])
        for node in self.nodes_manager.startup_nodes.values():
            node.connection_class = _mended(node.connection_class)
        # Every node ever seen, by name: (host, port).
        self._known = {name: (node.host, node.port)
                       for name, node in self.nodes_manager.startup_nodes.items()}

    async def initialize(self) -> "ClusterClient":
        """Meets the cluster, starting from every node it has ever seen.

        On a connection error redis-py 4.6 drops the node from the ones it starts from, then
        closes every connection, which fails the commands under way on healthy nodes, which
        drop theirs: after kill -9 of one primary under load none was left ("Please provide at
        least one reachable node: None") and the process never met its cluster again.
        """
        if self._initialize:
            nodes = self.nodes_manager
            startup, settings = nodes.startup_nodes, nodes.connection_kwargs
            for name, (host, port) in self._known.items():
                if name not in startup:
                    startup[name] = AsyncClusterNode(host, port, **settings)
            await super().initialize()
            self._known.update((name, (node.host, node.port))
                               for name, node in self.nodes_manager.nodes_cache.items())
        return self

    async def _determine_slot(self, command: str, *args: Any) -> int:
        name = command.upper()
        if " " in name and name.split(" ", 1)[0] in _SUBCOMMAND_KEY_FIRST and args:
            return self.keyslot(args[0])
        if name in _STREAMS_READS:
            # Keys after STREAMS, then as many ids: one stream (or one slot's) is ours to route.
            words = [a.upper() if isinstance(a, str) else a for a in args]
            if "STREAMS" in words:
                keys = args[words.index("STREAMS") + 1:]
                keys = keys[:len(keys) // 2]
                slots = {self.keyslot(key) for key in keys}
                if len(slots) == 1:
                    return slots.pop()
        try:
            return await super()._determine_slot(command, *args)
        except (RedisConnectionError, RedisTimeoutError):
            # redis-py asks one node (`COMMAND GETKEYS`) for the keys of some commands: that
            # node is gone, so the cluster is met again, as after any connection error.
            await self.close()
            raise

    async def close(self, close_connection_pool: Optional[bool] = None) -> None:
        """Closes every node's connections, and the pub/sub client made for it.

        The single client's argument is taken, and moot.
        """
        made = getattr(self, "_handoff_pubsub", None)
        if made is not None:
            await made.close(close_connection_pool=True)
        await super().close()


_SUBCOMMAND_KEY_FIRST = frozenset({"XGROUP", "XINFO"})
# Whose keys redis-py would ask a node for (movable keys) on every call: one round trip more,
# and none at all once that node died.
_STREAMS_READS = frozenset({"XREAD", "XREADGROUP"})


def _cluster(address: RedisAddress, decode_responses: bool, **options: Any) -> ClusterClient:
    # The cluster client retries a failed connection itself, finding the slot's primary again
    # (after a failover, the promoted replica): no retry of the single client's kind here.
    client = ClusterClient(
        startup_nodes=[AsyncClusterNode(host, port) for host, port in address.nodes],
        username=address.username, password=address.password, ssl=address.tls,
        decode_responses=decode_responses, health_check_interval=HEALTH_CHECK_INTERVAL,
        **options)
    client.wait_replicas = address.wait_replicas
    return client


def is_cluster(client: Any) -> bool:
    """Whether `client` speaks to a Redis Cluster, where an atomic step must stay in one slot."""
    return isinstance(client, (AsyncRedisCluster, SyncRedisCluster))


def connect_sync(url: str, decode_responses: bool = True,
                 **options: Any) -> Union[redis.Redis, SyncRedisCluster]:
    """A blocking client for `url`, with the same retry, health check and failover.

    On `redis+cluster://` a blocking cluster client: Rasa's tracker and lock stores keep their
    keys in the conversation's slot, no step over two slots there.
    """
    address = RedisAddress.parse(url)
    if address.kind == CLUSTER:
        # The cluster client retries a failed connection itself, finding the slot's primary
        # again (after a failover, the promoted replica): no retry of the single client's kind.
        return SyncRedisCluster(
            startup_nodes=[SyncClusterNode(host, port) for host, port in address.nodes],
            username=address.username, password=address.password, ssl=address.tls,
            decode_responses=decode_responses, health_check_interval=HEALTH_CHECK_INTERVAL,
            **options)
    settings = {"decode_responses": decode_responses, "retry": SyncRetry(NoBackoff(), 1),
                "retry_on_error": [RedisConnectionError],
                "health_check_interval": HEALTH_CHECK_INTERVAL, **options}
    if address.kind == SINGLE:
        return _SyncRedis.from_url(url, **settings)
    sentinels = SyncSentinel(address.nodes, sentinel_kwargs=_sentinel_settings(address))
    return sentinels.master_for(address.service, redis_class=_SyncSentinelRedis,
                                **_node_settings(address), **settings)


async def get_many(client: Any, keys: Sequence[str]) -> List[Any]:
    """The values of `keys`, in their order (None for a missing key).

    One `MGET` on a single Redis; on a Cluster, where one `MGET` must stay in one slot, one per
    slot (redis-py's `mget_nonatomic`): not atomic, which no reader of many conversations needs.
    """
    if not keys:
        return []
    if is_cluster(client):
        return list(await client.mget_nonatomic(list(keys)))
    return list(await client.mget(list(keys)))


async def scan_keys(client: Any, pattern: str, count: int = 1000) -> AsyncIterator[str]:
    """The names of keys matching `pattern`, a page at a time, on every primary.

    A `SCAN` sees the keys of the node it is sent to; redis-py's cluster client sends it to
    each primary in turn (its `scan_iter`), so one call sees the whole Cluster.
    """
    async for key in client.scan_iter(match=pattern, count=count):
        yield key.decode() if isinstance(key, bytes) else key


def pubsub_client(client: Any) -> redis.asyncio.Redis:
    """The client to publish and subscribe with: `client` itself, or one for a Cluster.

    redis-py's asyncio cluster client has neither `publish` nor `pubsub`. A Cluster's nodes
    pass every `PUBLISH` on to each other, so a plain client of any one node reaches every
    subscriber of every node: this one connects to the first of the cluster's primaries that
    answers, then of its seed nodes (a subscriber whose node died subscribes again through the
    next one). The seeds are there for a cluster client that has not met its cluster yet
    (made synchronously, as python-socketio's manager makes its own): it knows no primary.
    Made once per cluster client; closing it is the owner's (`close()`), with the cluster
    client.
    """
    if not isinstance(client, AsyncRedisCluster):
        return client
    made = getattr(client, "_handoff_pubsub", None)
    if made is None:
        made = client._handoff_pubsub = _any_node_client(client)
    return made


# PUBLISH in a Lua step: a script, unlike PUBLISH, names a key, by which a cluster pipeline
# sends it to a node. The node passes it on to every other, as it would a PUBLISH.
_PUBLISH = "return redis.call('PUBLISH', ARGV[1], ARGV[2])"


def publish_on(pipe: Union[Pipeline, ClusterPipeline], channel: str, message: str,
               near: Optional[str] = None) -> None:
    """Queues the publication of `message` on `channel` on `pipe`, after what it already holds.

    On a single Redis or a Sentinel group, a `PUBLISH` in the pipeline, run after the writes
    queued before it (in a transaction, with them or not at all): the subscribers hear of a
    change once it is written. A cluster pipeline refuses `PUBLISH` (redis-py: it names no
    key, so no node to send it to): there it goes in a Lua step sent to the node of `near` (by
    default the channel's own name), in the same round trip. That node runs its share of the
    pipeline in order, so a frame sent `near` the key whose change it announces is published
    once that change is written; the other nodes run their shares meanwhile, unordered with it.
    """
    if isinstance(pipe, ClusterPipeline):
        pipe.eval(_PUBLISH, 1, near or channel, channel, message)
    else:
        pipe.publish(channel, message)


class _LostOnClosedSocket:
    """An asyncio connection on which a write to a closed socket fails as a lost connection.

    A connection's socket can be closed while redis-py still takes it for connected: lost
    (reset by the peer, as when a node is killed under load), or being closed by redis-py's own
    `disconnect`, which awaits the close before forgetting the socket (meanwhile, another
    command takes the connection from a cluster node's pool: the cluster client closes every
    connection to meet its cluster again). asyncio's own loop drops the write, and the read
    then fails with redis' `ConnectionError`. uvloop, the loop of the handoff service and of
    Rasa, refuses the write with `RuntimeError("unable to perform operation on <TCPTransport
    closed=True ...>; the handler is closed")`, which redis-py 4.6 passes on as it is (having
    disconnected the connection): no retry, health check or cluster client takes it for a lost
    connection, and no door for Redis away. Here it is the `ConnectionError` it stands for.
    """

    __slots__ = ()

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except RuntimeError as error:
            if _CLOSED_HANDLE not in str(error):  # not a closed socket: not ours to mend
                raise
            # redis-py disconnected it on the error already: the pool opens a new one.
            raise RedisConnectionError(f"Error while writing to socket: {error}") from error


_CLOSED_HANDLE = "the handler is closed"  # uvloop's words for a write on a closed socket


class _PackedByHiredis:
    """An asyncio connection that packs its commands with hiredis, as redis-py 5 does.

    redis-py 4.6 (Rasa 3.6 keeps it below 5) packs every command in Python: about 9 µs for a
    Lua step's call of a dozen arguments, of the 60-75 µs of client CPU a command costs;
    hiredis, which already parses the replies, packs the same bytes in under 2. Only with the
    default UTF-8 strict encoding, the only one hiredis knows; anything it refuses (a bool, an
    unknown type) goes to redis-py's packing, which raises its own `DataError`.
    """

    __slots__ = ()

    def pack_command(self, *args: Any) -> List[bytes]:
        encoder = self.encoder  # type: ignore[attr-defined]
        if encoder.encoding.lower() not in ("utf-8", "utf8") or encoder.encoding_errors != "strict":
            return super().pack_command(*args)  # type: ignore[misc]
        # As redis-py: a command name of several words ("CONFIG GET") is several arguments.
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif isinstance(args[0], bytes) and b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)  # type: ignore[misc]


_MENDED: Dict[type, type] = {}


def _mended(connection_class: type) -> type:
    """`connection_class`, failing as a lost connection on a closed socket, packed by hiredis.

    One class per class.
    """
    if issubclass(connection_class, _LostOnClosedSocket):
        return connection_class
    made = _MENDED.get(connection_class)
    if made is None:
        made = _MENDED[connection_class] = type(
            connection_class.__name__,
            (_LostOnClosedSocket, _PackedByHiredis, connection_class),
            {"__slots__": (), "__module__": __name__},
        )
    return made


def _mend_pool(pool: AsyncConnectionPool) -> None:
    """Makes the connections `pool` opens from now on `_mended` ones, whatever their class.

    redis-py picks it from the URL (TCP, TLS or Unix socket) and under Sentinel, its own.
    """
    pool.connection_class = _mended(pool.connection_class)


class _AnyNode:
    """A connection to the first of `nodes` that accepts one."""

    def __init__(self, *, nodes: Sequence[Tuple[str, int]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nodes = list(nodes)

    async def _connect(self) -> None:
        failure: Optional[BaseException] = None
        for host, port in self.nodes:
            self.host, self.port = host, port
            try:
                return await super()._connect()  # type: ignore[misc]
            except (OSError, asyncio.TimeoutError) as exc:  # that node is down: the next one
                failure = exc
        assert failure is not None
        raise failure


class _AnyNodeConnection(_LostOnClosedSocket, _PackedByHiredis, _AnyNode, AsyncConnection):
    pass


class _AnyNodeSSLConnection(_LostOnClosedSocket, _PackedByHiredis, _AnyNode,
                            AsyncSSLConnection):
    pass


def _any_node_client(cluster: AsyncRedisCluster) -> redis.asyncio.Redis:
    settings = {name: value for name, value in cluster.connection_kwargs.items()
                if name not in ("response_callbacks", "connection_class", "redis_connect_func")}
    tls = cluster.connection_kwargs.get("connection_class") is AsyncSSLConnection
    nodes = [(node.host, node.port) for node in cluster.get_primaries()]
    nodes += [(node.host, node.port) for node in cluster.nodes_manager.startup_nodes.values()
              if (node.host, node.port) not in nodes]
    pool = AsyncConnectionPool(
        connection_class=_AnyNodeSSLConnection if tls else _AnyNodeConnection, nodes=nodes,
        **settings)
    return redis.asyncio.Redis(connection_pool=pool)


class _SentinelRedis(redis.asyncio.Redis):
    """The primary's client, owner of its pool and of its sentinels' clients.

    `connect` made the pool for it: closing the client closes the pool, as for a client made
    from a URL, and the sentinels' clients too. `wait_replicas`: see `replicated_on`.
    """

    wait_replicas = 0

    async def close(self, close_connection_pool: Optional[bool] = None) -> None:
        await super().close(close_connection_pool is not False)
        if close_connection_pool is not False:
            for sentinel in self.connection_pool.sentinel_manager.sentinels:
                await sentinel.close(close_connection_pool=True)


class _SyncRedis(redis.Redis):
    """A blocking client that owns its pool: `close` closes the pool's connections too."""

    def close(self) -> None:
        super().close()
        self.connection_pool.disconnect()


class _SyncSentinelRedis(_SyncRedis):
    """The blocking client of the primary; `close` also closes its sentinels' clients."""

    def close(self) -> None:
        super().close()
        for sentinel in self.connection_pool.sentinel_manager.sentinels:
            sentinel.close()
            sentinel.connection_pool.disconnect()


def _node_settings(address: RedisAddress) -> Dict[str, Any]:
    return {"db": address.db, "username": address.username, "password": address.password,
            "ssl": address.tls}


def _sentinel_settings(address: RedisAddress) -> Dict[str, Any]:
    # Short timeouts: a sentinel that is down or hung must not hold up finding the primary.
    return {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT,
            "username": address.sentinel_username, "password": address.sentinel_password,
            "ssl": address.tls}


def _nodes(hosts: str, default_port: int) -> Tuple[Tuple[str, int], ...]:
    nodes = []
    for item in hosts.split(","):
        host, port = _host_port(item.strip(), default_port)
        nodes.append((host, port))
    return tuple(nodes)


def _host_port(item: str, default_port: int) -> Tuple[str, int]:
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = item.partition(":")
    if not host:
        raise BadRedisUrl("REDIS_URL names a node without a host")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise BadRedisUrl(f"REDIS_URL names a node with a bad port: {port!r}")
    return host, int(port) if port else default_port


def _count(value: Optional[str], default: int) -> int:
    if value is None:
        return default
    if not value.isdigit():
        raise BadRedisUrl("wait_replicas in REDIS_URL must be a number")
    return int(value)


def _db(path: Any) -> int:
    if not path:
        return 0
    if not path[0].isdigit():
        raise BadRedisUrl("the db of REDIS_URL must be a number")
    return int(path[0])


def _options(query: str) -> Dict[str, str]:
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(_SENTINEL_OPTIONS))
    if unknown:
        raise BadRedisUrl(f"REDIS_URL has options it does not take: {', '.join(unknown)}")
    return options
