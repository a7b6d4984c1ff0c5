"""A connection whose socket closed under redis-py, on either event loop the product runs on.

The handoff service and Rasa run on uvloop (handoff/__main__.py; Rasa's Sanic, and aiogram,
which Rasa imports, installs its policy: so do the tests once any module imported Rasa's
channels). asyncio's own loop drops a write on a closed transport (the read then fails);
uvloop refuses it with `RuntimeError`. These helpers let a test run on each loop, whatever
was imported before it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict

import uvloop

LOOPS: Dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.SelectorEventLoop,  # not new_event_loop: the policy may be uvloop's
    "uvloop": uvloop.new_event_loop,
}


def run_on(loop_name: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Runs `scenario()` to its end on a new loop of the kind `loop_name` names (`LOOPS`)."""
    loop = LOOPS[loop_name]()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def close_under(connection: Any) -> None:
    """Closes the socket of a redis-py asyncio `connection` without telling redis-py.

    The state a pooled connection is in once its socket was lost (reset by the peer, or
    closed by redis-py's own `disconnect`, which awaits the close before it forgets the
    socket): redis-py still takes it for connected.
    """
    writer = connection._writer
    writer.transport.abort()
    await writer.wait_closed()
    assert connection.is_connected
