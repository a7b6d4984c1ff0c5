"""Runs every figure against a stack of its own and returns the results as plain data."""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import re
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from redis.asyncio import Redis

from bench import alone, profiling, relay
from bench.baselines import redis_round_trips, start_plain_rasa
from bench.clients import PLAIN, PROJECT
from bench.memory import (
    bytes_of_conversations,
    cpu_seconds,
    machine_cpu_seconds,
    rss_bytes,
    stream_bytes,
    used_memory,
)
from bench.plan import Plan
from bench.shards import Shards, split
from bench.stats import summarise
from handoff.accounts import AccountStore
from handoff.keys import Keys
from handoff.redis_client import connect
from stack.model import ROOT, ensure_model
from stack.services import Ports, Stack

AGENT_PASSWORD = "load-test-staple-4821"
BOT_MESSAGES = ["what are your opening hours?", "how long does delivery take?", "hello"]
# Same settings as the end-to-end suite: open at any hour, agents claim by hand.
STACK_ENV = {"HANDOFF_ALWAYS_OPEN": "1", "HANDOFF_AUTO_ASSIGN": "0"}


OTHERS = "other processes on the machine"


class BenchTimeout(RuntimeError):
    """The whole run took longer than its plan allows."""


class CpuMeter:
    """CPU use of each process over a phase, in % of one core (from /proc)."""

    def __init__(self, pids: Dict[str, List[int]]) -> None:
        self._pids = pids
        self._start = self._read()
        self._wall = time.monotonic()

    def _read(self) -> Dict[str, float]:
        used = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self._pids.items()}
        # The machine is shared: what every other process used meanwhile, too.
        used[OTHERS] = machine_cpu_seconds() - sum(used.values())
        return used

    def percent(self) -> Dict[str, float]:
        """% of one core used by each process since the meter started (2 cores: 200 % max)."""
        wall = max(1e-6, time.monotonic() - self._wall)
        now = self._read()
        return {name: round(max(0.0, 100 * (now[name] - self._start[name]) / wall), 1)
                for name in now}


