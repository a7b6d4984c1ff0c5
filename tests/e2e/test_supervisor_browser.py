"""A supervisor and two agents in a real browser: the supervision view (agents, load, queue,
reassign) and a transfer to a team (issue 4, the agent console).

Also produces docs/screenshots/supervisor.png.
"""

from __future__ import annotations

import time

import pytest
import redis
from playwright.sync_api import expect

from handoff.keys import Keys
from tests.e2e import test_browser as recipe
from tests.e2e.test_console_browser import (
    LIVE,
    QUICK,
    _ask_for_a_human,
    _context,
    _my_item,
    _queue_item,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser
TEAM_NOTE = "Charged twice for 10234"


def _row(page, kind: str, cid: str):
    return page.locator(f'[data-testid="{kind}"][data-conversation-id="{cid}"]')


def _agent_row(page, username: str):
    return page.locator(f'[data-testid="sup-agent"][data-agent="{username}"]')


def test_supervisor_reassigns_and_agent_transfers_to_a_team(stack, browser):
    url = stack.handoff_url
    contexts = {name: _context(browser, 1440, 900) for name in ("sam", "marie", "paul")}
    pages = {name: context.new_page() for name, context in contexts.items()}
    for name, page in pages.items():
        recipe._sign_in(page, url, name)
        expect(page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "connected", timeout=QUICK)
    sam, marie, paul = pages["sam"], pages["marie"], pages["paul"]
    # Only supervisors get the supervision view.
    expect(marie.get_by_test_id("supervisor-toggle")).to_be_hidden()
    expect(sam.get_by_test_id("supervisor-toggle")).to_be_visible()

    customer = _context(browser, 900, 760)
    chat, cid = _ask_for_a_human(url, customer, pages)

    # This customer has been waiting 10 minutes for a first reply (no team: 5 min target).
    store = redis.Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        store.hset(Keys().conversation(cid), "queued_at", str(time.time() - 600))
    finally:
        store.close()

    # --- The supervisor sees agents with presence and load, and the waiting customer. ---
    sam.get_by_test_id("supervisor-toggle").click()
    view = sam.get_by_test_id("supervisor-view")
    expect(view).to_be_visible()
    expect(_agent_row(sam, "marie")).to_have_attribute("data-presence", "online", timeout=QUICK)
    expect(_agent_row(sam, "paul")).to_contain_text("Billing and payments")
    queued = _row(sam, "sup-queued", cid)
    expect(queued).to_be_visible(timeout=QUICK)
    marie_load = int(_agent_row(sam, "marie").get_attribute("data-load"))
    expect(queued.get_by_test_id("sup-sla")).to_have_attribute("data-sla", "breached")
    expect(queued.get_by_test_id("sup-sla")).to_contain_text("Late by 5 min")  # 10 min, 5 due

    # --- ... and gives the conversation to Marie, who gets it live. ---
    queued.get_by_test_id("sup-target").select_option("marie")
    queued.get_by_test_id("sup-give").click()
    expect(_my_item(marie, cid)).to_be_visible(timeout=LIVE)
    expect(queued).to_have_count(0, timeout=QUICK)
    held = _row(sam, "sup-held", cid)
    expect(held).to_have_attribute("data-agent", "marie", timeout=QUICK)
    expect(_agent_row(sam, "marie")).to_have_attribute("data-load", str(marie_load + 1),
                                                        timeout=QUICK)
    expect(_agent_row(sam, "marie").get_by_test_id("sup-held-link").filter(
        has_text=held.locator("strong").inner_text())).to_have_count(1)
    expect(chat.get_by_test_id("chat-messages")).to_contain_text(
        "Marie from our team has joined", timeout=LIVE)
    sam.screenshot(path=str(recipe.SCREENSHOTS / "supervisor.png"))

    # --- Marie sends it to the billing team with a note: it goes back to the queue, for them. ---
    _my_item(marie, cid).click()
    expect(marie.get_by_test_id("conversation-state")).to_have_attribute(
        "data-state", "assigned", timeout=QUICK)
    marie.get_by_test_id("transfer-button").click()
    marie.get_by_test_id("transfer-agent").select_option("team:billing")
    marie.get_by_test_id("transfer-note").fill(TEAM_NOTE)
    marie.get_by_test_id("transfer-submit").click()
    expect(marie.get_by_test_id("notice").filter(has_text="for the Billing and payments team")
           ).to_be_visible(timeout=QUICK)
    expect(_my_item(marie, cid)).to_have_count(0, timeout=QUICK)
    expect(marie.locator("#conv-body")).to_be_hidden()
    expect(chat.get_by_test_id("chat-messages")).to_contain_text(
        "passing your conversation to our Billing and payments team", timeout=LIVE)
    in_pauls_queue = _queue_item(paul, cid)
    expect(in_pauls_queue).to_be_visible(timeout=LIVE)
    expect(in_pauls_queue.get_by_test_id("queue-team")).to_have_text("Billing and payments")
    expect(_queue_item(marie, cid)).to_have_count(0)
    queued = _row(sam, "sup-queued", cid)
    expect(queued).to_contain_text("Billing and payments", timeout=LIVE)

    # --- The supervisor gives it to Paul, who sees the team note first. ---
    queued.get_by_test_id("sup-target").select_option("paul")
    queued.get_by_test_id("sup-give").click()
    expect(_my_item(paul, cid)).to_be_visible(timeout=LIVE)
    expect(_row(sam, "sup-held", cid)).to_have_attribute("data-agent", "paul", timeout=QUICK)
    _my_item(paul, cid).click()
    notes = paul.get_by_test_id("note-text")
    expect(notes.filter(has_text=f"Marie → Billing and payments: {TEAM_NOTE}")).to_have_count(
        1, timeout=QUICK)
    expect(notes.filter(has_text="Sam → Paul")).to_have_count(1)
    expect(chat.get_by_test_id("chat-messages")).not_to_contain_text(TEAM_NOTE)
    paul.get_by_test_id("close-button").click()
    paul.get_by_test_id("close-confirm").click()
    expect(_my_item(paul, cid)).to_have_count(0, timeout=QUICK)
    expect(_row(sam, "sup-held", cid)).to_have_count(0, timeout=LIVE)
    for context in (customer, *contexts.values()):
        context.close()
