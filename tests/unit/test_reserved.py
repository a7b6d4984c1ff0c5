"""The sets reserved for evaluations outside the suite (tests/assistant/reserved.py): read from
a bare copy of a repository at a commit, mapped by tests/nlu_independent/reserved.yml, written as
sources that tests.assistant.independent reads, and judged in figures without a message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.assistant.independent import (
    ANSWER_SETS,
    CONTACT_OR_PERSON,
    IndependentEvaluation,
    figures,
    report,
)
from tests.assistant.independent_sources import (
    DATA_ENV,
    SOURCES_ENV,
    load_sources,
    source_named,
)
from tests.assistant.nlu_eval import Example, Prediction
from tests.assistant.reserved import RESERVED, SKIP, load_reserved, prepare

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"
# Behaviours of sources.yml that are not intents, and `skip`.
BEHAVIOURS = {*ANSWER_SETS, CONTACT_OR_PERSON, SKIP}


def _mirror(mirrors: Path, files: dict) -> str:
    """A bare copy of owner/sets holding `files`, as `fetch` leaves one; its commit."""
    work = mirrors / "work"
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(work)], check=True, timeout=60)
    subprocess.run(git + ["add", "-A"], check=True, timeout=60)
    subprocess.run(git + ["commit", "-q", "-m", "sets"], check=True, timeout=60)
    subprocess.run(["git", "clone", "-q", "--bare", str(work),
                    str(mirrors / "owner+sets" / "repo")], check=True, timeout=60)
    return subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


def test_sets_are_read_at_their_commit_mapped_and_judged_like_any_source(tmp_path, monkeypatch
                                                                         ) -> None:
    mirrors = tmp_path / "mirrors"
    commit = _mirror(mirrors, {
        "hint.csv": "sentence,label\nwhere is my parcel,ORDER_STATUS\n"
                    "I want an agent now,MIXED\nmy wallet is empty,MIXED\nhmm,UNLISTED\n",
        "data/full.json": json.dumps({"test": [["what is the weather", "weather"],
                                               ["never mind", "cancel"]],
                                      "oos_test": [["how do I bake bread", "oos"]],
                                      "train": [["a training message", "weather"]]}),
        "nlu.md": "## intent:deliveryNews\n- où est mon [colis](thing) ?\n"
                  "## synonym:colis\n- paquet\n## intent:autre\n- bof\n"})
    sets = tmp_path / "reserved.yml"
    common = f"repository: owner/sets, commit: {commit}, licence: MIT"
    sets.write_text(
        "sets:\n"
        f"  - {{name: hint, {common}, language: en, format: csv, file: hint.csv,\n"
        "      text_column: sentence, label_column: label,\n"
        "      labels: {ORDER_STATUS: order_status, MIXED: out_of_scope,\n"
        "               MIXED/agent: request_human},\n"
        "      relabel: {MIXED: {pattern: AGENT, label: MIXED/agent}}}\n"
        f"  - {{name: clinc, {common}, language: en, format: clinc, file: data/full.json,\n"
        "      parts: [test, oos_test], labels: {cancel: skip}, others: out_of_scope}\n"
        f"  - {{name: shop, {common}, language: fr, format: rasa_md, file: nlu.md,\n"
        "      labels: {deliveryNews: order_status}}\n"
        "  - {name: absent, repository: owner/absent, commit: abc, licence: none,\n"
        "      language: en, format: csv, file: x.csv, labels: {}}\n",
        encoding="utf-8")
    said = []
    sources = prepare(tmp_path / "out", mirrors, sets, say=said.append)
    assert any(line.startswith("[absent skipped]") and "fetch github:owner/absent" in line
               for line in said), said

    monkeypatch.setenv(SOURCES_ENV, str(sources))
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "out"))
    assert [s.name for s in load_sources()] == ["hint", "clinc", "shop"]
    assert [(text, behaviour) for _, text, behaviour, _ in source_named("hint").messages()] == [
        ("where is my parcel", "order_status"), ("I want an agent now", "request_human"),
        ("my wallet is empty", "out_of_scope")]
    assert [(text, behaviour) for _, text, behaviour, _ in source_named("clinc").messages()] == [
        ("what is the weather", "out_of_scope"), ("how do I bake bread", "out_of_scope")]
    assert [(lang, text) for lang, text, _, _ in source_named("shop").messages()] == [
        ("fr", "où est mon colis ?")]
    assert all(s.dev_share == 0 and s.remove_training_matches for s in load_sources())


def test_the_reserved_mapping_names_only_what_the_assistant_can_do() -> None:
    intents = {next(iter(i)) if isinstance(i, dict) else i
               for i in yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["intents"]}
    sets = load_reserved(RESERVED)
    assert {s.name for s in sets} >= {"hint3-curekart", "clinc150", "wikit-nlu-fr",
                                      "lpschaub-perfume-fr"}
    for chosen in sets:
        for behaviour in [*chosen.labels.values(), chosen.others or SKIP]:
            unknown = set(behaviour.split("|")) - intents - BEHAVIOURS
            assert not unknown, (chosen.name, behaviour)


def test_figures_only_shows_no_message() -> None:
    """A reserved set stays unread: its figures are shown, none of its messages."""
    said = "a message that must stay unread"
    missed = Prediction(Example(said, "out_of_scope", "en"), "order_status", 0.9,
                        "order_status", 0.9)
    evaluation = IndependentEvaluation(model=Path("model.tar.gz"), predictions=[missed])
    assert said in report(evaluation, "test")
    shown = figures(evaluation, "test")
    assert said not in shown
    assert "out-of-scope honest" in shown and "false-transfer rate" in shown
