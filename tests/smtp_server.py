"""A real SMTP server on a free loopback port (aiosmtpd), that keeps every message it receives.

The product sends mail with smtplib, over a real socket, to this server: nothing is mocked.
`down()` stops it (its port stays reserved for `up()`), to test what customers are told when
the mail server does not answer.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any, List, Optional

from aiosmtpd.controller import Controller

from stack.services import free_port


class _Keep:
    """aiosmtpd handler: parses and keeps each message."""

    def __init__(self, server: "LocalSmtpServer") -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class LocalSmtpServer:
    """`received` holds (envelope recipients, parsed message) pairs, in arrival order."""

    def __init__(self) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.lock = threading.Lock()
        self.received: List[Any] = []
        self._controller: Optional[Controller] = None

    def up(self) -> "LocalSmtpServer":
        """Starts listening (again) on `port`."""
        if self._controller is None:
            self._controller = Controller(_Keep(self), hostname=self.host, port=self.port,
                                          ready_timeout=10)
            self._controller.start()
        return self

    def down(self) -> None:
        """Stops listening: connections to `port` are refused."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages_to(self, address: str) -> List[EmailMessage]:
        """Messages received so far whose envelope names `address`."""
        with self.lock:
            return [m for rcpts, m in self.received if address in rcpts]

    async def wait_for(self, address: str, timeout: float = 30) -> EmailMessage:
        """The first message to `address`, waiting at most `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            found = self.messages_to(address)
            if found:
                return found[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no message to {address} within {timeout} s")
