"""One handoff-service process measured alone: how many relayed messages per second it holds.

Section 4 drives the whole stack on the machine's two cores, where the load generators, Rasa
and Redis take most of the CPU the handoff process would have, so it measures the machine more
than the process. Here, after every other figure, the same conversations and agents go on
without Rasa: the customers are played at the web channel's door (`bench.clients.DoorCustomer`:
the channel's own Lua step for each message, and `customer-out` read as one Rasa process reads
it, by one shard for all), Rasa and the action server are stopped, and the handoff process
gets a core of its own (CPU affinity; Redis, the load generators and this process share the
other). Agents are the same real consoles (WebSocket, agent API). The steps then go up as in
section 4.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List

from bench import relay

if TYPE_CHECKING:
    from bench.runner import Bench

LABEL = "alone"


async def sustained_alone(bench: "Bench") -> Dict[str, Any]:
    """Section 6's figure: steps of offered load on the handoff process alone."""
    doors = await bench.call("to_the_door", [{"redis_url": bench.redis_url}] * len(bench.shards),
                             120)
    # One reader of `customer-out`, as one Rasa process: the first shard, for everyone.
    elsewhere = {room: door["port"] for door in doors[1:] for room in door["rooms"]}
    await bench.call("read_customer_out", [{"elsewhere": elsewhere}], 60)
    for name in ("rasa", "actions"):
        bench.stack.stop_process(name)
    handoff = bench.stack.processes["handoff"].popen.pid
    others = [bench.stack.processes["redis"].popen.pid, *bench.shards.pids, os.getpid()]
    with own_core(handoff, others) as pinned:
        figure = await relay.sustained(bench, bench.plan.alone_steps, LABEL)
    final = await relay.settle(bench, relay.SETTLE_AT_END if bench.plan.name == "full" else 20)
    relay.apply_late(bench, final["answers"], prefix=f"{LABEL}-")
    return {**figure, "pinned": pinned, "one_reader": True}


@contextmanager
def own_core(process: int, others: List[int]) -> Iterator[bool]:
    """`process` on CPU 0 alone, `others` on the rest, for the block; whether it could be.

    Every thread of each process (a process's affinity is its threads'); put back after.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        yield False
        return
    before = {tid: os.sched_getaffinity(tid) for pid in (process, *others) for tid in _tasks(pid)}
    try:
        for tid in _tasks(process):
            os.sched_setaffinity(tid, {cpus[0]})
        for pid in others:
            for tid in _tasks(pid):
                os.sched_setaffinity(tid, set(cpus[1:]))
        yield True
    finally:
        for tid, allowed in before.items():
            try:
                os.sched_setaffinity(tid, allowed)
            except OSError:  # the thread ended meanwhile
                pass


def _tasks(pid: int) -> List[int]:
    try:
        return [int(tid) for tid in os.listdir(Path("/proc") / str(pid) / "task")]
    except OSError:
        return []
