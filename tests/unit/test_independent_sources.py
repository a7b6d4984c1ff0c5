"""The reader of the independent held-out data files (tests/assistant/independent_sources.py).

A small CSV written here stands for the Bitext file: found through $NLU_INDEPENDENT_DATA, plain
or xz-compressed, refused when its SHA-256 differs, and a clear "how to get it" when it is
absent; two small JSON files stand for NLP.js's corpora, two `;`-separated ones for HWU64's
files. The real files are committed, compressed, under tests/nlu_independent/datasets/.
"""

from __future__ import annotations

import hashlib
import json
import lzma
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from tests.assistant.independent_sources import (
    DATA_ENV,
    SOURCES_ENV,
    DataFileChanged,
    DataFileMissing,
    Source,
    datasets_root,
    load_sources,
    source_named,
)

CSV = (
    "instruction,intent,category\n"
    "where is order 00123842,track_order,ORDER\n"
    '"I want to speak to   a person, now",contact_human_agent,CONTACT\n'
    "subscribe me to the newsletter,newsletter_subscription,NEWSLETTER\n"
    "what is this label,unmapped_label,OTHER\n"
)


def _source(sha256: str) -> Source:
    return Source(name="sample", version="1", licence="CDLA-Sharing-1.0", kind="file",
                  home="https://example.com/sample", dataset="sample", file="sample.csv",
                  sha256=sha256, language="en", text_column="instruction",
                  label_column="intent",
                  labels={"track_order": "order_status", "contact_human_agent": "request_human",
                          "newsletter_subscription": "out_of_scope"})


def _write(root: Path) -> str:
    (root / "sample").mkdir()
    (root / "sample" / "sample.csv").write_text(CSV, encoding="utf-8")
    return hashlib.sha256(CSV.encode()).hexdigest()


def test_reads_mapped_rows_from_the_configured_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    messages = list(_source(_write(tmp_path)).messages())
    assert messages == [
        ("en", "where is order 00123842", "order_status", "track_order"),
        ("en", "I want to speak to a person, now", "request_human", "contact_human_agent"),
        ("en", "subscribe me to the newsletter", "out_of_scope", "newsletter_subscription"),
    ]


def test_a_sources_file_of_ones_own_is_read_from_the_environment(tmp_path, monkeypatch
                                                                  ) -> None:
    """Sets this repository must not hold (issue 15 reserves some for evaluations made outside
    the suite) are named in a sources file of one's own, found through its variable."""
    sha256 = _write(tmp_path)
    sources = tmp_path / "reserved.yml"
    sources.write_text(
        "sources:\n  - {name: sample, kind: file, version: '1', licence: MIT, "
        f"dataset: sample, file: sample.csv, sha256: {sha256}, language: en, "
        "text_column: instruction, label_column: intent, labels: {track_order: order_status}}\n",
        encoding="utf-8")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setenv(SOURCES_ENV, str(sources))
    assert [s.name for s in load_sources()] == ["sample"]
    assert list(source_named("sample").messages()) == [
        ("en", "where is order 00123842", "order_status", "track_order")]
    monkeypatch.delenv(SOURCES_ENV)
    assert "sample" not in {s.name for s in load_sources()}


def test_a_changed_file_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    _write(tmp_path)
    with pytest.raises(DataFileChanged, match="SHA-256"):
        list(_source("0" * 64).messages())


def test_a_missing_file_says_how_to_get_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(DataFileMissing) as missing:
        list(_source("0" * 64).messages())
    text = str(missing.value)
    assert "https://example.com/sample" in text and DATA_ENV in text
    assert str(tmp_path / "sample") in text


def test_a_compressed_file_is_read_and_checked_uncompressed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "sample.csv.xz").write_bytes(lzma.compress(CSV.encode()))
    sha256 = hashlib.sha256(CSV.encode()).hexdigest()
    assert [m[1] for m in _source(sha256).messages()][0] == "where is order 00123842"
    with pytest.raises(DataFileChanged, match="SHA-256"):
        list(_source("0" * 64).messages())


