"""The designer's check: the guardrails of docs/bot-designers.md, with file and line.

    .venv/bin/python -m designer check [--root DIR] [--json]

Exit code 0 when every guardrail holds, 1 otherwise (each finding printed as
`file:line: what is wrong` followed by what to do), 2 when the files cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, List, Sequence

from designer.checks import handoff, human_path, nlu, responses, usage
from designer.project import Finding, Project, load

ROOT = Path(__file__).resolve().parent.parent
CHECKS: Sequence[Callable[[Project], List[Finding]]] = (
    human_path.check, nlu.check, responses.check, usage.check, handoff.check)


def run(root: Path = ROOT) -> List[Finding]:
    """Every finding for the project at `root`, in file and line order."""
    project = load(root)
    if project.errors or project.domain is None:
        return sorted(project.errors)  # the rest would only repeat the broken file
    found = set()
    for check in CHECKS:
        found.update(check(project))
    return sorted(found)


def main(root: Path, as_json: bool = False, say: Callable[[str], None] = print) -> int:
    """Prints the findings; 0 when there are none."""
    findings = run(root)
    if as_json:
        say(json.dumps([f.__dict__ for f in findings], ensure_ascii=False, indent=2))
    else:
        for finding in findings:
            say(finding.format())
        say(f"{len(findings)} problem(s) found." if findings else
            "The designer's check passed: human path, both languages, responses, names.")
    return 1 if findings else 0
