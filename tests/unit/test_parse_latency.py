"""bench.parse_latency's table: each model's percentiles and its ratio to the first model's."""

from __future__ import annotations

from pathlib import Path

from bench.parse_latency import table


def test_the_table_gives_each_model_its_ratio_to_the_first():
    before = [0.010] * 19 + [0.020]
    after = [0.015] * 19 + [0.040]
    lines = table({Path("models/before.tar.gz"): before,
                   Path("models/after.tar.gz"): after}).splitlines()
    assert lines[2] == "| before.tar.gz | 20 | 10.0 ms | 10.0 ms | 1.00× | 1.00× |"
    assert lines[3] == "| after.tar.gz | 20 | 15.0 ms | 15.0 ms | 1.50× | 1.50× |"