class Bench:
    """The figures, measured in order on one running stack."""

    def __init__(self, plan: Plan, stack: Stack, plain_url: Optional[str], shards: Shards,
                 run_dir: Path, say: Callable[[str], None],
                 redis_pids: Sequence[int] = ()) -> None:
        self.plan, self.stack, self.plain_url, self.shards = plan, stack, plain_url, shards
        self.run_dir, self.say = run_dir, say
        # Redis processes the stack did not start (a Cluster's nodes): metered as `redis`.
        self.redis_pids = list(redis_pids)
        self.redis_url = stack.env()["REDIS_URL"]
        self.keys = Keys()
        self.relay_ids: List[str] = []  # the conversations of the relay (long transcripts)
        self.just_handed_off: Dict[str, Any] = {}  # their keys' bytes before the relay
        self.phases: Dict[str, Dict[str, Any]] = {}  # relay phases' figures, by label
        self.raw: Dict[str, Dict[str, List[float]]] = {}  # their latencies (not reported)

    def _pid(self, name: str) -> int:
        return self.stack.processes[name].popen.pid

    def cpu(self) -> CpuMeter:
        """A meter of every process's CPU from now on (several of a kind: their sum)."""
        names = list(self.stack.processes)
        pids = {kind: [self._pid(name) for name in processes_of(names, kind)]
                for kind in ("rasa", "handoff", "redis", "actions", "rasa-plain", "balancer")}
        pids["redis"] += self.redis_pids
        return CpuMeter({**{kind: found for kind, found in pids.items() if found},
                         "load generators": self.shards.pids})

    async def call(self, command: str, per_shard: List[Dict[str, Any]],
                   timeout: float) -> List[Dict[str, Any]]:
        """Sends `command` to every load-generator shard; their answers."""
        # The shards block on their pipes: a thread keeps this loop free for measurements
        # made at the same time (Redis round trips, profiles).
        return await asyncio.to_thread(self.shards.call, command, per_shard, timeout)

    # --- 1. bot turns ----------------------------------------------------------------------

    async def _bot_round(self, url: str, protocol: str, customers: int,
                         turns: int) -> Dict[str, Any]:
        counts = split(customers, len(self.shards))
        per_customer = max(1, turns // customers)
        await self.call("prepare_bot", [
            {"url": url, "protocol": protocol, "customers": n, "turns": per_customer,
             "per_session": self.plan.turns_per_session} for n in counts], 600)
        cpu = self.cpu()
        answers = await self.call("run_bot", [
            {"turns": per_customer, "messages": BOT_MESSAGES} for _ in counts], 900)
        used = cpu.percent()
        return {"cpu_percent": used["rasa" if protocol == PROJECT else "rasa-plain"],
                "latencies": [x for a in answers for x in a["latencies"]],
                "errors": [e for a in answers for e in a["errors"]],
                "notices": sum(a["notices"] for a in answers)}

    async def bot_turns(self) -> Dict[str, Any]:
        """Customer message to first bot reply, product stack vs plain Rasa, ABBA order."""
        figures: Dict[str, Any] = {}
        systems = {PROJECT: self.stack.rasa_url, PLAIN: self.plain_url}
        for customers in self.plan.levels:
            turns = self.plan.bot_turns[customers]
            pooled: Dict[str, Dict[str, list]] = {
                s: {"latencies": [], "errors": [], "cpu": []} for s in systems if systems[s]}
            notices = 0
            # A-B then B-A: drift on a shared machine falls on both sides alike.
            for order in ((PROJECT, PLAIN), (PLAIN, PROJECT)):
                for system in order:
                    if systems[system] is None:
                        continue
                    self.say(f"  bot turns: {customers} customers, {system}")
                    got = await self._bot_round(systems[system], system, customers, turns // 2)
                    pooled[system]["latencies"] += got["latencies"]
                    pooled[system]["errors"] += got["errors"]
                    pooled[system]["cpu"].append(got["cpu_percent"])
                    notices += got["notices"]
            figures[str(customers)] = {
                system: {"summary": _as_dict(summarise(data["latencies"])),
                         "errors": len(data["errors"]), "error_examples": data["errors"][:3],
                         # the Rasa process's CPU use during its rounds, % of one core
                         "rasa_cpu_percent": round(sum(data["cpu"]) / len(data["cpu"]), 1)}
                for system, data in pooled.items()}
            figures[str(customers)]["unexpected_notices"] = notices
        return figures

    # --- 2 and 3. handoffs, relay ---------------------------------------------------------

    async def start_agents(self) -> None:
        """Creates the agent accounts and signs them in, spread over the shards."""
        redis = connect(self.redis_url)
        try:
            accounts = AccountStore(redis, self.keys)
            names = [f"bench_agent_{i:03d}" for i in range(self.plan.agents)]
            for name in names:
                await accounts.create(name, name.replace("_", " "), AGENT_PASSWORD,
                                      max_conversations=50, teams=("orders",))
        finally:
            await redis.close()
        per_shard, start = [], 0
        for count in split(len(names), len(self.shards)):
            per_shard.append(names[start:start + count])
            start += count
        if len(per_shard) < len(self.shards):
            raise ValueError("fewer agents than load-generator processes")
        await self.call("start_agents", [
            {"base_url": self.stack.handoff_url, "usernames": group, "password": AGENT_PASSWORD}
            for group in per_shard], 300)

    async def handoffs(self) -> Dict[str, Any]:
        """One at a time (shard 0), then in bulk until the relay's conversations are held."""
        first = await self.call("handoffs", [
            {"rasa_url": self.stack.chat_url, "count": self.plan.handoffs_one_at_a_time,
             "concurrency": 1}], 900)
        targets = split(self.plan.conversations, len(self.shards))
        targets[0] -= self.plan.handoffs_one_at_a_time
        concurrency = self.plan.handoffs_at_once_per_shard
        started = time.monotonic()
        bulk = await self.call("handoffs", [
            {"rasa_url": self.stack.chat_url, "count": max(0, n), "concurrency": concurrency}
            for n in targets], 3000)
        self.relay_ids = [cid for a in first + bulk for cid in a["new_ids"]]
        return {
            "one_at_a_time": _handoff_figure(first),
            "bulk": {**_handoff_figure(bulk), "concurrent": concurrency * len(self.shards),
                     "seconds": time.monotonic() - started},
            "held": sum(a["held"] for a in bulk)}

    async def memory(self, before: Dict[str, Any]) -> Dict[str, Any]:
        """Redis bytes per conversation and processes' RSS, with every conversation open.

        `before` was taken before the handoffs; the conversations' own keys are measured now,
        after the relay (their transcripts hold its messages).
        """
        redis = connect(self.redis_url)
        try:
            after = await self.memory_now(redis)
            keys_of_relay = await bytes_of_conversations(redis, self.keys, self.relay_ids[:100])
            streams = await stream_bytes(redis, self.keys)
        finally:
            await redis.close()
        return {"open_conversations": len(self.relay_ids), "before": before, "after": after,
                "redis_used_per_conversation":
                    (after["redis_used"] - before["redis_used"]) / max(1, len(self.relay_ids)),
                "conversation_keys": self.just_handed_off, "relay_conversation_keys":
                    keys_of_relay, "streams": streams}

    async def memory_now(self, redis: Redis) -> Dict[str, Any]:
        """Redis `used_memory` and the handoff service's and Rasa's RSS."""
        return {"redis_used": await used_memory(redis),
                "handoff_rss": rss_bytes(self._pid("handoff")),
                "rasa_rss": rss_bytes(self._pid("rasa"))}

    # --- profiles ---------------------------------------------------------------------------

    def profile(self, phase: str, seconds: float) -> Dict[str, Any]:
        """py-spy on the handoff service and Rasa (if running) for `seconds`, in the background."""
        recorders = {}
        for name in ("handoff", "rasa"):
            if name not in self.stack.processes:
                continue
            output = self.run_dir / f"profile-{phase}-{name}.txt"
            recorders[name] = (profiling.start(self._pid(name), seconds, output), output,
                               seconds)
        return recorders

    @staticmethod
    def profiles_done(recorders: Dict[str, Any]) -> Dict[str, Any]:
        """Stops the profilers and reads what they found."""
        return {name: profiling.finish(recorder, output, seconds)
                for name, (recorder, output, seconds) in recorders.items()}

    async def run(self) -> Dict[str, Any]:
        """Every figure, in order."""
        results: Dict[str, Any] = {}
        self.say("Baseline: Redis round trips (XADD, blocking XREAD)")
        results["redis_round_trip"] = _as_dict(summarise(
            await redis_round_trips(self.redis_url, self.plan.redis_round_trips)))
        self.say("1. Bot turns")
        results["bot_turns"] = await self.bot_turns()
        if self.plain_url is not None:
            self.stack.stop_process("rasa-plain")  # done with it: its memory back
        self.say(f"2. Handoffs ({self.plan.agents} agents sign in first)")
        await self.start_agents()
        results["rss_idle"] = {"handoff": rss_bytes(self._pid("handoff")),
                               "rasa": rss_bytes(self._pid("rasa"))}
        redis = connect(self.redis_url)
        try:
            before = await self.memory_now(redis)
            results["handoffs"] = await self.handoffs()
            self.just_handed_off = await bytes_of_conversations(redis, self.keys,
                                                                self.relay_ids[:100])
        finally:
            await redis.close()
        self.say(f"3. Relay: {results['handoffs']['held']} conversations with agents")
        results["relay_curve"] = await relay.curve(self)
        self.say("4. Sustained throughput of one handoff process")
        results["sustained"] = await relay.sustained(self)
        self.say("  late messages: waiting for what has not arrived yet")
        final = await relay.settle(self, relay.SETTLE_AT_END if self.plan.name == "full"
                                   else 20)
        relay.apply_late(self, final["answers"])
        results["final_wait_seconds"] = final["seconds"]
        self.say(f"5. Memory at {len(self.relay_ids)} open conversations")
        results["memory"] = await self.memory(before)
        self.say("6. One handoff process alone: customers at the channel's door, no Rasa")
        results["alone"] = await alone.sustained_alone(self)
        return results


def processes_of(names: List[str], kind: str) -> List[str]:
    """A stack's processes of one kind: `rasa`, `rasa-2`... (`rasa-plain` is not one)."""
    return [name for name in names if name == kind or re.fullmatch(rf"{kind}-\d+", name)]


def _as_dict(summary: Any) -> Optional[Dict[str, float]]:
    return summary.as_dict() if summary is not None else None


def _handoff_figure(answers: List[Dict[str, Any]]) -> Dict[str, Any]:
    latencies = [x for a in answers for x in a["latencies"]]
    failures = [f for a in answers for f in a["failures"]]
    return {"summary": _as_dict(summarise(latencies)), "failed": len(failures),
            "failure_examples": failures[:3]}


def machine() -> Dict[str, Any]:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(), "cpu": cpu, "load_average": os.getloadavg(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2 ** 30, 1),
            "python": platform.python_version(), "commit": commit, "tree_dirty": dirty}


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _raise_timeout(signum: int, frame: Any) -> None:
    raise BenchTimeout("the benchmark ran past its time limit")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """BenchTimeout in the block once `seconds` have passed: its `finally`s stop its stacks."""
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(plan: Plan, run_dir: Path, baseline: bool = True,
        say: Callable[[str], None] = print) -> Dict[str, Any]:
    """Starts a stack of its own (and plain Rasa), measures, stops everything it started.

    Whatever happens, within the plan's time limit.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    about = {**machine(), "plan": plan.name}
    model = ensure_model(say=say)
    stack = Stack(model=model, run_dir=run_dir, ports=Ports.free(), say=say,
                  extra_env=dict(STACK_ENV))
    shards: Optional[Shards] = None
    with time_limit(plan.time_limit):
        try:
            say("Starting the stack (Redis, action server, Rasa, handoff service)")
            stack.start()
            plain_url = None
            if baseline:
                say("Starting plain Rasa (the baseline)")
                plain_url = start_plain_rasa(stack, run_dir)
            shards = Shards(plan.shards)
            bench = Bench(plan, stack, plain_url, shards, run_dir, say)
            results = asyncio.run(bench.run())
            about["load_average_end"] = os.getloadavg()
        finally:
            if shards is not None:
                shards.stop()
            stack.stop()
    return {"machine": about, "plan": plan.__dict__, "results": results,
            "seconds": time.monotonic() - started}
