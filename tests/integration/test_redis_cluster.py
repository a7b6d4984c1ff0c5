"""A real Redis Cluster of 3 primaries and 3 replicas started by the tests (issue 17, a first
step): redis-py's cluster clients on it, the one-slot rule every atomic step of the key layout
must meet, the live path's write-behind step meeting it (Rasa's tracker and lock in the
conversation's slot), and a failover after kill -9 of a primary. The product on a Cluster:
tests/e2e/test_cluster.py."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, List

import pytest
from rasa.core.lock import TicketLock
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterCrossSlotError, RedisClusterException, RedisError

from handoff.keys import RASA_KEYS, Keys, RasaKeys
from handoff.redis_client import CLUSTER, RedisAddress
from handoff.relay import stored_tracker
from handoff.relay.stored_tracker import BUSY, StoredTrackers
from handoff.relay.turns import customer_event
from tests.lost_connections import LOOPS, close_under, run_on
from tests.redis_cluster import PRIMARIES, SLOTS, ClusterGroup, NodeView
from tests.redis_cluster import async_client as _async_client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KEYS = Keys()
# Both keys of conversation "abc" carry its id as a hash tag: one slot, whatever follows it.
CONVERSATION, JOURNAL = KEYS.conversation("abc"), KEYS.journal("abc")
SET_BOTH = """
redis.call('HSET', KEYS[1], 'state', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'event', ARGV[1])
return redis.call('XLEN', KEYS[2])
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[ClusterGroup]:
    """One cluster for the tests that leave it whole (a start takes seconds)."""
    others = _redis_children()  # the session's single Redis, maybe
    with ClusterGroup(tmp_path_factory.mktemp("cluster")) as started:
        yield started
    assert _redis_children() == others


def _sync_client(url: str) -> RedisCluster:
    address = RedisAddress.parse(url)
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
                        password=address.password, decode_responses=True, socket_timeout=2)


def _redis_children() -> List[int]:
    """The redis-server processes this test process started and has not reaped."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":\t", 1) for line in
                          (entry / "status").read_text().splitlines() if ":\t" in line)
        except OSError:  # gone meanwhile
            continue
        if status.get("PPid", "").strip() == str(os.getpid()) \
                and status.get("Name", "").strip().startswith("redis-server"):
            found.append(int(entry.name))
    return sorted(found)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _until(call: Callable[[], Awaitable[Any]], what: str, timeout: float = 30) -> Any:
    """`call()` once the client finds the slot's new primary (refused or down until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except (RedisError, RedisClusterException) as error:
            assert time.monotonic() < deadline, f"{what}: still failing after {timeout} s: {error}"
            await asyncio.sleep(0.2)


def test_the_cluster_forms_with_three_primaries_each_copied_covering_every_slot(cluster):
    address = RedisAddress.parse(cluster.url)
    assert (address.kind, list(address.nodes), address.password) == \
        (CLUSTER, cluster.seeds, cluster.password)
    for port in cluster.ports:  # every node sees the same, whole cluster
        nodes = cluster.view(port)
        primaries = [n for n in nodes if n.is_primary]
        replicas = [n for n in nodes if not n.is_primary]
        assert len(primaries) == len(replicas) == PRIMARIES
        assert not [n for n in nodes if n.failed]
        assert sorted(r.primary_id for r in replicas) == sorted(p.node_id for p in primaries)
        assert _covered(primaries) == list(range(SLOTS))  # each slot once
        with cluster.node_client(port) as node:
            info = node.execute_command("CLUSTER INFO")
        assert info["cluster_state"] == "ok" and info["cluster_slots_ok"] == str(SLOTS)
    for proc in cluster.procs.values():  # the password only in the 0600 configuration file
        assert cluster.password not in " ".join(map(str, proc.args))


def _covered(primaries: List[NodeView]) -> List[int]:
    return sorted(slot for p in primaries for low, high in p.slots
                  for slot in range(low, high + 1))


async def test_the_sync_and_async_cluster_clients_write_and_read_across_slots(cluster):
    keys = [f"hf:test:spread:{n}" for n in range(60)]
    sync = _sync_client(cluster.url)
    client = await _async_client(cluster.url)
    try:
        assert len(sync.get_primaries()) == len(client.get_primaries()) == PRIMARIES
        for key in keys:
            sync.set(key, f"sync {key}")
        assert [await client.get(key) for key in keys] == [f"sync {key}" for key in keys]
        for key in keys:
            await client.set(key, f"async {key}")
        assert [sync.get(key) for key in keys] == [f"async {key}" for key in keys]

        # Each key sits on the primary that serves its slot, and the keys span every primary.
        holders = {cluster.primary_of(key) for key in keys}
        assert len(holders) == PRIMARIES
        for key in keys:
            with cluster.node_client(cluster.primary_of(key)) as node:
                assert node.get(key) == f"async {key}"
    finally:
        sync.close()
        await client.close()


