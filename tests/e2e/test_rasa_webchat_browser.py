"""The public `rasa-webchat` widget (npm, 1.0.1) on a third-party site, against our channel.

A site that already uses Rasa's most common web client only points it at our Rasa server: the
bot's messages and buttons show, the customer reaches a person, the agent's replies show (the
agent's name rides in the frames' metadata, and, since that widget shows no sender, before the
text: "Marie: …"),
and a reload keeps the conversation. The widget is served by the test from the npm package
(`tests.npm_packages`), never from a CDN. Also produces docs/screenshots/rasa-webchat.png.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from playwright.sync_api import Page, expect

from handoff.webchat_frames import RASA_FIELDS
from tests import npm_packages
from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import LIVE, QUICK, _claim, _context, _my_item
from tests.e2e.test_widget_browser import _QuietHandler

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser

SITE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Boulangerie Martin</title></head>
<body>
  <main><h1>Boulangerie Martin</h1><p>Fresh bread every morning.</p></main>
  <script>
    // The site's own hook (rasa-webchat's `onSocketEvent`): what the widget received.
    window.__frames = [];
  </script>
  <script src="/rasa-webchat.js"></script>
  <script>
    WebChat.default({{
      initPayload: "/greet",
      customData: {{ language: "en" }},
      socketUrl: "{rasa}",
      socketPath: "/socket.io/",
      title: "Boulangerie Martin",
      params: {{ storage: "session" }},
      customMessageDelay: function () {{ return 100; }},
      onSocketEvent: {{
        bot_uttered: function (frame) {{ window.__frames.push(frame); }}
      }}
    }}, null);
  </script>
</body></html>
"""


@pytest.fixture
def site(stack, tmp_path: Path) -> Iterator[str]:
    """A third-party site whose origin the operator allowed, with the widget's npm build."""
    (tmp_path / "index.html").write_text(SITE.format(rasa=stack.rasa_url))
    shutil.copy(npm_packages.path("rasa-webchat", "lib/index.js"),
                tmp_path / "rasa-webchat.js")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", stack.third_party_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{stack.third_party_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _frames(page: Page) -> List[Dict[str, Any]]:
    return page.evaluate("window.__frames")


def _session(page: Page) -> str:
    """The signed session our server issued, as the widget keeps it."""
    return page.evaluate("JSON.parse(sessionStorage.getItem('chat_session')).session_id")


def _bot_says(page: Page):
    return page.locator(".rw-response")


def _send(page: Page, text: str) -> None:
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-send").click()


def test_rasa_webchat_on_a_third_party_site(stack, browser, site):
    customer = _context(browser, 1100, 800)
    page = customer.new_page()
    page.goto(site)
    page.locator(".rw-launcher").click()
    bot = _bot_says(page)
    expect(bot.filter(has_text="How can I help?")).to_have_count(1, timeout=LIVE)

    console = _context(browser, 1440, 900)  # someone is there to answer
    marie = console.new_page()
    recipe._sign_in(marie, stack.handoff_url, "marie")
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=LIVE)

    _send(page, "tell me a joke")
    offer = page.locator(".rw-reply").filter(has_text="Talk to a person")
    expect(offer).to_be_visible(timeout=LIVE)
    offer.click()
    expect(bot.filter(has_text="putting you through to a person")).to_have_count(
        1, timeout=LIVE)
    cid = _session(page).split(".")[0]
    _claim(marie, cid, timeout=LIVE)
    expect(_my_item(marie, cid)).to_be_visible(timeout=QUICK)
    expect(bot.filter(has_text="Marie from our team has joined")).to_have_count(1, timeout=LIVE)
    marie.get_by_test_id("reply-input").fill("Hello from Marie")
    marie.get_by_test_id("reply-input").press("Enter")
    # That widget shows no sender: the agent's name comes before the text.
    expect(bot.filter(has_text="Marie: Hello from Marie")).to_have_count(1, timeout=LIVE)
    frames = _frames(page)
    assert all(set(f) <= RASA_FIELDS for f in frames), frames
    from_marie = [f for f in frames if f.get("text") == "Marie: Hello from Marie"]
    assert [f["metadata"]["agent"] for f in from_marie] == ["Marie"]

    # A reload keeps the conversation (the widget's own storage) and shows nothing twice.
    page.reload()
    bot = _bot_says(page)
    expect(bot.filter(has_text="Hello from Marie")).to_have_count(1, timeout=LIVE)
    marie.get_by_test_id("reply-input").fill("Still here after your reload")
    marie.get_by_test_id("reply-input").press("Enter")
    expect(bot.filter(has_text="Marie: Still here after your reload")).to_have_count(
        1, timeout=LIVE)
    expect(bot.filter(has_text="Hello from Marie")).to_have_count(1)
    expect(bot.filter(has_text="How can I help?")).to_have_count(1)
    assert _session(page).split(".")[0] == cid
    _send(page, "Great, thanks")
    transcript = marie.get_by_test_id("transcript")
    expect(transcript.get_by_text("Great, thanks")).to_have_count(1, timeout=LIVE)
    page.screenshot(path=str(recipe.SCREENSHOTS / "rasa-webchat.png"))

    marie.get_by_test_id("close-button").click()
    marie.get_by_test_id("close-confirm").click()
    for context in (customer, console):
        context.close()
