"""bench.model_load's table: each way's medians and its wall ratio to Rasa's own load."""

from __future__ import annotations

from bench.model_load import report


def test_the_table_gives_each_way_its_ratio_to_rasas_own_load():
    runs = {"rasa": [{"wall": 60.0, "cpu": 50.0}, {"wall": 70.0, "cpu": 56.0},
                     {"wall": 90.0, "cpu": 58.0}],
            "by_prediction": [{"wall": 35.0, "cpu": 23.0}, {"wall": 28.0, "cpu": 21.0},
                              {"wall": 30.0, "cpu": 25.0}]}
    lines = report(runs).splitlines()
    assert lines[2] == "| rasa | 70.0 s | 56.0 s | 1.00 |"
    assert lines[3] == "| by_prediction | 30.0 s | 23.0 s | 0.43 |"
