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
    reporting = commands.add_parser("report", help="train two revisions (or take two models) "
                                    "and show what moved on the held-out sets and test stories")
    reporting.add_argument("--before", default="HEAD", help="git revision (default: HEAD)")
    reporting.add_argument("--after", default="WORKTREE",
                           help="git revision, or WORKTREE for the files as they are (default)")
    reporting.add_argument("--before-model", type=Path, help="use this model for the before side")
    reporting.add_argument("--after-model", type=Path, help="use this model for the after side")
    reporting.add_argument("--set", action="append", default=[], metavar="NAME=GLOB",
                           help="a held-out set (repeat for several, or for several globs of "
                           "one set); default: the sets of designer/report.py HELDOUT_SETS")
    reporting.add_argument("--no-stories", action="store_true", help="skip the test stories")
    reporting.add_argument("--out", type=Path, default=check.ROOT / "tests" / "artifacts" /
                           "before_after", help="directory for report.md and report.html")
    reporting.add_argument("--root", type=Path, default=check.ROOT, help=argparse.SUPPRESS)
    adopting = commands.add_parser("adopt", help="turn a miner draft (DRAFT.yml) into a "
                                   "change of the assistant, written only if the check passes")
    adopting.add_argument("draft", type=Path, help="the miner's draft file")
    adopting.add_argument("--intent", help="the intent's name (default: the draft's)")
    adopting.add_argument("--team", help="add the intent to this team's topics (teams.yml)")
    adopting.add_argument("--answer-en", help="what the bot answers, in English")
    adopting.add_argument("--answer-fr", help="what the bot answers, in French")
    adopting.add_argument("--patch", type=Path, help="write the change as a patch to this file")
    adopting.add_argument("--write", action="store_true",
                          help="change the project's files (domain.yml, data/, tests/stories/)")
    adopting.add_argument("--root", type=Path, default=check.ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check.main(args.root, as_json=args.json)
    if args.command == "adopt":
        return _adopt(args)
    return _report(parser, args)


def _adopt(args: argparse.Namespace) -> int:
    from designer import adopt

    root = args.root.resolve()
    try:
        proposal = adopt.from_draft(args.draft.read_text(encoding="utf-8"), root, args.intent,
                                    {"en": args.answer_en, "fr": args.answer_fr}, args.team)
        files = adopt.change(root, proposal)
    except (OSError, adopt.AdoptError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    findings = adopt.checked(root, files)
    if findings:
        for finding in findings:
            print(finding.format())
        print(f"{len(findings)} problem(s) with {proposal.intent} added: nothing written. Edit "
              f"the draft ({args.draft}) or give --answer-en/--answer-fr, then run this again.")
        return 1
    print(f"The designer's check passes with {proposal.intent} added "
          f"({len(proposal.examples)} examples; files: {', '.join(sorted(files))}).")
    if args.patch:
        args.patch.write_text(adopt.patch(root, files), encoding="utf-8")
        print(f"Patch written to {args.patch} (apply with `git apply {args.patch}`).")
    if args.write:
        adopt.write(root, files)
        print("Files written. Next: python -m designer report, then a pull request.")
    elif not args.patch:
        print(adopt.patch(root, files), end="")
    return 0


def _report(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from designer import report  # imports the evaluation (and Rasa when it runs)

    sets = {}
    for item in args.set:
        name, _, glob = item.partition("=")
        if not name or not glob:
            parser.error(f"--set takes NAME=GLOB, not {item!r}")
        sets.setdefault(name, []).append(glob)
    try:
        comparison = report.run(args.root.resolve(), args.before, args.after, args.out,
                                args.before_model, args.after_model, sets or None,
                                not args.no_stories, say=lambda line: print(line, flush=True))
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in comparison.sets:
        for figure in comparison.figures(name)[:3]:
            print(f"{name}: {figure.name} {figure.detail_before} -> {figure.detail_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
