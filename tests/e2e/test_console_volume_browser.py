"""The console at volume (issue 16), on a laptop screen (1366×768).

300 conversations wait, on a stack of their own (the shared one's queue stays short for the
other tests): an agent finds a customer by order number in at most three interactions, filters,
sorts and pages; notices never cover a control. Tickets are enqueued through the product's own
store (`handoff.conversation`), as the action server does. Also produces
docs/screenshots/queue-volume.png. And, on the shared stack, a customer's reply in another of
the agent's conversations counts in the tab title.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List

import pytest
from playwright.sync_api import Page, expect
from redis.asyncio import Redis

from handoff.conversation import ConversationStore
from handoff.keys import Keys
from handoff.ticket import Reason, build_ticket
from stack.services import Stack
from tests import events as ev
from tests.e2e import test_browser as recipe
from tests.e2e.conftest import _a_stack
from tests.e2e.test_console_browser import (
    LIVE,
    QUICK,
    _ask_for_a_human,
    _context,
    _my_item,
    _queue_item,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(420)]

browser = recipe.browser

WAITING = 300
TARGET = 228  # the ticket looked for was card 228
NAMES = ["Alice Martin", "Bruno Petit", "Chloé Durand", "David Leroy", "Emma Moreau",
         "Farid Haddad", "Gaëlle Simon", "Hugo Laurent", "Inès Michel", "Jules Garcia"]
TEAMS = [None, "orders", "billing"]
REASONS = [Reason.ASKED, Reason.COMPLAINT, Reason.FRUSTRATION, Reason.NOT_UNDERSTOOD]

# Every visible control whose centre another element covers (the hit-test).
COVERED = """() => {
  const covered = [];
  for (const c of document.querySelectorAll('button, input, select, textarea, a[href]')) {
    const r = c.getBoundingClientRect();
    if (!r.width || !r.height || c.closest('[hidden]')) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    const top = document.elementFromPoint(x, y);
    if (top && top !== c && !c.contains(top) && !top.contains(c) && !(c.labels &&
        [...c.labels].some(l => l.contains(top)))) {
      covered.push((c.dataset.testid || c.id || c.tagName) + ' under ' +
                   (top.dataset.testid || top.className));
    }
  }
  return covered;
}"""


# Queue cards wholly on screen (inside the sidebar, which scrolls on its own).
ON_SCREEN = """() => {
  const sidebar = document.querySelector('.sidebar').getBoundingClientRect();
  const bottom = Math.min(innerHeight, sidebar.bottom);
  return [...document.querySelectorAll('[data-testid="queue-item"]')]
    .filter(e => e.getBoundingClientRect().bottom <= bottom).length;
}"""


# Before the console's scripts: the browser's Notification API as it is, recording what it
# shows, and a page the test can put in a background tab (headless pages are never hidden).
NOTIFICATIONS = """
window.__notifications = [];
window.__hidden = false;
Object.defineProperty(Document.prototype, 'hidden', { get: () => window.__hidden });
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) { super(title, options); window.__notifications.push(title); }
};
"""

# The open conversation's transcript, the notices above the panes and the window, in px.
ROOM = """() => ({
  transcript: document.getElementById('transcript').getBoundingClientRect().height,
  notices: document.getElementById('notices').getBoundingClientRect().height,
  screen: innerHeight
})"""


def order_number(i: int) -> str:
    return str(40000 + i)


def _ticket(i: int, now: float):
    cid = f"volume-{i:03d}"
    number = order_number(i)
    language = "fr" if i % 3 == 0 else "en"
    channel = "messenger" if i % 4 == 0 else "socketio"
    text = f"where is my order {number}" if language == "en" else f"où est ma commande {number}"
    events = [ev.user(text, "order_status", [{"entity": "order_number", "value": number,
                                               "start": 18, "end": 23}], ts=now, channel=channel),
              ev.bot(f"Order {number} is on its way.", ts=now + 1),
              ev.user("I want to talk to a human", "request_human", ts=now + 2, channel=channel)]
    slots = {"language": language, "order_number": number, "name": NAMES[i % len(NAMES)]}
    return build_ticket(cid, events, slots, events[-1]["parse_data"], REASONS[i % len(REASONS)],
                        now=now)


def _run(coroutine: Any) -> None:
    """Runs a coroutine to its end (Playwright's sync API holds this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result(timeout=120)


async def _seed(stack: Stack) -> None:
    redis = Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        store = ConversationStore(redis, Keys())
        start = time.time() - 2 * 3600  # the first has waited two hours, the last a minute
        for i in range(WAITING):
            await store.enqueue(_ticket(i, start + i * 23), team=TEAMS[i % len(TEAMS)])
        # Their pages are open (as the web channel writes it), so none leaves the queue.
        await redis.hset(Keys().customers_seen,
                         mapping={f"volume-{i:03d}": str(time.time()) for i in range(WAITING)})
    finally:
        await redis.close(close_connection_pool=True)


@pytest.fixture(scope="module")
def volume_stack(tmp_path_factory, graph, mailbox) -> Iterator[Stack]:
    # The customers keep their pages open however long the test takes on a busy machine.
    yield from _a_stack(tmp_path_factory, graph, mailbox, "volume",
                        env={"HANDOFF_ABANDON_AFTER": "86400"})


def _items(page: Page):
    return page.get_by_test_id("queue-item")


def _api_queue(page: Page, url: str) -> List[Dict[str, Any]]:
    response = page.request.get(f"{url}/api/queue")
    assert response.ok, response.status
    return response.json()["tickets"]


def test_a_customer_is_found_among_300_waiting(volume_stack, browser):
    _run(_seed(volume_stack))
    console = _context(browser, 1366, 768)
    paul = console.new_page()  # orders and billing: he sees the whole queue
    recipe._sign_in(paul, volume_stack.handoff_url, "paul")
    expect(paul.get_by_test_id("queue-count")).to_have_text(str(WAITING), timeout=QUICK)
    expect(_items(paul)).to_have_count(25)
    expect(paul.get_by_test_id("queue-page-text")).to_have_text("1–25 of 300")

    # New conversations while the agent works: their notices push the console down and never
    # cover a control.
    more = [_ticket(WAITING + n, time.time()) for n in range(3)]

    async def enqueue_more() -> None:
        redis = Redis.from_url(volume_stack.env()["REDIS_URL"], decode_responses=True)
        try:
            for ticket in more:
                await ConversationStore(redis, Keys()).enqueue(ticket)
        finally:
            await redis.close(close_connection_pool=True)

    _run(enqueue_more())
    expect(paul.get_by_test_id("queue-count")).to_have_text(str(WAITING + 3), timeout=QUICK)
    notices = paul.get_by_test_id("notice")
    expect(notices.first).to_be_visible()
    assert notices.count() <= 3
    assert paul.evaluate(COVERED) == []

    # Compact density: more of the queue fits on the laptop's screen.
    comfortable = paul.evaluate(ON_SCREEN)
    paul.get_by_test_id("queue-density").click()
    expect(paul.get_by_test_id("queue-density")).to_have_attribute("aria-pressed", "true")
    expect(paul.locator("#queue-list")).to_have_attribute("data-density", "compact")
    compact = paul.evaluate(ON_SCREEN)
    assert compact > comfortable, (comfortable, compact)
    assert paul.evaluate(COVERED) == []

    # The customer of card 228 is found by order number: type it, and claim.
    wanted = f"volume-{TARGET:03d}"
    paul.get_by_test_id("queue-search").fill(order_number(TARGET))            # 1 (and 2: focus)
    expect(_items(paul)).to_have_count(1, timeout=QUICK)
    expect(_items(paul).first).to_have_attribute("data-conversation-id", wanted)
    paul.screenshot(path=str(recipe.SCREENSHOTS / "queue-volume.png"))
    _items(paul).first.get_by_test_id("claim-button").click()                  # 3
    expect(_my_item(paul, wanted)).to_be_visible(timeout=QUICK)
    expect(paul.get_by_test_id("context-slots")).to_contain_text(order_number(TARGET))
    assert paul.evaluate(COVERED) == []
    # The transcript keeps at least half of what the notices leave of the laptop's screen (a
    # 214 px header once left it 310 of 768 px).
    room = paul.evaluate(ROOM)
    assert room["transcript"] >= 0.5 * (room["screen"] - room["notices"]), room
    paul.get_by_test_id("queue-search").fill("")

    # A customer's name, any case and without accents, finds their conversations; "/" outside a
    # field (here, from the transcript) goes to the search.
    paul.locator("#transcript").focus()
    paul.keyboard.press("/")
    expect(paul.get_by_test_id("queue-search")).to_be_focused()
    paul.keyboard.type("gaelle simon")
    expect(paul.get_by_test_id("queue-search")).to_have_value("gaelle simon")
    expect(_items(paul).first).to_contain_text("Gaëlle Simon", timeout=QUICK)
    paul.get_by_test_id("queue-search").fill("")

    # Filters: a team, a language, lateness; as the API counts them.
    tickets = _api_queue(paul, volume_stack.handoff_url)
    billing = [t for t in tickets if t.get("team") == "billing"]
    paul.get_by_test_id("queue-filter-team").select_option("billing")
    expect(paul.get_by_test_id("queue-page-text")).to_have_text(
        f"1–25 of {len(billing)}", timeout=QUICK)
    french_billing = [t for t in billing if t["language"] == "fr"]
    paul.get_by_test_id("queue-filter-language").select_option("fr")
    expect(_items(paul)).to_have_count(min(25, len(french_billing)), timeout=QUICK)
    paul.get_by_test_id("queue-filter-team").select_option("")
    paul.get_by_test_id("queue-filter-language").select_option("")
    late = [t for t in tickets if (t.get("sla") or {}).get("state") in ("breached", "missed")]
    assert 0 < len(late) < len(tickets)
    paul.get_by_test_id("queue-filter-late").check()
    expect(paul.get_by_test_id("queue-page-text")).to_have_text(
        f"1–25 of {len(late)}", timeout=QUICK)
    paul.get_by_test_id("queue-filter-late").uncheck()

    # Sorting and paging.
    paul.get_by_test_id("queue-sort").select_option("recent")
    expect(_items(paul).first).to_have_attribute("data-conversation-id",
                                                 f"volume-{WAITING + 2:03d}", timeout=QUICK)
    paul.get_by_test_id("queue-sort").select_option("wait")
    expect(_items(paul).first).to_have_attribute("data-conversation-id", "volume-000",
                                                 timeout=QUICK)
    paul.get_by_test_id("queue-next").click()
    expect(paul.get_by_test_id("queue-page-text")).to_have_text(
        f"26–50 of {WAITING + 2}", timeout=QUICK)
    expect(_items(paul).first).to_have_attribute("data-conversation-id", "volume-025")
    paul.get_by_test_id("queue-prev").click()
    expect(paul.get_by_test_id("queue-page-text")).to_have_text(
        f"1–25 of {WAITING + 2}", timeout=QUICK)
    paul.get_by_test_id("queue-sort").select_option("line")
    console.close()


def test_a_reply_in_another_of_my_conversations_shows_in_the_tab_title(stack, browser):
    url = stack.handoff_url
    console = _context(browser, 1366, 768)
    console.grant_permissions(["notifications"], origin=url)  # as if the agent had allowed them
    marie = console.new_page()
    marie.add_init_script(script=NOTIFICATIONS)
    recipe._sign_in(marie, url, "marie")
    expect(marie.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "connected", timeout=QUICK)
    customers = [_context(browser, 900, 760) for _ in range(2)]  # two browsers, two sessions
    first, first_id = _ask_for_a_human(url, customers[0], {"marie": marie})
    second, second_id = _ask_for_a_human(url, customers[1], {"marie": marie})
    for cid in (first_id, second_id):
        _queue_item(marie, cid).get_by_test_id("claim-button").click()
        expect(_my_item(marie, cid)).to_be_visible(timeout=QUICK)
    _my_item(marie, first_id).click()
    expect(marie.get_by_test_id("conversation-state")).to_have_attribute(
        "data-state", "assigned", timeout=QUICK)
    expect(marie).not_to_have_title(re.compile(r"^\(\d+\)"))
    chimes = int(marie.evaluate("document.body.getAttribute('data-chimes') || 0"))

    # The customer of the conversation that is not on screen writes while the agent is in
    # another tab: the tab says so, the console chimes, and the browser shows a notification.
    marie.evaluate("window.__hidden = true")
    recipe._chat_says(second, "Are you still there?")
    expect(marie).to_have_title(re.compile(r"^\(1\) "), timeout=LIVE)
    expect(_my_item(marie, second_id).get_by_test_id("unread")).to_be_visible()
    assert int(marie.evaluate("document.body.getAttribute('data-chimes') || 0")) == chimes + 1
    shown = marie.evaluate("window.__notifications")
    assert len(shown) == 1 and shown[0].endswith("replied: Are you still there?"), shown

    # Muted: the count still rises; no sound, no notification.
    marie.get_by_test_id("alerts-toggle").click()
    expect(marie.get_by_test_id("alerts-toggle")).to_have_attribute("aria-pressed", "true")
    recipe._chat_says(second, "Hello?")
    expect(marie).to_have_title(re.compile(r"^\(2\) "), timeout=LIVE)
    assert int(marie.evaluate("document.body.getAttribute('data-chimes') || 0")) == chimes + 1
    assert len(marie.evaluate("window.__notifications")) == 1
    marie.get_by_test_id("alerts-toggle").click()
    marie.evaluate("window.__hidden = false")

    # Opening it reads it.
    _my_item(marie, second_id).click()
    expect(marie).not_to_have_title(re.compile(r"^\(\d+\)"), timeout=QUICK)
    for cid in (first_id, second_id):
        _my_item(marie, cid).click()
        marie.get_by_test_id("close-button").click()
        marie.get_by_test_id("close-confirm").click()
        expect(_my_item(marie, cid)).to_have_count(0, timeout=QUICK)
    for context in (console, *customers):
        context.close()
