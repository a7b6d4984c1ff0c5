"""`python -m stack run`: the whole product on this machine (see README)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from stack.model import ROOT, TrainingFailed, ensure_model
from stack.services import Ports, Stack, StackError

DEMO_USER, DEMO_PASSWORD = "demo", "demo"


def _args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./run.sh", description=(
        "Runs Redis (unless REDIS_URL is set), the Rasa server, the action server and the "
        "handoff service, training the model first if none matches the data."))
    defaults = Ports()
    parser.add_argument("--redis-port", type=int, default=defaults.redis)
    parser.add_argument("--rasa-port", type=int, default=defaults.rasa)
    parser.add_argument("--actions-port", type=int, default=defaults.actions)
    parser.add_argument("--handoff-port", type=int, default=defaults.handoff)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "train"],
                        help="run: the whole product (default); train: only the model")
    return parser.parse_args(argv)


def create_demo_account(stack: Stack) -> None:
    """The account printed at start, so the console can be tried at once."""
    env = {**stack.env(), "HANDOFF_NEW_PASSWORD": DEMO_PASSWORD}
    subprocess.run([sys.executable, "-m", "handoff.accounts", "create", DEMO_USER,
                    "--name", "Demo Agent", "--role", "supervisor"],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def main(argv: list) -> int:
    """Starts everything, prints the addresses, and stops everything on Ctrl-C or SIGTERM."""
    args = _args(argv)
    if args.command == "train":
        try:
            ensure_model()
        except TrainingFailed as exc:
            print(f"\n{exc}", file=sys.stderr)
            return 1
        return 0
    ports = Ports(args.redis_port, args.rasa_port, args.actions_port, args.handoff_port)
    stack = Stack(model=Path(), run_dir=ROOT / ".run", ports=ports,
                  redis_url=os.environ.get("REDIS_URL") or None)
    try:
        stack.model = ensure_model()
        print("Starting Redis, the action server, the Rasa server and the handoff service...")
        stack.start()
        create_demo_account(stack)
    except (StackError, TrainingFailed, subprocess.CalledProcessError) as exc:
        print(f"\nCannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped before the start was complete.", file=sys.stderr)
        return 130
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"""
Ready.
  Customer chat page : {stack.handoff_url}/chat
  Agent console      : {stack.handoff_url}/   (sign in as {DEMO_USER} / {DEMO_PASSWORD})
  Rasa server        : {stack.rasa_url}
  Logs               : {stack.run_dir}/*.log
Press Ctrl-C to stop.""", flush=True)
    try:
        while not stopping.wait(1):
            for proc in stack.processes.values():
                if proc.popen.poll() is not None:
                    print(f"{proc.name} stopped (code {proc.popen.returncode}):\n{proc.tail()}",
                          file=sys.stderr)
                    return 1
    finally:
        print("Stopping...")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
