"""The pages work under their Content-Security-Policy, which the browser enforces."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import _sign_in, browser  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
INJECT = """() => {
  const s = document.createElement('script');
  s.textContent = 'window.__inline = 1';
  document.body.appendChild(s);
}"""


def _violations(page: Page) -> List[str]:
    return page.evaluate("() => window.__violations")


def _an_inline_script_is_refused(page: Page) -> None:
    page.evaluate(INJECT)
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("() => window.__inline") is None
    assert _violations(page)[0].startswith("script-src")


def test_console_dashboard_and_chat_run_under_the_policy(stack, browser):  # noqa: F811
    context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    context.add_init_script(WATCH)
    try:
        console = context.new_page()
        _sign_in(console, stack.handoff_url, "sam")  # a supervisor: every view
        console.get_by_test_id("supervisor-toggle").click()
        expect(console.get_by_test_id("sup-agents").locator("tr").first).to_be_visible()
        dashboard = context.new_page()
        dashboard.goto(f"{stack.handoff_url}/dashboard")
        expect(dashboard.get_by_test_id("dashboard-filter")).to_be_visible()
        dashboard.wait_for_load_state("networkidle")
        chat = context.new_page()
        chat.goto(f"{stack.handoff_url}/chat")
        expect(chat.get_by_test_id("chat-status")).to_have_attribute("data-state", "connected")
        chat.get_by_test_id("chat-input").fill("what are your opening hours?")
        chat.get_by_test_id("chat-send").click()
        expect(chat.get_by_test_id("chat-messages")).to_contain_text("Monday", timeout=60_000)
        for page in (console, dashboard, chat):
            assert _violations(page) == [], page.url
            _an_inline_script_is_refused(page)  # the policy is in force, not merely sent
    finally:
        context.close()


FRAMING = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Site</title></head>
<body><iframe src="{handoff}/chat?embed=1" title="chat" width="400" height="500"></iframe>
</body></html>"""


@pytest.fixture
def site(stack, tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Serves a page that frames the chat, on a port of the caller's choice."""
    (tmp_path / "index.html").write_text(FRAMING.format(handoff=stack.handoff_url))
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    servers: List[http.server.ThreadingHTTPServer] = []

    def serve(port: int) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/index.html"
    try:
        yield serve
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


def _chat_loaded(page: Page) -> bool:
    page.wait_for_load_state("load")
    return any(frame.query_selector('[data-testid="chat-input"]') is not None
               for frame in page.frames if frame is not page.main_frame)


def test_only_the_configured_sites_can_frame_the_chat(stack, browser, site):  # noqa: F811
    context = browser.new_context(locale="en-US")
    try:
        listed, stranger = context.new_page(), context.new_page()
        listed.goto(site(stack.third_party_port))  # in CHAT_ALLOWED_ORIGINS
        expect(listed.frame_locator("iframe").get_by_test_id("chat-input")).to_be_visible()
        stranger.goto(site(0))  # any other site; "load" waits for its frame too
        assert not _chat_loaded(stranger)
        assert _chat_loaded(listed)
    finally:
        context.close()
