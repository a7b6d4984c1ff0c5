"""The customer page and the agent console in a real browser (Debian's Chromium, headless).

Also produces the screenshots shown in the README (docs/screenshots/).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import AGENTS, watch_page_errors

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: ./test.sh installs it "
                    "(apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(AGENTS[username][1])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection-status")).to_be_visible()


def _chat_says(page: Page, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-send").click()


def test_customer_and_agent_in_the_browser(stack, browser):
    customer = watch_page_errors(browser.new_context(locale="en-US",
                                                     viewport={"width": 900, "height": 760}))
    console = watch_page_errors(browser.new_context(locale="en-US",
                                                    viewport={"width": 1440, "height": 900}))
    chat = customer.new_page()
    agent = console.new_page()
    for page in (chat, agent):  # nothing may come from outside the machine
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda r: r.abort())

    chat.goto(f"{stack.handoff_url}/chat")
    _chat_says(chat, "where is my order 10235?")
    bot = chat.locator('[data-testid="chat-message"][data-from="bot"]')
    expect(bot.filter(has_text="10235").first).to_be_visible(timeout=30_000)
    _chat_says(chat, XSS)
    _sign_in(agent, stack.handoff_url, "paul")  # at the console: someone can answer
    expect(agent.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=30_000)
    _chat_says(chat, "I want to talk to a human")
    expect(bot.last).to_contain_text("queue", timeout=30_000)

    item = agent.get_by_test_id("queue-item").first
    expect(item).to_be_visible(timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SCREENSHOTS / "queue.png"))
    item.get_by_test_id("claim-button").click()
    transcript = agent.get_by_test_id("transcript")
    expect(transcript).to_contain_text("10235", timeout=30_000)
    # The customer's HTML is shown as text and never runs.
    expect(transcript).to_contain_text(XSS)
    assert agent.evaluate("window.__xss") is None
    expect(agent.get_by_test_id("context-panel")).to_contain_text("10235")
    frustration = agent.get_by_test_id("context-panel").locator('[data-key="frustration"]')
    expect(frustration).to_have_text("No sign")

    agent.get_by_test_id("reply-input").fill("Hi, Paul here. I can see order 10235.")
    agent.get_by_test_id("reply-input").press("Enter")
    from_agent = chat.locator('[data-testid="chat-message"][data-from="agent"]')
    expect(from_agent).to_have_count(1, timeout=30_000)
    expect(from_agent).to_contain_text("Paul")
    _chat_says(chat, "Thanks! When will it arrive?")
    expect(transcript).to_contain_text("When will it arrive?", timeout=30_000)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SCREENSHOTS / "console.png"))
    chat.screenshot(path=str(SCREENSHOTS / "chat.png"))

    agent.get_by_test_id("handback-flow").select_option("anything_else")
    agent.get_by_test_id("handback-button").click()
    expect(bot.last).not_to_contain_text("queue", timeout=30_000)
    expect(from_agent).to_have_count(1)
    customer.close()
    console.close()
