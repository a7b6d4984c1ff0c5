"""`python -m designer check` (the guardrails) and `python -m designer report` (before/after)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from designer import check


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m designer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="check domain.yml, data/, tests/stories/ and "
                                   "handoff/teams.yml against the guardrails")
    checking.add_argument("--root", type=Path, default=check.ROOT,
                          help="project directory (default: this checkout)")
    checking.add_argument("--json", action="store_true", help="findings as JSON")
    args = parser.parse_args(argv)
    if args.command == "check":
        return check.main(args.root, as_json=args.json)
    return 2


if __name__ == "__main__":
    sys.exit(main())
