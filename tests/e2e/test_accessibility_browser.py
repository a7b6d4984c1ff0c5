"""Accessibility (issue 16): axe-core, from the npm registry, on every page people use.

No serious or critical violation on the chat page, the widget (on a third-party page and in its
frame), the console with a conversation open, supervision and the dashboard; and the keyboard
paths axe cannot judge: a conversation opened from the keyboard takes the focus where the agent
goes on, and the context panel scrolls from the keyboard.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import test_browser as recipe
from tests.e2e.axe import violations
from tests.e2e.test_console_browser import (
    LIVE,
    QUICK,
    _ask_for_a_human,
    _context,
    _my_item,
    _open_chat,
    _queue_item,
)
from tests.e2e.test_widget_browser import _chat_frame, shop  # noqa: F401 - a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser


def test_no_serious_violation_on_any_page(stack, browser, shop):  # noqa: F811 - the fixture
    url = stack.handoff_url
    console = _context(browser, 1366, 768)
    marie = console.new_page()
    recipe._sign_in(marie, url, "marie")
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=QUICK)
    customer = _context(browser, 390, 844)  # a phone
    chat, cid = _ask_for_a_human(url, customer, {"marie": marie})
    recipe._chat_says(chat, "My order 10234 has not arrived and I need it for Saturday")
    expect(chat.get_by_test_id("chat-queue")).to_be_visible(timeout=LIVE)
    assert not (found := violations(chat)), found
    # iPhones zoom into any field under 16 px: the customer's input must not make them.
    assert chat.get_by_test_id("chat-input").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)") >= 16

    # The queue item opened from the keyboard: the focus follows.
    item = _queue_item(marie, cid)
    item.focus()
    marie.keyboard.press("Enter")
    expect(marie.get_by_test_id("conversation-title")).to_be_visible(timeout=QUICK)
    expect(marie.locator("#transcript")).to_be_focused(timeout=QUICK)
    marie.get_by_test_id("conversation-claim").click()
    expect(_my_item(marie, cid)).to_be_visible(timeout=QUICK)
    _my_item(marie, cid).focus()
    marie.keyboard.press("Enter")
    expect(marie.get_by_test_id("reply-input")).to_be_focused(timeout=QUICK)
    expect(marie.get_by_test_id("context-intents")).to_be_visible(timeout=QUICK)
    assert not (found := violations(marie)), found
    # The context panel is taller than the screen: it takes the focus and scrolls by keyboard.
    panel = marie.get_by_test_id("context-panel")
    assert panel.evaluate("e => e.scrollHeight > e.clientHeight")
    panel.focus()
    marie.keyboard.press("PageDown")
    # Polled with `evaluate`: `wait_for_function` evaluates strings inside the page, which the
    # console's Content-Security-Policy (script-src 'self') rightly refuses.
    for _ in range(50):
        if panel.evaluate("e => e.scrollTop > 0"):
            break
        marie.wait_for_timeout(100)
    assert panel.evaluate("e => e.scrollTop > 0"), "PageDown scrolls the context panel"

    sam_context = _context(browser, 1366, 768)
    sam = sam_context.new_page()
    recipe._sign_in(sam, url, "sam")
    sam.get_by_test_id("supervisor-toggle").click()
    expect(sam.get_by_test_id("supervisor-view")).to_be_visible()
    expect(sam.locator(f'[data-testid="sup-held"][data-conversation-id="{cid}"]')).to_be_visible(
        timeout=QUICK)
    assert not (found := violations(sam)), found
    # Supervision's lists search too: what the customer told the bot finds them.
    held = sam.locator(f'[data-testid="sup-held"][data-conversation-id="{cid}"]')
    sam.get_by_test_id("sup-held-search").fill("no-such-order-99999")
    expect(held).to_have_count(0, timeout=QUICK)
    sam.get_by_test_id("sup-held-search").fill("human PLEASE")
    expect(held).to_be_visible(timeout=QUICK)
    sam.goto(f"{url}/dashboard")
    # The page once its figures are in (the customer's words after the handoff go to the agent,
    # not through the NLU: this conversation adds no intent row, so the panels are waited for).
    expect(sam.get_by_test_id("dashboard-kpis")).to_be_visible(timeout=LIVE)
    expect(sam.get_by_test_id("dashboard-now")).to_be_visible(timeout=LIVE)
    expect(sam.get_by_test_id("dashboard-filter")).to_be_visible(timeout=LIVE)
    assert not (found := violations(sam)), found

    visitor = _context(browser, 1100, 800)
    page = visitor.new_page()
    page.goto(shop)
    page.get_by_test_id("widget-launcher").click()
    frame = _chat_frame(page)
    expect(frame.get_by_test_id("chat-status")).to_have_attribute("data-state", "connected",
                                                                   timeout=LIVE)
    assert not (found := violations(page)), found
    assert not (found := violations(frame)), found

    marie.get_by_test_id("close-button").click()
    marie.get_by_test_id("close-confirm").click()
    expect(_my_item(marie, cid)).to_have_count(0, timeout=QUICK)
    for context in (console, customer, sam_context, visitor):
        context.close()


def test_the_chat_page_has_its_main_landmark(stack, browser):
    customer = _context(browser, 390, 844)
    chat = _open_chat(customer, stack.handoff_url)
    expect(chat.locator("main")).to_have_count(1)
    customer.close()