async def test_keys_with_one_hash_tag_take_one_lua_step(cluster):
    assert cluster.slot_of(CONVERSATION) == cluster.slot_of(JOURNAL)
    client = await _async_client(cluster.url)
    try:
        assert await client.eval(SET_BOTH, 2, CONVERSATION, JOURNAL, "queued") == 1
        assert await client.eval(SET_BOTH, 2, CONVERSATION, JOURNAL, "assigned") == 2
        assert await client.hget(CONVERSATION, "state") == "assigned"
        events = await client.xrange(JOURNAL)
        assert [fields["event"] for _, fields in events] == ["queued", "assigned"]
    finally:
        await client.close()


async def test_keys_in_two_slots_are_refused_in_one_lua_step(cluster):
    """The constraint the layout must meet: an atomic step touches one slot, so a transition
    cannot write the conversation and a global key (the queue) together."""
    conversation, queue = KEYS.conversation("cross"), KEYS.queue
    assert cluster.slot_of(conversation) != cluster.slot_of(queue)
    client = await _async_client(cluster.url)
    try:
        with pytest.raises(RedisClusterException, match="same key slot"):  # redis-py's own
            await client.eval(SET_BOTH, 2, conversation, queue, "queued")
        # Sent anyway to the node that serves the first key: Redis itself refuses it, whole.
        node = client.get_node_from_key(conversation)
        with pytest.raises(ClusterCrossSlotError, match="same slot"):  # CROSSSLOT
            await client.execute_command("EVAL", SET_BOTH, 2, conversation, queue, "queued",
                                         target_nodes=node)
        assert await client.exists(conversation, queue) == 0  # nothing of it ran
    finally:
        await client.close()


class _RasasOwnLayout(RasaKeys):
    """Rasa's own names (`hfv1:tracker:<id>`, `hfv1:lock:<id>`), as before issue 17's keys."""

    def tracker(self, conversation_id: str) -> str:
        return self.legacy_tracker(conversation_id)

    def lock(self, conversation_id: str) -> str:
        return self.legacy_lock(conversation_id)


def _stored_tracker(cid: str) -> str:
    """A tracker as Rasa's Redis tracker store serialises it."""
    return json.dumps(DialogueStateTracker.from_events(cid, [
        ActionExecuted("action_listen", timestamp=1000.0),
        UserUttered("a person please", timestamp=1001.0, message_id=f"u-{cid}"),
        BotUttered("Let me find someone", timestamp=1002.0)]).as_dialogue().as_dict())


async def test_the_write_behind_step_runs_on_the_cluster_in_each_conversations_slot(cluster):
    """The live path's write-behind (`StoredTrackers`) reads Rasa's lock and rewrites Rasa's
    tracker in one Lua step: with both in the conversation's slot it runs on a Cluster, many
    conversations over every primary in one pipeline, and still waits for Rasa's lock."""
    cids = [f"web-{n}" for n in range(12)]
    for cid in cids:
        assert len({cluster.slot_of(key) for key in (
            RASA_KEYS.tracker(cid), RASA_KEYS.lock(cid), KEYS.conversation(cid),
            KEYS.segment(cid), KEYS.tracker_lease(cid))}) == 1
    assert len({cluster.primary_of(RASA_KEYS.tracker(cid)) for cid in cids}) == PRIMARIES
    client = await _async_client(cluster.url)
    try:
        for cid in cids:
            await client.set(RASA_KEYS.tracker(cid), _stored_tracker(cid))
        held = TicketLock(cids[0])
        held.issue_ticket(60)
        await client.set(RASA_KEYS.lock(cids[0]), held.dumps())  # Rasa is in a turn of it
        turns = {cid: [customer_event(f"hello from {cid}", f"m-{cid}", "socketio", None,
                                      at=1003.0)] for cid in cids}
        stored = StoredTrackers(client)
        now = held.tickets[0].expires - 30
        assert await stored.append(turns, now=now) == {cids[0]: BUSY,
                                                       **{cid: 1 for cid in cids[1:]}}
        await client.delete(RASA_KEYS.lock(cids[0]))
        assert await stored.append(turns, now=now) == {cids[0]: 1,
                                                       **{cid: 0 for cid in cids[1:]}}
        for cid in cids:
            events = json.loads(await client.get(RASA_KEYS.tracker(cid)))["events"]
            assert [e.get("text") for e in events if e["event"] in ("user", "bot")] == [
                "a person please", "Let me find someone", f"hello from {cid}"]
    finally:
        await client.close()


