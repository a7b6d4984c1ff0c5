"""`python -m stack run`: the whole product on this machine (see README)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from handoff.accounts import AccountStore
from handoff.keys import Keys
from handoff.redis_client import connect
from stack.balanced import BalancedStack
from stack.model import ROOT, TrainingFailed, ensure_model
from stack.services import Ports, Stack, StackError

DEMO_USER, DEMO_PASSWORD = "demo", "demo"


def _args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./run.sh", description=(
        "Runs Redis (unless REDIS_URL is set), the Rasa server, the action server and the "
        "handoff service, training the model first if none matches the data. With --rasa or "
        "--handoff above 1, HAProxy in front of them: one public address (the handoff port)."))
    defaults = Ports()
    parser.add_argument("--redis-port", type=int, default=defaults.redis)
    parser.add_argument("--rasa-port", type=int, default=defaults.rasa)
    parser.add_argument("--actions-port", type=int, default=defaults.actions)
    parser.add_argument("--handoff-port", type=int, default=defaults.handoff)
    parser.add_argument("--rasa", type=int, default=1, metavar="N",
                        help="Rasa processes (more than one: behind HAProxy, docs/deploy.md)")
    parser.add_argument("--handoff", type=int, default=1, metavar="M",
                        help="handoff services (more than one: behind HAProxy)")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "train"],
                        help="run: the whole product (default); train: only the model")
    args = parser.parse_args(argv)
    if args.rasa < 1 or args.handoff < 1:
        parser.error("--rasa and --handoff want at least 1")
    return args


def create_demo_account(stack: Stack) -> bool:
    """The account printed at start, so the console can be tried at once; whether it is there.

    Only on the Redis this command started itself (a local trial), never on the operator's
    (`REDIS_URL`), and only when absent: a password changed with `python -m handoff.accounts`
    survives restarts.
    """
    if stack.redis_url is not None:
        return False
    return asyncio.run(_create_demo(stack.env()))


async def _create_demo(env: dict) -> bool:
    redis = connect(env["REDIS_URL"])
    try:
        await AccountStore(redis, Keys(env["HANDOFF_KEY_PREFIX"])).create_builtin(
            DEMO_USER, "Demo Agent", DEMO_PASSWORD, role="supervisor")
    finally:
        await redis.close(close_connection_pool=True)
    return True


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
    redis_url = os.environ.get("REDIS_URL") or None
    if args.rasa > 1 or args.handoff > 1:
        stack: Stack = BalancedStack(model=Path(), run_dir=ROOT / ".run", ports=ports,
                                     redis_url=redis_url, rasa_count=args.rasa,
                                     handoff_count=args.handoff)
    else:
        stack = Stack(model=Path(), run_dir=ROOT / ".run", ports=ports, redis_url=redis_url)
    try:
        stack.model = ensure_model()
        print("Starting Redis, the action server, the Rasa server and the handoff service...")
        stack.start()
        demo = create_demo_account(stack)
    except (StackError, TrainingFailed, subprocess.CalledProcessError) as exc:
        print(f"\nCannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped before the start was complete.", file=sys.stderr)
        return 130
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    sign_in = (f"   (sign in as {DEMO_USER} / {DEMO_PASSWORD} unless you changed it)" if demo
               else "   (accounts: python -m handoff.accounts create USERNAME)")
    print(f"""
Ready.
  Customer chat page : {stack.handoff_url}/chat
  Agent console      : {stack.handoff_url}/{sign_in}
  Rasa server        : {stack.rasa_url}{_layout(stack)}
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


def _layout(stack: Stack) -> str:
    """What runs behind HAProxy, for the start's message."""
    if not isinstance(stack, BalancedStack):
        return ""
    return (f" (HTTP API, private; its channels are on the public address)\n"
            f"  Behind HAProxy     : {stack.rasa_count} Rasa, {stack.handoff_count} handoff "
            f"processes (logs: rasa*.log, handoff*.log, balancer.log)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