def test_the_bitext_file_is_in_the_repository(monkeypatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    root = Path(__file__).resolve().parents[2] / "tests" / "nlu_independent" / "datasets"
    assert datasets_root() == root
    (bitext,) = [s for s in load_sources() if s.name == "bitext-customer-support"]
    assert bitext.path() == root / bitext.dataset / f"{bitext.file}.xz"
    assert (root / bitext.dataset / "LICENSE.txt").read_text(encoding="utf-8").startswith(
        "Community Data License Agreement")
    assert sum(1 for _ in bitext.messages()) > 4000  # read, SHA-256 checked


def test_sources_yml_maps_bitext_to_known_behaviours() -> None:
    (bitext,) = [s for s in load_sources() if s.name == "bitext-customer-support"]
    assert bitext.kind == "file" and bitext.sha256.startswith("079b0cec")
    assert bitext.labels["contact_human_agent"] == "request_human"
    assert bitext.labels["complaint"] == "complaint"
    allowed = {"request_human", "complaint", "out_of_scope", "contact_or_person", "order_status",
               "delivery_times", "cancel_order", "change_address", "returns", "account_reset",
               "payment_methods"}
    assert {b for v in bitext.labels.values() for b in v.split("|")} <= allowed
    assert len(bitext.labels) == 27  # every Bitext intent is mapped


def test_a_source_split_by_label_keys_on_the_label_and_keeps_test_labels_whole() -> None:
    plain = _source("0" * 64)
    assert plain.split_key("where is my order", "track_order") == "where is my order"
    grouped = Source(name="groups", version="1", licence="MIT", kind="npm",
                     split_by_label=True, test_labels=("Escalate",))
    assert grouped.split_key("Bonjour", "Hiya") == grouped.split_key("Hi there", "Hiya") == "Hiya"
    assert grouped.split_key("talk to a human", "Escalate") is None


def test_sources_yml_splits_microsoft_by_group() -> None:
    (microsoft,) = [s for s in load_sources() if s.name == "botbuilder-assistant"]
    assert microsoft.split_by_label and microsoft.dev_share == 30
    assert set(microsoft.test_labels) == {"Escalate", "Help", "Confirm", "Reject"}


@pytest.mark.parametrize("entry, refused", [
    ("kind: package, package: x, files: {}, split_by: group", "split_by 'group'"),
    ("kind: file, dataset: x, format: xml, labels: {}", "format 'xml'"),
])
def test_an_unknown_split_or_format_is_refused(tmp_path, entry: str, refused: str) -> None:
    sources = tmp_path / "sources.yml"
    sources.write_text(f"sources:\n  - {{name: x, version: '1', licence: MIT, {entry}}}\n",
                       encoding="utf-8")
    with pytest.raises(ValueError, match=refused):
        load_sources(sources)


def _nlpjs(root: Path, name: str, entries: list) -> str:
    text = json.dumps({"name": "Corpus", "data": entries}, ensure_ascii=False)
    (root / "corpus").mkdir(exist_ok=True)
    (root / "corpus" / name).write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def test_reads_nlpjs_corpora_naming_a_translation_by_its_original(tmp_path, monkeypatch) -> None:
    """NLP.js corpora: utterances and tests, the French groups named by the English ones at the
    same position (whatever the French file calls them, under "intention" too), an untranslated
    message counted once, as English, and an unmapped group left out."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    english = _nlpjs(tmp_path, "en.json", [
        {"intent": "support.live", "utterances": ["chat with a  human"], "tests": ["an agent"]},
        {"intent": "smalltalk.joking", "utterances": ["just kidding"], "tests": []},
        {"intent": "trivia.gc", "utterances": ["what is gc"], "tests": []}])
    french = _nlpjs(tmp_path, "fr.json", [
        {"intention": "support.vivant", "utterances": ["un humain"], "tests": ["an agent"]},
        {"intent": "smalltalk.joking", "utterances": ["je rigole"]},
        {"intent": "trivia.gc", "utterances": ["le gc"], "tests": []}])
    source = Source(name="corpus", version="1", licence="MIT", kind="file", format="nlpjs",
                    home="https://example.com/corpus", dataset="corpus",
                    data_files={"en": "en.json", "fr": "fr.json"},
                    checksums={"en.json": english, "fr.json": french},
                    names_from={"fr.json": "en.json"},
                    labels={"support.live": "request_human", "smalltalk.joking": "small_talk"})
    assert list(source.messages()) == [
        ("en", "chat with a human", "request_human", "support.live"),
        ("en", "an agent", "request_human", "support.live"),
        ("en", "just kidding", "small_talk", "smalltalk.joking"),
        ("fr", "un humain", "request_human", "support.live"),
        ("fr", "je rigole", "small_talk", "smalltalk.joking"),
    ]
    changed = replace(source, checksums={"en.json": "0" * 64, "fr.json": french})
    with pytest.raises(DataFileChanged, match="SHA-256"):
        list(changed.messages())


def test_the_nlpjs_corpora_are_in_the_repository_and_mapped(monkeypatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    (corpus,) = [s for s in load_sources() if s.name == "nlpjs-corpus50"]
    messages = list(corpus.messages())  # read, SHA-256 checked
    counts = Counter((language, behaviour) for language, _, behaviour, _ in messages)
    assert counts[("en", "request_human")] == counts[("fr", "request_human")] == 10, counts
    assert counts[("en", "small_talk")] >= 40 and counts[("fr", "small_talk")] >= 40, counts
    assert corpus.split_by_label and corpus.test_labels == ("support.live",)
    # Every group but one ("I'm waiting": small talk or impatience, cannot tell) is mapped.
    assert len(corpus.labels) == 50 and "smalltalk.waiting" not in corpus.labels


def test_reads_a_source_of_several_semicolon_files_each_checked(tmp_path, monkeypatch) -> None:
    """HWU64's form: one `;`-separated file per intent, each with its SHA-256."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    header = "answerid;scenario;intent;answer_from_anno\n"
    files = {"train/general_praise.csv": header + '1;general;praise;"thanks, well done."\n',
             "test/general_joke.csv": header + "2;general;joke;tell me a joke\n"
                                      "3;general;quirky;not mapped\n"}
    for name, text in files.items():
        (tmp_path / "hwu" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "hwu" / name).write_text(text, encoding="utf-8")
    checksums = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    source = Source(name="hwu", version="1", licence="CC-BY-4.0", kind="file", dataset="hwu",
                    language="en", text_column="answer_from_anno", label_column="intent",
                    labels={"praise": "small_talk", "joke": "out_of_scope"}, delimiter=";",
                    csv_files=tuple(checksums), checksums=checksums)
    assert list(source.messages()) == [("en", "thanks, well done.", "small_talk", "praise"),
                                       ("en", "tell me a joke", "out_of_scope", "joke")]
    changed = replace(source, checksums={**checksums, "test/general_joke.csv": "0" * 64})
    with pytest.raises(DataFileChanged, match="general_joke"):
        list(changed.messages())


def test_hwu64_general_intents_are_in_the_repository_and_mapped(monkeypatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    (hwu,) = [s for s in load_sources() if s.name == "hwu64-general"]
    assert hwu.delimiter == ";" and len(hwu.csv_files) == 18 and not hwu.split_by_label
    messages = list(hwu.messages())  # read, every file's SHA-256 checked
    counts = Counter(label for _, _, _, label in messages)
    # KFold_1's train and test files together: 194 messages per intent (jokes: 122).
    assert counts["affirm"] == counts["praise"] == counts["quirky"] == 194, counts
    assert counts["joke"] == 122 and "commandstop" not in counts, counts
    assert (datasets_root() / hwu.dataset / "LICENSE").read_text(encoding="utf-8").startswith(
        "Attribution 4.0 International")
