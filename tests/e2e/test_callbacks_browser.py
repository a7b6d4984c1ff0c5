"""The phone as the next step, in a real browser (issue 18).

An agent offers a call from the console; the customer gets the link in the chat, opens it, is
refused a malformed number (clearly, and nothing changes), then picks a time and leaves a good
one. The call appears in the call-back list of another agent of the team, who opens it (the whole
conversation in front of them), calls, and records the outcome with a note (a double click
records it once); the customer is told, and the conversation's record carries each step.
The customer can also ask the bot for a call ("rappelez-moi"): a handoff with reason
`callback`, and the link at once, in French.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from redis import Redis

from handoff.keys import Keys
from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import (
    LIVE,
    QUICK,
    _ask_for_a_human,
    _chat_says,
    _claim,
    _context,
    _open_chat,
    _seen_in_queue,
    _session_id,
    _sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser  # Debian's Chromium, headless
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LINK = re.compile(r"https?://\S+/callback/[A-Za-z0-9_-]+")


def _link_in(chat: Page) -> str:
    messages = chat.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("/callback/", timeout=LIVE)
    found = LINK.findall(messages.inner_text())
    assert found, messages.inner_text()
    return found[-1]


def _signed_in(browser, url: str, name: str) -> Page:
    page = _context(browser, 1440, 1000).new_page()
    _sign_in(page, url, name)
    expect(page.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=QUICK)
    return page


def _callback(stack, cid: str) -> dict:
    redis = Redis.from_url(stack.redis_url or stack.embedded_redis_url, decode_responses=True)
    try:
        keys = Keys(os.environ.get("HANDOFF_KEY_PREFIX") or Keys.prefix)
        ids = redis.zrange(keys.conversation_callbacks(cid), 0, -1)
        assert len(ids) == 1, ids
        return redis.hgetall(keys.callback(cid, ids[0]))
    finally:
        redis.close()


def test_an_agent_offers_a_call_the_customer_schedules_it_and_the_outcome_is_recorded(
        stack, browser):
    url = stack.handoff_url
    customer = _context(browser, 900, 760)
    marie, paul = _signed_in(browser, url, "marie"), _signed_in(browser, url, "paul")
    chat, cid = _ask_for_a_human(url, customer, {"marie": marie})
    _claim(marie, cid)
    messages = chat.get_by_test_id("chat-messages")
    expect(messages).to_contain_text("Marie from our team has joined", timeout=LIVE)

    # --- Marie offers a call; the customer gets the link in the chat. ---
    section = marie.get_by_test_id("context-callback")
    section.get_by_test_id("callback-offer").click()
    expect(section.get_by_test_id("callback-card")).to_have_attribute("data-status", "offered",
                                                                      timeout=QUICK)
    expect(messages).to_contain_text("Marie offers to call you.", timeout=LIVE)
    link = _link_in(chat)

    # --- The customer's page: a malformed number is refused, then a time is picked. ---
    form = customer.new_page()
    form.goto(link)
    expect(form.get_by_test_id("callback-intro")).to_contain_text("Marie from our team will "
                                                                  "call you", timeout=QUICK)
    slots = form.get_by_test_id("callback-slot")
    expect(slots.first).to_have_attribute("data-slot", "now")  # the test stack is always open
    later = slots.nth(1)
    later_label = later.inner_text().strip()
    later.click()
    form.get_by_test_id("callback-phone").fill("call me at home")
    form.get_by_test_id("callback-submit").click()
    expect(form.get_by_test_id("callback-error")).to_contain_text(
        "This does not look like a phone number", timeout=QUICK)
    assert _callback(stack, cid)["status"] == "offered"  # nothing changed
    form.get_by_test_id("callback-slot").nth(1).click()
    form.get_by_test_id("callback-phone").fill("06 12 34 56 78")
    form.get_by_test_id("callback-submit").click()
    expect(form.get_by_test_id("callback-done")).to_contain_text("Thank you: we will call you",
                                                                 timeout=QUICK)
    expect(messages).to_contain_text("we will call you on 06 12 34 56 78", timeout=LIVE)
    expect(section.get_by_test_id("callback-card")).to_have_attribute(
        "data-status", "scheduled", timeout=LIVE)

    # --- Paul (same team) has it in his call-back list, by due time, and opens it. ---
    item = paul.locator(f'[data-testid="callback-item"][data-conversation-id="{cid}"]')
    expect(item).to_be_visible(timeout=LIVE)
    expect(item.get_by_test_id("callback-phone")).to_have_text("06 12 34 56 78")
    expect(item.get_by_test_id("callback-language")).to_have_text("EN")
    paul.get_by_test_id("callbacks-language").select_option("fr")  # the filter hides it
    expect(item).to_have_count(0, timeout=QUICK)
    paul.get_by_test_id("callbacks-language").select_option("en")
    expect(item).to_be_visible(timeout=QUICK)
    assert later_label.split(" ", 1)[1].split("–")[0] in item.inner_text() or \
        later_label.startswith(("Today", "Tomorrow"))
    item.click()
    # The whole conversation is in front of him before he calls.
    expect(paul.get_by_test_id("transcript")).to_contain_text("I want to talk to a human",
                                                              timeout=LIVE)
    card = paul.get_by_test_id("context-callback").get_by_test_id("callback-card")
    expect(card).to_have_attribute("data-status", "scheduled", timeout=QUICK)
    paul.get_by_test_id("context-callback").scroll_into_view_if_needed()
    paul.screenshot(path=str(SCREENSHOTS / "console-callbacks.png"))

    # --- He calls, and records the outcome with a note (double click: recorded once). ---
    card.get_by_test_id("callback-outcome-select").select_option("reached")
    card.get_by_test_id("callback-note").fill("Wants a refund by bank transfer")
    card.get_by_test_id("callback-record").dblclick()
    expect(card).to_have_attribute("data-status", "done", timeout=QUICK)
    expect(card.get_by_test_id("callback-outcome")).to_have_text("Reached, by Paul")
    expect(item).to_have_count(0, timeout=QUICK)
    expect(messages).to_contain_text("Thank you for your time on the phone with Paul.",
                                     timeout=LIVE)
    assert chat.get_by_test_id("chat-messages").inner_text().count(
        "Thank you for your time on the phone") == 1
    stored = _callback(stack, cid)
    assert (stored["status"], stored["outcome"], stored["done_by"], stored["note"]) == (
        "done", "reached", "paul", "Wants a refund by bank transfer")

    # --- The record: each step is a turn of the conversation, with the call-back. ---
    steps = marie.get_by_test_id("transcript").get_by_test_id("turn-callback")
    expect(steps).to_have_count(3, timeout=LIVE)
    expect(steps.nth(0)).to_have_attribute("data-status", "offered")
    expect(steps.nth(1)).to_have_attribute("data-status", "scheduled")
    expect(steps.nth(2)).to_have_attribute("data-outcome", "reached")
    expect(steps.nth(2)).to_contain_text("Call made by Paul: Reached")
    expect(steps.nth(2)).to_contain_text("Wants a refund by bank transfer")


def test_the_customer_asks_the_bot_for_a_call_in_french(stack, browser):
    url = stack.handoff_url
    customer = _context(browser, 900, 760)
    sam = _signed_in(browser, url, "sam")
    chat = _open_chat(customer, url)
    _chat_says(chat, "Bonjour, rappelez-moi svp")
    cid = _session_id(chat)
    _seen_in_queue(sam, cid, LIVE)  # a handoff like any other, reason `callback`
    expect(chat.get_by_test_id("chat-messages")).to_contain_text(
        "Vous souhaitez être appelé", timeout=LIVE)
    form = customer.new_page()
    form.goto(_link_in(chat))
    expect(form.get_by_test_id("callback-intro")).to_contain_text("Une personne de notre équipe",
                                                                  timeout=QUICK)
    form.get_by_test_id("callback-slot").first.click()  # "now"
    form.get_by_test_id("callback-phone").fill("07 81 22 45 90")
    form.get_by_test_id("callback-submit").click()
    expect(form.get_by_test_id("callback-done")).to_contain_text(
        "Merci : nous vous appellerons dès que possible", timeout=QUICK)
    item = sam.locator(f'[data-testid="callback-item"][data-conversation-id="{cid}"]')
    expect(item).to_be_visible(timeout=LIVE)
    expect(item.get_by_test_id("callback-language")).to_have_text("FR")
    expect(item).to_contain_text("Asked to be called back")
