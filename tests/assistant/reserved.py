"""The sets issue 15 reserves for evaluations made outside the test suite, made ready to judge.

HINT3, CLINC150, the Wikit French NLU benchmark and the perfume-shop chats of lpschaub/rasa may
be neither trained nor tuned on (issue 15), and two of them carry no licence, so this repository
holds none of their messages: only where each comes from and what its labels mean in our terms
(tests/nlu_independent/reserved.yml, written on 2026-12-07 before the first measurement).
`prepare` reads each set from a copy of its repository at the commit named (the `fetch` tool
brings one to /work/.mirror/<owner>+<name>/repo), writes it as a CSV and writes a sources file
for tests.assistant.independent:

    .venv/bin/python -m tests.assistant.reserved /tmp/reserved
    NLU_INDEPENDENT_SOURCES=/tmp/reserved/sources.yml NLU_INDEPENDENT_DATA=/tmp/reserved \\
        .venv/bin/python -m tests.assistant.independent --split test --figures-only

Read the figures, never the messages: a set whose misses were read no longer measures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

from tests.assistant.independent_sources import DATA_ENV, ROOT, SOURCES_ENV
from tests.assistant.nlu_eval import strip_annotations

RESERVED = ROOT / "tests" / "nlu_independent" / "reserved.yml"
MIRRORS = Path("/work/.mirror")
SKIP = "skip"


class SetMissing(RuntimeError):
    """A reserved set's repository, commit or file is not in the mirrors."""


@dataclass(frozen=True)
class ReservedSet:
    """One reserved set: where it is, how to read it, what its labels mean for our shop."""

    name: str
    repository: str
    commit: str
    licence: str
    language: str
    format: str  # csv, clinc (CLINC150's JSON) or rasa_md (Rasa 1 Markdown NLU data)
    file: str
    labels: Dict[str, str]
    text_column: str = ""
    label_column: str = ""
    parts: Tuple[str, ...] = ()
    # The behaviour of a label not listed ("" leaves its messages out).
    others: str = ""
    # label -> {pattern, label}: the messages of a mixed label that match the pattern (case
    # ignored) take the other label.
    relabel: Dict[str, Dict[str, str]] = field(default_factory=dict)

    def behaviour(self, label: str) -> Optional[str]:
        found = self.labels.get(label, self.others)
        return found if found and found != SKIP else None

    def rows(self, content: str) -> Iterator[Tuple[str, str]]:
        """(text, label) of every message, after `relabel`."""
        for text, label in self._raw_rows(content):
            rule = self.relabel.get(label)
            if rule and re.search(rule["pattern"], text, re.IGNORECASE):
                label = rule["label"]
            yield text, label

    def _raw_rows(self, content: str) -> Iterator[Tuple[str, str]]:
        if self.format == "csv":
            for row in csv.DictReader(io.StringIO(content)):
                yield row[self.text_column], row[self.label_column]
        elif self.format == "clinc":
            data = json.loads(content)
            for part in self.parts:
                for text, label in data[part]:
                    yield text, label
        elif self.format == "rasa_md":
            intent = None
            for line in content.splitlines():
                if line.startswith("##"):  # a synonym, regex or lookup list is no intent's
                    heading = re.match(r"##\s*intent:(.+)$", line)
                    intent = heading.group(1).strip() if heading else None
                elif line.startswith("- ") and intent:
                    yield strip_annotations(line[2:]), intent
        else:
            raise ValueError(f"{self.name}: unknown format {self.format!r} "
                             "(csv, clinc or rasa_md)")


def load_reserved(path: Path = RESERVED) -> List[ReservedSet]:
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [ReservedSet(**{**entry, "parts": tuple(entry.get("parts") or ()),
                           "labels": {str(k): str(v) for k, v in entry["labels"].items()}})
            for entry in content.get("sets") or []]


def read_from_mirror(mirrors: Path, chosen: ReservedSet) -> str:
    """The set's file at its commit, from a bare copy of its repository, or from a copy of
    that one file kept as <mirrors>/<owner>+<name>/<commit>/<file> (a repository too large
    for `fetch`)."""
    copies = mirrors / chosen.repository.replace("/", "+")
    copied = copies / chosen.commit / chosen.file
    if copied.is_file():
        return copied.read_text(encoding="utf-8")
    git_dir = copies / "repo"
    shown = subprocess.run(["git", "--git-dir", str(git_dir), "show",
                            f"{chosen.commit}:{chosen.file}"],
                           capture_output=True, timeout=120, check=False)
    if shown.returncode != 0:
        raise SetMissing(f"{chosen.file} at {chosen.commit[:12]} is not in {git_dir} "
                         f"(fetch github:{chosen.repository}): "
                         f"{shown.stderr.decode(errors='replace').strip()}")
    return shown.stdout.decode("utf-8")


def prepare(out: Path, mirrors: Path = MIRRORS, reserved: Path = RESERVED,
            say: Callable[[str], None] = print) -> Path:
    """Each reserved set found in `mirrors` as out/<name>/<name>.csv; the sources file."""
    entries = []
    for chosen in load_reserved(reserved):
        try:
            content = read_from_mirror(mirrors, chosen)
        except SetMissing as missing:
            say(f"[{chosen.name} skipped] {missing}")
            continue
        rows = list(chosen.rows(content))
        labels = {label: chosen.behaviour(label) for _, label in rows}
        mapped = {label: behaviour for label, behaviour in labels.items() if behaviour}
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
        data = table.getvalue().encode("utf-8")
        (out / chosen.name).mkdir(parents=True, exist_ok=True)
        (out / chosen.name / f"{chosen.name}.csv").write_bytes(data)
        entries.append(dict(
            name=chosen.name, kind="file", dataset=chosen.name, file=f"{chosen.name}.csv",
            version=f"{chosen.repository} at {chosen.commit[:12]}, {chosen.file}",
            licence=chosen.licence, home=f"https://github.com/{chosen.repository}",
            sha256=hashlib.sha256(data).hexdigest(), language=chosen.language,
            text_column="text", label_column="label", labels=mapped,
            # Never tuned on: all of it is judged, without what data/nlu holds.
            dev_share=0, remove_training_matches=True))
        kept = sum(label in mapped for _, label in rows)
        say(f"{chosen.name}: {len(rows)} messages, {kept} of them mapped")
    sources = out / "sources.yml"
    sources.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True,
                                      sort_keys=False), encoding="utf-8")
    return sources


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the CSVs and sources.yml")
    parser.add_argument("--mirrors", type=Path, default=MIRRORS,
                        help=f"where the repositories' bare copies are (default {MIRRORS})")
    args = parser.parse_args(argv)
    sources = prepare(args.out, args.mirrors)
    print(f"\nJudge a model on them (figures only):\n  {SOURCES_ENV}={sources} "
          f"{DATA_ENV}={args.out} .venv/bin/python -m tests.assistant.independent "
          "--split test --figures-only [--model models/<hash>.tar.gz]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