async def test_the_write_behind_step_on_rasas_own_key_names_is_refused_crossslot(cluster):
    """The same step with Rasa's own layout: tracker and lock in two slots."""
    cid = "web-old"
    tracker, lock = RASA_KEYS.legacy_tracker(cid), RASA_KEYS.legacy_lock(cid)
    assert cluster.slot_of(tracker) != cluster.slot_of(lock)
    turn = customer_event("hello", "m1", "socketio", None, at=1003.0)
    client = await _async_client(cluster.url)
    try:
        await client.set(tracker, _stored_tracker(cid))
        with pytest.raises(RedisClusterException, match="same key slot"):  # redis-py's own
            await StoredTrackers(client, _RasasOwnLayout()).append({cid: [turn]}, now=1003.0)
        # Sent anyway to the node that serves the tracker: Redis itself refuses it.
        with pytest.raises(ClusterCrossSlotError, match="same slot"):  # CROSSSLOT
            await client.execute_command(
                "EVAL", stored_tracker._APPEND, 2, tracker, lock, "1003.0", json.dumps(cid),
                "", '"user"', "1003.0", ', "text": "hello"}',
                target_nodes=client.get_node_from_key(tracker))
        assert await client.get(tracker) == _stored_tracker(cid)  # nothing of it ran
    finally:
        await client.close()


async def test_a_wait_in_a_cluster_pipeline_counts_the_replicas_that_have_its_writes(cluster):
    """How a door can wait for a replica on a Cluster, as `replicated_on` does on one Redis:
    redis-py's cluster client sends a bare WAIT to its default node, whichever primary that
    is; sent to the node that serves the key, in the pipeline with the writes, it rides their
    connection and counts only replicas that have them (none while the replica is frozen)."""
    key = KEYS.conversation("wait")
    client = await _async_client(cluster.url)
    replica = cluster.procs[cluster.replica_of(key)]
    try:
        node = client.get_node_from_key(key)
        async with client.pipeline() as pipe:
            pipe.hset(key, "state", "queued")
            pipe.execute_command("WAIT", 1, 1000, target_nodes=node)
            assert await pipe.execute() == [1, 1]
        replica.send_signal(signal.SIGSTOP)
        try:
            async with client.pipeline() as pipe:
                pipe.hset(key, "state", "assigned")
                pipe.execute_command("WAIT", 1, 200, target_nodes=node)
                assert await pipe.execute() == [0, 0]  # the primary has it, no replica does
        finally:
            replica.send_signal(signal.SIGCONT)
        await asyncio.to_thread(cluster.wait_settled)  # whole again for the next tests
    finally:
        await client.close()


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_command_on_a_connection_whose_socket_closed_is_sent_again_by_the_client(
        cluster, loop):
    """The state a connection is in when a node dies under load, or while the client closes
    every connection to meet its cluster again (redis-py awaits each close, meanwhile other
    commands take the connection from the node's pool): its socket is closed, redis-py takes it
    for connected, and a cluster node's pool hands it out unchecked. On uvloop as on asyncio's
    loop, the command fails as on a lost connection, so the client meets its cluster again and
    sends it again: uvloop's `RuntimeError` ("the handler is closed", the error a CI run of the
    test below failed with) no longer escapes from the command."""
    key = KEYS.conversation("closed-under")

    async def scenario() -> None:
        client = await _async_client(cluster.url)
        try:
            await client.set(key, "kept")
            node = client.get_node_from_key(key)
            assert len(node._free) == 1  # the one connection, back in the node's pool
            await close_under(node._free[0])
            assert await client.get(key) == "kept"
            assert await client.delete(key) == 1
        finally:
            await client.close()

    run_on(loop, scenario)


