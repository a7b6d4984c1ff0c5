"""Where a process spends its time under load: py-spy samples, summed by package and function."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

RATE = 50  # samples per second: enough for shares of a few %, light on 2 cores
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> Optional[str]:
    """The py-spy binary next to the interpreter (requirements.lock), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, output: Path) -> Optional[subprocess.Popen]:
    """Samples `pid` for `seconds` in the background (None when py-spy is not installed)."""
    binary = py_spy()
    if binary is None:
        return None
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--duration",
                             str(max(1, int(seconds))), "--rate", str(RATE), "--format", "raw",
                             # Only the thread running Python: idle pool threads and a loop
                             # waiting in epoll would otherwise fill the samples.
                             "--gil",
                             "--nonblocking", "--output", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def finish(recorder: Optional[subprocess.Popen], output: Path, seconds: float,
           timeout: float = 60) -> Optional[Dict[str, object]]:
    """Waits for the recorder and summarises what it wrote."""
    if recorder is None:
        return None
    try:
        recorder.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait(5)
    if not output.exists():
        return None
    return summarise(output.read_text(errors="replace"), seconds)


# Steps worth naming in "where the time goes": (label, function or None for any, file ending).
# A sample counts for a step when any frame of its stack matches (inclusive share).
STEPS = (
    ("Rasa: customer messages (processor.handle_message: NLU, policies, actions, tracker)",
     "handle_message", "rasa/core/processor.py"),
    ("  NLU (parse_message)", "parse_message", "rasa/core/processor.py"),
    ("    spaCy's French names (bot/names.py)", "find_names", "bot/names.py"),
    ("    spaCy model loading", "load", "spacy/__init__.py"),
    ("    DIET classifier", "process", "rasa/nlu/classifiers/diet_classifier.py"),
    ("  policies (_predict_next_with_tracker)", "_predict_next_with_tracker",
     "rasa/core/processor.py"),
    ("Rasa: tracker loads (tracker_store.retrieve)", "retrieve", "rasa/core/tracker_store.py"),
    ("Rasa: tracker saves (tracker_store.save)", "save", "rasa/core/tracker_store.py"),
    ("  the broker's diff: the stored tracker loaded again (stream_events)", "stream_events",
     "rasa/core/tracker_store.py"),
    ("Rasa: trackers from JSON (deserialise_tracker)", "deserialise_tracker",
     "rasa/core/tracker_store.py"),
    ("  events from JSON (Event.from_parameters, all_subclasses)", "from_parameters",
     "rasa/shared/core/events.py"),
    ("Rasa: synchronous Redis calls (redis-py, tracker and lock stores)", "execute_command",
     "redis/client.py"),
    ("Rasa: socket.io emits", "emit", "socketio/asyncio_server.py"),
    ("Rasa: the chat channel (bot/web.py)", None, "bot/web.py"),
    ("  live path's decision (handoff/relay/inbound.py)", None, "handoff/relay/inbound.py"),
    ("Rasa: agent messages to sockets (bot/customer_events.py)", None,
     "bot/customer_events.py"),
    ("Rasa: the give-back's door (bot/tracker_writes.py)", None, "bot/tracker_writes.py"),
    ("handoff: customer turns to consoles (handoff/relay/consoles.py)", None,
     "handoff/relay/consoles.py"),
    ("handoff: delivery of agent messages (handoff/relay/outbound.py)", None,
     "handoff/relay/outbound.py"),
    ("handoff: write-behind (handoff/relay/tracker.py)", None, "handoff/relay/tracker.py"),
    ("  into Rasa's stored trackers (handoff/relay/stored_tracker.py)", None,
     "handoff/relay/stored_tracker.py"),
    ("handoff: stream handlers (handoff/service/jobs/workers.py)", None,
     "handoff/service/jobs/workers.py"),
    ("handoff: agent API (handoff/service/api/routes.py)", None, "handoff/service/api/routes.py"),
    ("handoff: console hub (handoff/service/api/hub.py)", None, "handoff/service/api/hub.py"),
    ("handoff: calls to Rasa (handoff/rasa_api.py)", None, "handoff/rasa_api.py"),
    ("Redis through the asyncio client (redis.asyncio)", None, "redis/asyncio/connection.py"),
)


def _package(path: str) -> str:
    """A readable owner for a source file: the project's module or the library's package."""
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1:]
        return rest[0].removesuffix(".py") if rest else path
    for root in ("handoff", "bot", "actions", "bench"):
        if root in parts:
            return "/".join(parts[parts.index(root):]).removesuffix(".py")
    if "python3.10" in parts:
        rest = parts[parts.index("python3.10") + 1:]
        return "stdlib:" + (rest[0].removesuffix(".py") if rest else "?")
    return parts[-1]


def summarise(raw: str, seconds: float, top: int = 12) -> Dict[str, object]:
    """Shares of the samples of the process's Python threads.

    `by_package`: share of samples with at least one frame in the package (inclusive);
    `by_function`: share where the function is the innermost frame (self time).
    """
    inclusive: Counter = Counter()
    own: Counter = Counter()
    steps: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [FRAME.match(f.strip()) for f in stack.split(";")]
        parsed = [(m.group("function"), m.group("file")) for m in frames if m]
        for package in {_package(file) for _, file in parsed}:
            inclusive[package] += count
        for label, function_name, ending in STEPS:
            if any(file.endswith(ending) and function_name in (None, function)
                   for function, file in parsed):
                steps[label] += count
        if parsed:
            function, file = parsed[-1]
            own[f"{function} ({_package(file)})"] += count
    share = (lambda n: round(100.0 * n / total, 1)) if total else (lambda n: 0.0)
    # No "busy" figure here: py-spy cannot tell uvloop's wait (Rasa's Sanic) from work, so
    # CPU use comes from /proc instead (runner.CpuMeter).
    return {"samples": total, "seconds": seconds,
            "by_package": [(name, share(n)) for name, n in inclusive.most_common(top)],
            "by_function": [(name, share(n)) for name, n in own.most_common(top)],
            "by_step": [(label, share(steps[label])) for label, _, _ in STEPS if steps[label]]}


def top_lines(summary: Optional[Dict[str, object]], key: str) -> List[str]:
    """`name: share %` lines for the report."""
    if not summary:
        return []
    return [f"{name}: {pct} %" for name, pct in summary[key]]  # type: ignore[index]
