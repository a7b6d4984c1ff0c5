"""`python -m bench [--quick] [--out DIR]`: runs the benchmarks and writes the report."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from bench import report
from bench.plan import PLANS, Plan
from bench.runner import run
from bench.scaling import report as scaling_report
from bench.scaling import run_scaling
from stack.model import ROOT


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the plan and writes benchmarks.md, benchmarks.png and benchmarks.json."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small counts: checks the harness in a few minutes")
    parser.add_argument("--plan", choices=sorted(PLANS), default="full",
                        help="relay: the live path only (one level, a few steps), for "
                             "profiling; alone: section 6's steps over 1000 conversations "
                             "after a short relay; their reports go to a temporary "
                             "directory. scaling: "
                             "the throughput steps on several layouts of processes behind "
                             "HAProxy, on a single Redis and on a Redis Cluster the bench starts "
                             "(docs/benchmarks-scaling.md)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where the report goes (default: docs/, or a temporary "
                             "directory with --quick, so that the real report stays)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip plain Rasa (saves one Rasa start-up; no bot-turn ratios)")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="write the report again from a run's benchmarks.json (no run)")
    parser.add_argument("--before", type=Path, default=None,
                        help="an earlier run's benchmarks.json: the report compares with it "
                             "(section \"Before and after\")")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        out = args.out or args.from_json.parent
        measured = json.loads(args.from_json.read_text())
        if args.before is not None:
            measured["before"] = report.earlier(json.loads(args.before.read_text()))
        (out / "benchmarks.json").write_text(json.dumps(measured, indent=1, default=str))
        report.write(measured, out)
        print(f"Report: {out / 'benchmarks.md'}")
        return 0
    plan = PLANS["quick" if args.quick else args.plan]
    if plan.layouts:
        return _scaling(plan, args.out)
    out = args.out or (ROOT / "docs" if plan.name == "full"
                       else Path(tempfile.mkdtemp(prefix=f"bench-{plan.name}-")))
    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    print(f"Benchmark ({plan.name}); processes' logs and profiles in {run_dir}", flush=True)
    measured = run(plan, run_dir, baseline=not args.no_baseline,
                   say=lambda line: print(line, flush=True))
    if args.before is not None:
        measured["before"] = report.earlier(json.loads(args.before.read_text()))
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(measured, indent=1, default=str))
    report.write(measured, out)
    print(f"Report: {out / 'benchmarks.md'}")
    return 0


def _scaling(plan: Plan, out: Optional[Path]) -> int:
    """`--plan scaling`: docs/benchmarks-scaling.md and .json (another plan: a temporary dir)."""
    out = out or (ROOT / "docs" if plan.name == "scaling"
                  else Path(tempfile.mkdtemp(prefix=f"bench-{plan.name}-")))
    run_dir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    print(f"Benchmark ({plan.name}); processes' logs in {run_dir}", flush=True)
    measured = run_scaling(plan, run_dir, say=lambda line: print(line, flush=True))
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks-scaling.json").write_text(json.dumps(measured, indent=1, default=str))
    (out / "benchmarks-scaling.md").write_text(scaling_report(measured))
    print(f"Report: {out / 'benchmarks-scaling.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
