"""bench.nlu_candidates: each training is seeded as asked, and several seeds give a mean row."""

from __future__ import annotations

import yaml

from bench.nlu_candidates import CANDIDATES, DEFAULT_SEED, table, write_config


def _diet(path):
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")


def test_each_run_has_its_own_seed_and_file(tmp_path):
    seven, default = write_config("counts", tmp_path, 7), write_config("counts", tmp_path)
    assert seven != default
    assert _diet(seven)["random_seed"] == 7 and _diet(default)["random_seed"] == DEFAULT_SEED
    # The candidates' pipelines themselves are left as they are.
    assert next(c for c in CANDIDATES["counts"]
                if c["name"] == "DIETClassifier")["random_seed"] == DEFAULT_SEED


def test_several_seeds_print_each_run_and_the_mean():
    rows = [{"candidate": "a", "seed": 42, "train_s": 200, "honest": 0.9},
            {"candidate": "a", "seed": 7, "train_s": 220, "honest": 0.8},
            {"candidate": "b", "seed": 42, "train_s": 300, "honest": 0.95},
            {"candidate": "b", "seed": 7, "train_s": 320, "honest": 0.85}]
    lines = table(rows, with_means=True).splitlines()
    assert lines[0] == "candidate | seed | train_s | honest"
    assert lines[3] == "a | mean | 210.000 | 0.850"
    assert lines[6] == "b | mean | 310.000 | 0.900"
    assert len(table(rows[:1], with_means=False).splitlines()) == 2


def test_the_project_candidate_is_config_yml_s_intent_pipeline():
    """The candidate named as the project's has config.yml's intent components, in order."""
    from stack.model import ROOT

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    # The length guard and the name extractor change no intent.
    left_out = {"bot.limits.MessageLengthGuard", "bot.names.NameExtractor"}
    project = [c for c in config["pipeline"] if c["name"] not in left_out]
    assert CANDIDATES["trim+counts+linear+vote+total+novelty"] == project