async def test_a_write_a_replica_confirmed_survives_kill_9_of_its_primary(tmp_path):
    key = KEYS.conversation("failover")
    others = _redis_children()  # the other tests' cluster, maybe
    with ClusterGroup(tmp_path / "cluster") as cluster:
        sync = _sync_client(cluster.url)
        client = await _async_client(cluster.url)
        try:
            primary, replica = cluster.primary_of(key), cluster.replica_of(key)
            assert await client.hset(key, "by", "the clients, which know the old primary") == 1
            assert sync.hget(key, "by") == "the clients, which know the old primary"
            with cluster.node_client(primary) as node:
                node.hset(key, "state", "assigned")  # on the connection that then waits
                assert node.wait(1, 5000) == 1, cluster.roles()

            old = cluster.kill_primary_of(key)
            assert old == primary
            new = await asyncio.to_thread(cluster.wait_for_failover, key, old)
            assert new == replica, cluster.roles()
            with cluster.node_client(new) as node:
                assert node.hget(key, "state") == "assigned"

            # Clients made before the kill find the promoted replica by themselves.
            assert await _until(lambda: client.hget(key, "state"), "the async client") \
                == "assigned"
            assert await _until(lambda: asyncio.to_thread(sync.hget, key, "state"),
                                "the sync client") == "assigned"
            assert await client.hset(key, "state", "closed") == 0
            assert sync.hget(key, "state") == "closed"
        finally:
            sync.close()
            await client.close()
    assert _redis_children() == others
    assert not [port for port in cluster.ports if _listening(port)]


async def test_a_client_under_load_meets_its_cluster_again_after_kill_9_of_a_primary(
        tmp_path):
    """Commands under way on every primary when one dies: the client finds the promoted
    replica and every slot again (redis-py 4.6 alone lost every node it knew, for good)."""
    keys = [KEYS.conversation(f"load-{n}") for n in range(60)]
    with ClusterGroup(tmp_path / "cluster") as cluster:
        client = await _async_client(cluster.url)
        stop = asyncio.Event()

        async def load(key: str) -> None:
            while not stop.is_set():
                try:
                    await client.hincrby(key, "n", 1)
                except (RedisError, RedisClusterException, OSError):
                    await asyncio.sleep(0.05)

        workers = [asyncio.create_task(load(key)) for key in keys]
        try:
            try:
                await asyncio.sleep(0.5)
                old = cluster.kill_primary_of(keys[0])
                await asyncio.to_thread(cluster.wait_for_failover, keys[0], old)
                await asyncio.sleep(1)
            finally:
                stop.set()
                # Every worker ends, failed or not, before the client closes: none is left
                # holding a socket for a later test to find open.
                ended = await asyncio.gather(*workers, return_exceptions=True)
            failed = [result for result in ended if isinstance(result, BaseException)]
            if failed:  # a worker's error is not one of Redis away
                raise failed[0]
            for key in keys:  # every slot served to this same client again
                assert await _until(lambda key=key: client.hincrby(key, "n", 1),
                                    f"the client to reach {key}") > 1
        finally:
            await client.close()


async def test_a_client_reads_streams_again_after_the_node_it_asked_for_keys_died(tmp_path):
    """redis-py asks one node for the keys of `XREAD` (`COMMAND GETKEYS`): once that node died,
    it never met its cluster again (a Rasa process read no agent message for nine minutes)."""
    with ClusterGroup(tmp_path / "cluster") as cluster:
        client = await _async_client(cluster.url)
        try:
            asked = client.get_default_node().port  # the node redis-py asks for keys
            names = (KEYS.conversation(f"s-{n}") for n in range(1000))
            mine = next(name for name in names if cluster.primary_of(name) == asked)
            elsewhere = next(name for name in names if cluster.primary_of(name) != asked)
            for stream in (mine, elsewhere):
                await client.xadd(stream, {"n": "1"})
                assert len((await client.xread({stream: "0-0"}))[0][1]) == 1
            old = cluster.kill_primary_of(mine)
            await asyncio.to_thread(cluster.wait_for_failover, mine, old)
            for stream in (elsewhere, mine):
                read = await _until(lambda stream=stream: client.xread({stream: "0-0"}),
                                    f"the client to read {stream}")
                assert read[0][1][0][1] == {"n": "1"}
        finally:
            await client.close()


def test_every_node_is_stopped_when_start_up_fails_part_way(tmp_path):
    others = _redis_children()
    cluster = ClusterGroup(tmp_path / "cluster")
    taken = cluster.ports[4]
    with socket.socket() as squatter:  # the fifth node cannot bind its port
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with pytest.raises(RuntimeError, match=f"node {taken} exited"):
            cluster.start()
    assert _redis_children() == others
    assert not [port for port in cluster.ports if _listening(port)]
