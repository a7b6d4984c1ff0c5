"""`python -m bot.serve [rasa run options]`: Rasa's server, its API token read from the environment.

`rasa run --auth-token TOKEN` puts the token on the command line, which every local user can
read (`ps`, `/proc/<pid>/cmdline`), and with it Rasa's whole HTTP API. This runs the same
`rasa run` in this process with the token taken from `RASA_TOKEN` (the environment of a process
is readable by its owner only): the command line shows the other options, never the token.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import List, Optional


def rasa_argv(options: List[str], token: str) -> List[str]:
    """The `rasa run` command line Rasa's own parser reads (`sys.argv`) in this process."""
    if any(o == "--auth-token" or o.startswith("--auth-token=") for o in options):
        raise SystemExit("bot.serve: the token comes from RASA_TOKEN, never the command line")
    if not token:
        raise SystemExit("bot.serve: set RASA_TOKEN (Rasa's HTTP API is never left open)")
    return ["rasa", "run", *options, "--auth-token", token]


def main(argv: Optional[List[str]] = None) -> None:
    """Runs `rasa run` with the given options and the token from `RASA_TOKEN`."""
    sys.argv = rasa_argv(sys.argv[1:] if argv is None else argv,
                         os.environ.get("RASA_TOKEN", ""))
    from rasa.__main__ import main as rasa_main  # loads TensorFlow: only once the args are good

    from bot import model_load
    from handoff import log_privacy

    log_privacy.install()  # Rasa's records too: no customer address, number or id in the log
    model_load.install()  # the model's TensorFlow parts built by a prediction, not a training step

    try:
        rasa_main()
    finally:
        # The server has stopped (its stores closed): Python's exit would now collect every
        # reference cycle of the heap, TensorFlow's graphs among them, one object at a time:
        # 5 to 10 s of CPU at each stop (measured; 0.5 s without). Frozen, they are left to
        # the OS; the rest of the exit (threads, atexit handlers, flushes) is unchanged.
        gc.freeze()


if __name__ == "__main__":
    main()
