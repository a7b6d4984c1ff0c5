"""The orchestrator's side of the load generators: N shard processes and their pipes."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any, Dict, List, Sequence

from bench.shard import serve


class ShardError(RuntimeError):
    """A shard failed a command or did not answer in time."""


class Shards:
    """Load-generator processes (spawned: no state inherited from the orchestrator)."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: List[Connection] = []
        self._processes = []
        for index in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=serve, args=(theirs,), name=f"bench-shard-{index}",
                                      daemon=True)
            process.start()
            self._pipes.append(ours)
            self._processes.append(process)

    @property
    def pids(self) -> List[int]:
        """Process ids of the shards (their CPU use is part of the report)."""
        return [process.pid for process in self._processes]

    def __len__(self) -> int:
        return len(self._pipes)

    def call(self, command: str, per_shard: Sequence[Dict[str, Any]],
             timeout: float) -> List[Dict[str, Any]]:
        """Sends `command` to the first len(per_shard) shards at once; their answers."""
        pipes = self._pipes[:len(per_shard)]
        for pipe, args in zip(pipes, per_shard, strict=True):
            pipe.send((command, args))
        deadline = time.monotonic() + timeout
        answers = []
        for index, pipe in enumerate(pipes):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise ShardError(f"shard {index} did not finish {command} within {timeout:.0f} s")
            answer = pipe.recv()
            if not answer.pop("ok"):
                raise ShardError(f"shard {index} failed {command}: {answer['error']}")
            answers.append(answer)
        return answers

    def stop(self) -> None:
        """Asks every shard to close its connections, then makes sure each process is gone."""
        for pipe in self._pipes:
            try:
                pipe.send(("close", {}))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 20
        for process in self._processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def split(total: int, parts: int) -> List[int]:
    """`total` spread over `parts` as evenly as possible (largest first), zeros dropped."""
    base, extra = divmod(total, parts)
    return [n for n in (base + (1 if i < extra else 0) for i in range(parts)) if n > 0]
