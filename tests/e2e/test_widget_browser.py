"""The embeddable widget on a third-party page, and a reload in the middle of a handoff
(issue 5). Also produces docs/screenshots/widget.png.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Frame, Page, expect

from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import LIVE, QUICK, _claim, _context, _my_item

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser

SHOP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Boulangerie Martin</title>
<style>
  body {{ font-family: Georgia, serif; background: #fdf6e3; color: #3b2f2f; margin: 40px; }}
  button {{ all: unset; }}  /* a page's own styles must not break the widget */
  div {{ border: 3px dashed red !important; }}
</style></head>
<body>
  <h1>Boulangerie Martin</h1>
  <p>Fresh bread every morning. Orders ship within 24 hours.</p>
  <script src="{handoff}/widget.js" defer></script>
</body></html>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


@pytest.fixture
def shop(stack, tmp_path: Path) -> Iterator[str]:
    """A third-party site (another origin) that embeds the widget with one tag.

    It is on the port the stack lists in CHAT_ALLOWED_ORIGINS: only those sites may frame the
    chat page (its Content-Security-Policy's frame-ancestors).
    """
    (tmp_path / "index.html").write_text(SHOP.format(handoff=stack.handoff_url))
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", stack.third_party_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _chat_frame(page: Page) -> Frame:
    for _ in range(100):
        for frame in page.frames:
            if "/chat?embed=1" in frame.url:
                return frame
        page.wait_for_timeout(100)
    raise AssertionError("the widget's chat frame did not load")


def test_widget_on_a_third_party_page_survives_a_reload(stack, browser, shop):
    customer = _context(browser, 1100, 800)
    page = customer.new_page()
    page.goto(shop)
    launcher = page.get_by_test_id("widget-launcher")
    expect(launcher).to_have_text("Chat with us", timeout=QUICK)
    launcher.click()
    chat = _chat_frame(page)
    expect(chat.get_by_test_id("chat-status")).to_have_attribute("data-state", "connected",
                                                                  timeout=LIVE)
    recipe._chat_says(chat, "I want to talk to a human please")
    cid = chat.evaluate("localStorage.getItem('handoff.chat.session_id')").split(".")[0]
    waiting = chat.get_by_test_id("chat-queue")
    expect(waiting).to_contain_text("in line", timeout=LIVE)  # place and wait, while waiting

    console = _context(browser, 1440, 900)
    marie = console.new_page()
    recipe._sign_in(marie, stack.handoff_url, "marie")
    _claim(marie, cid, timeout=LIVE)
    expect(_my_item(marie, cid)).to_be_visible(timeout=QUICK)
    messages = chat.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("Marie from our team has joined", timeout=LIVE)
    expect(waiting).to_be_hidden()
    marie.get_by_test_id("reply-input").fill("Hello from Marie")
    marie.get_by_test_id("reply-input").press("Enter")
    expect(messages).to_contain_text("Hello from Marie", timeout=LIVE)

    # The customer reloads the shop page in the middle of the handoff: the widget opens again on
    # the same conversation, with what was said, and nothing twice.
    page.reload()
    chat = _chat_frame(page)
    expect(chat.get_by_test_id("chat-status")).to_have_attribute("data-state", "connected",
                                                                  timeout=LIVE)
    messages = chat.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("Hello from Marie", timeout=QUICK)
    marie.get_by_test_id("reply-input").fill("Still here after your reload")
    marie.get_by_test_id("reply-input").press("Enter")
    agent_lines = chat.locator('[data-testid="chat-message"][data-from="agent"]')
    expect(agent_lines.filter(has_text="Still here after your reload")).to_have_count(
        1, timeout=LIVE)
    expect(agent_lines.filter(has_text="Hello from Marie")).to_have_count(1)
    expect(messages.get_by_text("Marie from our team has joined")).to_have_count(1)
    recipe._chat_says(chat, "Great, thanks")
    transcript = marie.get_by_test_id("transcript")
    expect(transcript.get_by_text("Great, thanks")).to_have_count(1, timeout=LIVE)
    page.screenshot(path=str(recipe.SCREENSHOTS / "widget.png"))

    launcher.click()  # closes the panel; the shop page is untouched
    expect(page.get_by_test_id("widget-frame")).to_be_hidden()
    marie.get_by_test_id("close-button").click()
    marie.get_by_test_id("close-confirm").click()
    for context in (customer, console):
        context.close()
