"""The whole product on a Redis Cluster, behind a real load balancer (issue 17): every process
is given a `redis+cluster://` REDIS_URL (3 primaries, 3 replicas, started by the tests), and 2
Rasa processes and 2 handoff services run behind HAProxy (as `./run.sh --rasa 2 --handoff 2`);
customers and agents connect through HAProxy's one public address.

- The whole path (`test_sentinel.the_whole_path`): bot answer, handoff, claim, relay both ways,
  hand-back, a second handoff, close and the survey; every process of each kind served.
- kill -9 of a primary in the middle of a relay of 50 conversations (the case of
  tests/e2e/test_fault_relay.py, with a Cluster failover for fault): the primary of the relay
  stream's slot, which every customer message of the burst goes through.
- The customer doors' fuzz (`test_doors_fuzz`): hostile socket.io chat events and signed
  Messenger webhooks get the same documented answers, and store the same, as on a single Redis.
"""

from __future__ import annotations

import asyncio
import time
from typing import Dict, Iterator, List

import pytest

from handoff.keys import Keys
from stack.services import Stack
from tests.e2e.conftest import AgentClient, MessengerCustomer, _a_stack
from tests.e2e.test_doors_fuzz import (
    failures_since,
    hostile_chat_events,
    hostile_messenger_bodies,
    rasa_logs_end,
)
from tests.e2e.test_fault_relay import (
    Pair,
    _resends,
    kill_mid_burst,
    relay_with_a_fault,
    say,
)
from tests.e2e.test_sentinel import (
    the_dashboard_and_the_miner_read,
    the_whole_path,
    with_relay_agents,
)
from tests.redis_cluster import ClusterGroup

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory, graph, mailbox, cluster: ClusterGroup) -> Iterator[Stack]:
    yield from _a_stack(tmp_path_factory, graph, mailbox, "cluster", redis_url=cluster.url,
                        rasa=2, handoff=2)


async def test_the_whole_path_on_a_cluster(cluster_stack):
    await the_whole_path(cluster_stack)


async def test_hostile_chat_events_on_a_cluster(cluster_stack):
    """The chat's fuzz (tests/e2e/test_doors_fuzz.py), same cases and checks, through HAProxy."""
    await hostile_chat_events(cluster_stack)


async def test_hostile_signed_messenger_bodies_on_a_cluster(cluster_stack, graph):
    """The Messenger webhook's fuzz (tests/e2e/test_doors_fuzz.py), same cases and checks."""
    await hostile_messenger_bodies(cluster_stack, graph)


async def test_a_messenger_sender_id_that_makes_no_hash_tag_is_refused(cluster_stack):
    """A signed event whose sender id (the conversation's id) is empty or starts with `}`:
    its conversation's keys would fall in several slots, and every step over two of them
    failed on a Cluster (`messenger.event.failure`, CROSSSLOT) after a 200. Refused whole."""
    ends = rasa_logs_end(cluster_stack)
    for psid in ("", "}42"):
        person = MessengerCustomer(cluster_stack, psid)
        status = await person.post(person.event("where is my order?"))
        await asyncio.sleep(3)  # an event taken is handled after the 200
        assert (status, failures_since(cluster_stack, ends)) == (400, []), psid


@pytest.fixture(scope="module")
def relay_accounts(cluster_stack: Stack) -> Stack:
    return with_relay_agents(cluster_stack)


async def test_a_primary_killed_mid_relay_loses_and_repeats_nothing(relay_accounts, cluster):
    """kill -9 of the primary serving the relay stream in the middle of a relay of 50
    conversations: its replica is promoted, every process finds it, and every accepted message
    reaches the other side once, in order, and the tracker once, in order
    (`relay_with_a_fault` checks); the dashboard and the miner read afterwards."""
    stack, key = relay_accounts, Keys().relay_stream
    started = time.time()
    killed: Dict[str, int] = {}

    async def fail_over(stack: Stack, pairs: List[Pair], agents: List[AgentClient]) -> None:
        burst = await kill_mid_burst(
            stack, pairs, "a Redis primary",
            kill=lambda: killed.setdefault("port", cluster.kill_primary_of(key)))
        promoted = await asyncio.to_thread(cluster.wait_for_failover, key, killed["port"])
        # Back as the promoted one's replica, as a supervisor would bring it: until then the
        # doors refuse that primary's conversations (no replica to wait for: docs/deploy.md).
        await asyncio.to_thread(cluster.restart, killed.pop("port"))
        await asyncio.gather(*burst)
        say(f"failover to {promoted}: {_resends(pairs)}")

    try:
        await relay_with_a_fault(stack, fail_over)
        await the_dashboard_and_the_miner_read(stack, started)
    finally:
        if "port" in killed:  # back as a replica of the promoted one
            cluster.restart(killed["port"])
