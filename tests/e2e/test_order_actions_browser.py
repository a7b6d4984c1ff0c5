"""Agents act on the customer's orders from the console, in a real browser (issue 18).

An agent looks the customer's order up with them, cancels it (a double click on the
confirmation: the order store changes once) and grants a voucher within the team's limit; the
customer reads both in the chat, and the conversation's record shows each action. A refund
above the limit goes to a supervisor, who approves it in the supervision view; then it runs.
The orders are the stack's own copy of handoff/orders/orders.sql; only this test acts on Tom's
(10235 and 10238).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from handoff.orders.store import OrderStore
from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import (
    LIVE,
    QUICK,
    _ask_for_a_human,
    _claim,
    _context,
    _sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser  # Debian's Chromium, headless
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PROCESSING, DELIVERED = "10235", "10238"  # tom.baker@example.com's


def _journal(db: Path):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT kind, order_number, amount_cents, actor, done"
                            " FROM order_actions WHERE order_number IN (?, ?) AND done = 1"
                            " ORDER BY rowid", (PROCESSING, DELIVERED)).fetchall()


def _order(page: Page, number: str):
    return page.locator(f'[data-testid="order"][data-order="{number}"]')


def _start(page: Page, number: str, kind: str):
    _order(page, number).locator(f'[data-testid="order-action"][data-kind="{kind}"]').click()
    form = _order(page, number).get_by_test_id("order-confirm")
    expect(form).to_have_attribute("data-kind", kind, timeout=QUICK)
    return form


def test_an_agent_acts_on_orders_and_a_supervisor_approves_above_the_limit(stack, browser):
    url = stack.handoff_url
    db = stack.run_dir / "orders.db"
    customer = _context(browser, 900, 760)
    consoles = {name: _context(browser, 1440, 1000) for name in ("marie", "sam")}
    pages = {name: context.new_page() for name, context in consoles.items()}
    for name, page in pages.items():
        _sign_in(page, url, name)
        expect(page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "connected", timeout=QUICK)
    marie, sam = pages["marie"], pages["sam"]
    chat, cid = _ask_for_a_human(url, customer, {"marie": marie})
    _claim(marie, cid)
    messages = chat.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("Marie from our team has joined", timeout=LIVE)

    # --- No order proven to the bot: the agent looks it up with what the customer says. ---
    panel = marie.get_by_test_id("context-orders")
    expect(panel.get_by_test_id("orders-none")).to_be_visible(timeout=QUICK)
    panel.get_by_test_id("order-lookup-toggle").click()
    panel.get_by_test_id("order-lookup-number").fill(PROCESSING)
    panel.get_by_test_id("order-lookup-fact").fill("tom.baker@example.com")
    panel.get_by_test_id("order-lookup-submit").click()
    # The order and the customer's other one (same account); nobody else's.
    expect(panel.get_by_test_id("order")).to_have_count(2, timeout=QUICK)
    expect(_order(marie, PROCESSING)).to_have_attribute("data-status", "processing")
    before = _journal(db)

    # --- Cancel: one click, then a confirmation clicked twice; the store changes once. ---
    form = _start(marie, PROCESSING, "cancel")
    expect(form).to_contain_text("Cancel order 10235? The customer will be told.")
    form.get_by_test_id("order-confirm-yes").dblclick()
    expect(_order(marie, PROCESSING)).to_have_attribute("data-status", "cancelled",
                                                        timeout=QUICK)
    expect(messages).to_contain_text("Marie has cancelled your order 10235.", timeout=LIVE)
    assert OrderStore(db_path=db).get(PROCESSING).status == "cancelled"

    # --- A voucher within the team's limit (orders: €20.00). ---
    form = _start(marie, DELIVERED, "voucher")
    expect(form.get_by_test_id("order-limit")).to_contain_text("€20.00")
    form.get_by_test_id("order-input").fill("15")
    expect(form.get_by_test_id("order-confirm-yes")).to_have_text("Confirm")
    form.get_by_test_id("order-confirm-yes").click()
    expect(messages).to_contain_text("Marie has given you a voucher of €15.00 (order 10238). "
                                     "Your code: V-", timeout=LIVE)
    assert _journal(db)[len(before):] == [("cancel", PROCESSING, None, "agent:marie", 1),
                                          ("voucher", DELIVERED, 1500, "agent:marie", 1)]

    # The record shows each action (who, what, result) in the console's transcript.
    actions = marie.get_by_test_id("transcript").get_by_test_id("turn-action")
    expect(actions).to_have_count(2, timeout=LIVE)
    expect(actions.first).to_contain_text("Cancellation · order 10235 · by Marie")
    expect(actions.nth(1)).to_contain_text("Voucher of €15.00 · order 10238 · by Marie")

    # --- A refund above the limit (€50.00): the confirmation asks a supervisor. ---
    form = _start(marie, PROCESSING, "refund")
    form.get_by_test_id("order-input").fill("80")
    expect(form.get_by_test_id("order-confirm-yes")).to_have_text("Ask a supervisor")
    form.get_by_test_id("order-confirm-yes").click()
    waiting = panel.get_by_test_id("order-approval")
    expect(waiting).to_have_attribute("data-status", "pending", timeout=QUICK)
    expect(messages).to_contain_text("Marie has asked a manager to approve a refund of €80.00",
                                     timeout=LIVE)
    assert OrderStore(db_path=db).get(PROCESSING).refunded_cents == 0

    # --- The supervisor approves it in the supervision view; then it runs, once. ---
    sam.get_by_test_id("supervisor-toggle").click()
    row = sam.get_by_test_id("sup-approval")
    expect(row).to_have_count(1, timeout=LIVE)
    expect(row).to_contain_text("Refund of €80.00")
    expect(row).to_contain_text("Marie")
    row.get_by_test_id("approval-approve").click()
    row.get_by_test_id("approval-confirm").click()
    expect(sam.get_by_test_id("sup-approval")).to_have_count(0, timeout=QUICK)
    expect(messages).to_contain_text("Marie has refunded €80.00 on your order 10235",
                                     timeout=LIVE)
    expect(waiting).to_have_attribute("data-status", "approved", timeout=LIVE)
    assert OrderStore(db_path=db).get(PROCESSING).refunded_cents == 8000
    assert _journal(db)[len(before) + 2:] == [
        ("refund", PROCESSING, 8000, "agent:marie approved by sam", 1)]
    expect(actions).to_have_count(4, timeout=LIVE)  # + asked a supervisor, + refunded
    expect(actions.nth(3)).to_contain_text("by Marie, approved by Sam")
    panel.scroll_into_view_if_needed()
    marie.screenshot(path=str(SCREENSHOTS / "console-orders.png"))


def test_a_suggested_reply_is_inserted_edited_and_sent(stack, browser):
    url = stack.handoff_url
    customer = _context(browser, 900, 760)
    console = _context(browser, 1440, 1000)
    marie = console.new_page()
    _sign_in(marie, url, "marie")
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=QUICK)
    chat, cid = _ask_for_a_human(url, customer, {"marie": marie})
    _claim(marie, cid)
    messages = chat.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("Marie from our team has joined", timeout=LIVE)

    chat.get_by_test_id("chat-input").fill("How can I return an item I don't want?")
    chat.get_by_test_id("chat-send").click()
    # The bot's answer on returns or the team's (other tests' resolved conversations may add
    # their own replies to the three).
    suggestion = marie.get_by_test_id("suggestion").filter(has_text="30 days").first
    expect(suggestion).to_be_visible(timeout=LIVE)
    text = suggestion.get_attribute("title")
    assert text and "30 days" in text
    suggestion.click()
    reply = marie.get_by_test_id("reply-input")
    expect(reply).to_have_value(text)
    marie.screenshot(path=str(SCREENSHOTS / "console-suggestions.png"))
    reply.press("End")
    reply.press_sequentially(" Anything else?", delay=10)  # edited before it is sent
    reply.press("Enter")
    expect(messages).to_contain_text(f"{text} Anything else?", timeout=LIVE)

    # The search box over the team's knowledge: found, inserted, editable.
    marie.get_by_test_id("knowledge-search").fill("opening hours saturday")
    result = marie.locator('[data-testid="knowledge-result"][data-source="faq"]').first
    expect(result).to_contain_text("Monday to Friday", timeout=QUICK)
    result.get_by_test_id("knowledge-insert").click()
    expect(reply).to_have_value(re.compile(r"^Our customer service is open Monday to Friday"))
