"""The handoff service an agent's console talks to is killed (kill -9) and restarted, or only the
console's WebSocket drops, while a customer keeps writing: the console reconnects by itself and
shows every message, with no gap and nothing twice (issue 7)."""

from __future__ import annotations

from typing import Iterator, Tuple

import pytest
from playwright.sync_api import expect

from stack.services import free_port
from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import (
    LIVE,
    QUICK,
    _claim,
    _context,
    _my_item,
    _open_chat,
)
from tests.e2e.test_console_browser import _session_id as conversation_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser
SERVICE = "handoff-console"


@pytest.fixture
def own_service(stack) -> Iterator[Tuple[str, int]]:
    port = free_port()
    settings = {"HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_DISCONNECT_GRACE": "3600"}
    try:
        yield stack.add_handoff(SERVICE, port, settings), port
    finally:
        stack.stop_process(SERVICE)


def _marie_holds_a_conversation(browser, chat_url: str, console_url: str, first: str,
                                socket: "DroppableSocket | None" = None):
    """A customer (chat on `chat_url`) with Marie (console on `console_url`), who has seen
    `first`; the two browser contexts, the chat and Marie's page."""
    customer = _context(browser, 900, 760)
    chat = _open_chat(customer, chat_url)
    recipe._chat_says(chat, "I want to talk to a human please")
    cid = conversation_of(chat)
    console = _context(browser, 1440, 900)
    marie = console.new_page()
    if socket is not None:
        marie.route_web_socket("**/api/ws", socket.route)
    recipe._sign_in(marie, console_url, "marie")
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=QUICK)
    _claim(marie, cid, timeout=LIVE)
    expect(_my_item(marie, cid)).to_be_visible(timeout=QUICK)
    recipe._chat_says(chat, first)
    expect(marie.get_by_test_id("transcript").get_by_text(first)).to_have_count(1, timeout=LIVE)
    return customer, console, chat, marie


def _customer_writes_while_away(chat, texts) -> None:
    for text in texts:
        recipe._chat_says(chat, text)
    expect(chat.get_by_test_id("chat-messages")).to_contain_text(texts[-1])


def _console_catches_up(chat, marie, seen, after: str, reply: str) -> None:
    """Back online: every message once, then the conversation goes on both ways."""
    transcript = marie.get_by_test_id("transcript")
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=60_000)
    for text in seen:
        expect(transcript.get_by_text(text)).to_have_count(1, timeout=LIVE)
    recipe._chat_says(chat, after)
    expect(transcript.get_by_text(after)).to_have_count(1, timeout=LIVE)
    for text in seen:
        expect(transcript.get_by_text(text)).to_have_count(1)
    marie.get_by_test_id("reply-input").fill(reply)
    marie.get_by_test_id("reply-input").press("Enter")
    expect(chat.get_by_test_id("chat-messages")).to_contain_text(reply, timeout=LIVE)
    marie.get_by_test_id("close-button").click()
    marie.get_by_test_id("close-confirm").click()


def test_the_console_resumes_after_its_service_is_killed(stack, browser, own_service):
    url, port = own_service
    # The customer is not on the killed service.
    customer, console, chat, marie = _marie_holds_a_conversation(
        browser, stack.handoff_url, url, "Before the crash")
    status = marie.get_by_test_id("connection-status")

    stack.processes[SERVICE].kill()  # kill -9: no goodbye to the console
    expect(status).not_to_have_attribute("data-state", "connected", timeout=LIVE)
    away = ["While it was down, one", "While it was down, two"]
    _customer_writes_while_away(chat, away)

    stack.add_handoff(SERVICE, port, {"HANDOFF_AUTO_ASSIGN": "0",
                                      "HANDOFF_DISCONNECT_GRACE": "3600"})
    _console_catches_up(chat, marie, ["Before the crash", *away], "After the restart",
                        "Still here, sorry for the hiccup")
    for context in (customer, console):
        context.close()


class DroppableSocket:
    """Stands between the console and its WebSocket: it can drop the connection, and refuse
    new ones for a while, as a flaky network would (the service itself stays up)."""

    def __init__(self) -> None:
        self.refusing = False
        self.current = None

    def route(self, ws) -> None:
        if self.refusing:
            ws.close(code=1006, reason="network down")
            return
        ws.connect_to_server()
        self.current = ws

    def drop(self) -> None:
        self.refusing = True
        self.current.close(code=1006, reason="network down")


def test_the_console_resumes_after_its_websocket_drops(stack, browser):
    socket = DroppableSocket()
    customer, console, chat, marie = _marie_holds_a_conversation(
        browser, stack.handoff_url, stack.handoff_url, "Before the drop", socket)

    socket.drop()
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "reconnecting", timeout=QUICK)
    away = ["While the socket was down, one", "While the socket was down, two"]
    _customer_writes_while_away(chat, away)
    expect(marie.get_by_test_id("transcript").get_by_text(away[0])).to_have_count(0)

    socket.refusing = False
    _console_catches_up(chat, marie, ["Before the drop", *away], "After the drop",
                        "Back with you")
    for context in (customer, console):
        context.close()
