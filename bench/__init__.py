"""Benchmarks: bot turns, handoffs, relay latency, throughput and memory (docs/benchmarks.md).

`./bench/run.sh [--quick]` runs them all against a stack of its own and writes the report.
"""
