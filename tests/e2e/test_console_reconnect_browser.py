"""The handoff service an agent's console talks to is killed (kill -9) and restarted while a
customer keeps writing: the console reconnects by itself and shows every message, with no gap
and nothing twice (issue 7)."""

from __future__ import annotations

from typing import Iterator, Tuple

import pytest
from playwright.sync_api import expect

from stack.services import free_port
from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import LIVE, QUICK, _context, _my_item, _open_chat, _queue_item
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


def test_the_console_resumes_after_its_service_is_killed(stack, browser, own_service):
    url, port = own_service
    customer = _context(browser, 900, 760)
    chat = _open_chat(customer, stack.handoff_url)  # the customer is not on the killed service
    recipe._chat_says(chat, "I want to talk to a human please")
    cid = conversation_of(chat)

    console = _context(browser, 1440, 900)
    marie = console.new_page()
    recipe._sign_in(marie, url, "marie")
    status = marie.get_by_test_id("connection-status")
    expect(status).to_have_attribute("data-state", "connected", timeout=QUICK)
    _queue_item(marie, cid).get_by_test_id("claim-button").click(timeout=LIVE)
    expect(_my_item(marie, cid)).to_be_visible(timeout=QUICK)
    transcript = marie.get_by_test_id("transcript")
    recipe._chat_says(chat, "Before the crash")
    expect(transcript.get_by_text("Before the crash")).to_have_count(1, timeout=LIVE)

    stack.processes[SERVICE].kill()  # kill -9: no goodbye to the console
    expect(status).not_to_have_attribute("data-state", "connected", timeout=LIVE)
    for text in ("While it was down, one", "While it was down, two"):
        recipe._chat_says(chat, text)
    expect(chat.get_by_test_id("chat-messages")).to_contain_text("While it was down, two")

    stack.add_handoff(SERVICE, port, {"HANDOFF_AUTO_ASSIGN": "0",
                                      "HANDOFF_DISCONNECT_GRACE": "3600"})
    expect(status).to_have_attribute("data-state", "connected", timeout=60_000)
    for text in ("Before the crash", "While it was down, one", "While it was down, two"):
        expect(transcript.get_by_text(text)).to_have_count(1, timeout=LIVE)
    recipe._chat_says(chat, "After the restart")
    expect(transcript.get_by_text("After the restart")).to_have_count(1, timeout=LIVE)
    expect(transcript.get_by_text("While it was down, one")).to_have_count(1)
    marie.get_by_test_id("reply-input").fill("Still here, sorry for the hiccup")
    marie.get_by_test_id("reply-input").press("Enter")
    expect(chat.get_by_test_id("chat-messages")).to_contain_text(
        "Still here, sorry for the hiccup", timeout=LIVE)
    marie.get_by_test_id("close-button").click()
    for context in (customer, console):
        context.close()
