"""Runs the whole product on one machine: Redis, Rasa, the action server, the handoff service.

Used by `./run.sh` (python -m stack run) and by the test suite's end-to-end fixtures.
"""
