"""The supervisor dashboard in a real browser (issue 8): figures and charts shown, the date range
changed, the agents' eNPS question in the console.

Also produces docs/screenshots/dashboard.png. So that the picture shows a week of activity, the
week is written first with the product's own writers (`handoff.metrics`, `SurveyStore`,
`EnpsStore`) at times spread over the last seven days; the figures the page shows are checked
against the API, whose own figures are tested in tests/e2e/test_dashboard.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import time
import uuid

import pytest
from playwright.sync_api import expect
from redis.asyncio import Redis

from handoff import metrics
from handoff.keys import Keys
from handoff.service.insights.enps import EnpsStore
from handoff.survey import SurveyStore
from handoff.ticket import Reason, build_ticket
from tests import events as ev
from tests.conftest import PASSWORD
from tests.e2e import test_browser as recipe
from tests.e2e.conftest import create_account
from tests.e2e.test_console_browser import QUICK, _context

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]

browser = recipe.browser
DAY = 86400.0
REASONS = [Reason.ASKED] * 5 + [Reason.COMPLAINT] * 2 + [Reason.NOT_UNDERSTOOD, Reason.FRUSTRATION]
INTENTS = ["order_status", "order_status", "opening_hours", "returns_policy", "delivery_time"]
TEAMS = ["orders", "billing", ""]


async def _a_week(url: str) -> None:
    """About 20 conversations a day over the last 7 days, a third of them handed off."""
    rng = random.Random(8)
    redis = Redis.from_url(url, decode_responses=True)
    keys = Keys()
    recorder = metrics.Recorder(redis, keys)
    surveys = SurveyStore(redis, keys)
    now = time.time()
    try:
        for day in range(7):
            for _ in range(rng.randint(14, 24)):
                at = now - (6 - day) * DAY - rng.uniform(600, 40000)
                cid = f"shot-{uuid.uuid4().hex[:12]}"
                channel = "messenger" if rng.random() < 0.35 else "socketio"
                user = {**ev.user("hi", rng.choice(INTENTS), ts=at, channel=channel),
                        "sender_id": cid}
                await recorder.observe(user)
                if rng.random() > 0.35:
                    continue
                await recorder.observe({"event": "pause", "timestamp": at + 5, "sender_id": cid})
                reason = rng.choice(REASONS)
                ticket = build_ticket(cid, [user], {"language": "en"}, user["parse_data"],
                                      reason, now=at + 5)
                team = rng.choice(TEAMS)
                claimed, replied = at + rng.uniform(20, 200), 0.0
                replied = claimed + rng.uniform(5, 90)
                ended = replied + rng.uniform(120, 900)
                async with redis.pipeline(transaction=True) as pipe:
                    metrics.handoff_queued(pipe, keys, ticket, team)
                    if rng.random() < 0.1:
                        metrics.handoff_moved(pipe, keys, cid, ticket.ticket_id, "queued",
                                              "closed", team, None,
                                              {"resolution": "abandoned"}, at + 400)
                        await pipe.execute()
                        continue
                    metrics.handoff_moved(pipe, keys, cid, ticket.ticket_id, "queued",
                                          "assigned", team, None, {}, claimed)
                    pipe.hset(keys.metrics_handoff(ticket.ticket_id), "first_reply_at",
                              repr(replied))
                    metrics.handoff_moved(pipe, keys, cid, ticket.ticket_id, "assigned",
                                          "closed", team, "marie", {"resolution": "resolved"},
                                          ended)
                    await pipe.execute()
                sid = await surveys.start(conversation_id=cid, channel="web", language="en",
                                          closed_by="agent", team=team, asked_at=ended)
                await surveys.answer(sid, "csat", rng.choice([3, 4, 4, 5, 5]))
                await surveys.answer(sid, "nps", rng.choice([6, 7, 8, 9, 9, 10, 10]))
        # Last month's eNPS, from five agents (this month's is answered in the page below).
        last_month = (dt.datetime.now(dt.timezone.utc).replace(day=1) - dt.timedelta(days=1))
        enps = EnpsStore(redis, keys)
        for n, score in enumerate([9, 10, 7, 6, 9]):
            await enps.answer(f"former-{n}", score, last_month.timestamp())
    finally:
        await redis.close(close_connection_pool=True)


def _seed(url: str) -> None:
    # Playwright's sync API owns this thread's event loop: the async writers run in another.
    failure = []

    def run() -> None:
        try:
            asyncio.run(_a_week(url))
        except BaseException as exc:  # reported in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and not failure, failure


def test_supervisor_dashboard_shows_figures_and_charts(stack, browser):
    _seed(stack.env()["REDIS_URL"])
    url = stack.handoff_url

    # An agent gets the eNPS question in the console, answers it, and is not asked again. An
    # account of this test's own: other tests of the session answer for Marie and Paul.
    username = f"enps_{uuid.uuid4().hex[:8]}"
    create_account(stack, username, "Nora", PASSWORD, "agent", "orders")
    agent_context = _context(browser, 1280, 800)
    marie = agent_context.new_page()
    marie.goto(url)
    marie.get_by_test_id("login-username").fill(username)
    marie.get_by_test_id("login-password").fill(PASSWORD)
    marie.get_by_test_id("login-submit").click()
    expect(marie.get_by_test_id("connection-status")).to_be_visible()
    card = marie.get_by_test_id("enps-card")
    assert marie.request.get(f"{url}/api/enps").json()["ask"] is True
    expect(card).to_be_visible(timeout=QUICK)
    expect(card).to_contain_text("recommend working in this team")
    expect(marie.get_by_test_id("dashboard-link")).to_be_hidden()  # not a supervisor
    card.locator('[data-score="9"]').click()
    expect(card).to_have_count(0, timeout=QUICK)
    marie.reload()
    expect(marie.get_by_test_id("connection-status")).to_be_visible(timeout=QUICK)
    expect(card).to_have_count(0)
    assert marie.request.get(f"{url}/api/enps").json()["ask"] is False
    assert marie.request.get(f"{url}/api/dashboard").status == 403
    agent_context.close()

    context = browser.new_context(locale="en-US", timezone_id="UTC",
                                  viewport={"width": 1440, "height": 1500})
    sam = context.new_page()
    recipe._sign_in(sam, url, "sam")
    if sam.get_by_test_id("enps-card").count():
        sam.get_by_test_id("enps-dismiss").click()  # "Not now": not asked again this month
    sam.get_by_test_id("dashboard-link").click()
    expect(sam).to_have_url(f"{url}/dashboard")
    dash = sam.get_by_test_id("dashboard")
    expect(dash).to_have_attribute("data-state", "ready", timeout=QUICK)

    api = sam.request.get(f"{url}/api/dashboard?tz=UTC").json()
    assert api["conversations"]["total"] >= 98  # at least the seeded week
    expect(sam.get_by_test_id("kpi-conversations-value")).to_have_text(
        f"{api['conversations']['total']:,}")
    containment = f"{api['conversations']['containment'] * 100:.1f}".rstrip("0").rstrip(".")
    expect(sam.get_by_test_id("kpi-containment-value")).to_have_text(f"{containment} %")
    expect(sam.get_by_test_id("kpi-csat-value")).to_contain_text(" / 5")
    for chart in ("time", "reason", "intent", "channel", "team", "satisfaction", "enps"):
        expect(sam.get_by_test_id(f"chart-{chart}")).to_have_attribute("data-drawn", "true")
    # Charts are drawn on their canvases (not blank).
    assert sam.evaluate("""() => {
        const c = document.getElementById('chart-time');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
        return false; }""")
    expect(sam.get_by_test_id("dashboard-intent").first).to_be_visible()
    expect(sam.get_by_test_id("dashboard-team").first).to_be_visible()
    today = dt.datetime.now(dt.timezone.utc).date()
    week_ago = today - dt.timedelta(days=6)
    expect(sam.get_by_test_id("dashboard-csv")).to_have_attribute(
        "href", f"/api/dashboard.csv?from={week_ago}&to={today}&tz=UTC")
    sam.screenshot(path=str(recipe.SCREENSHOTS / "dashboard.png"), full_page=True)

    # A range with nothing in it, then back: the figures follow.
    sam.get_by_test_id("dashboard-from").fill("2020-01-01")
    sam.get_by_test_id("dashboard-to").fill("2020-01-31")
    sam.get_by_test_id("dashboard-apply").click()
    expect(dash).to_have_attribute("data-range", "2020-01-01/2020-01-31", timeout=QUICK)
    expect(sam.get_by_test_id("kpi-conversations-value")).to_have_text("0")
    expect(sam.get_by_test_id("kpi-containment-value")).to_have_text("—")
    expect(sam.get_by_test_id("dashboard-csv")).to_have_attribute(
        "href", "/api/dashboard.csv?from=2020-01-01&to=2020-01-31&tz=UTC")
    sam.get_by_test_id("dashboard-from").fill(str(today))
    sam.get_by_test_id("dashboard-to").fill(str(today))
    sam.get_by_test_id("dashboard-apply").click()
    expect(dash).to_have_attribute("data-range", f"{today}/{today}", timeout=QUICK)
    one_day = sam.request.get(f"{url}/api/dashboard?from={today}&to={today}&tz=UTC").json()
    expect(sam.get_by_test_id("kpi-conversations-value")).to_have_text(
        f"{one_day['conversations']['total']:,}")
    # A wrong range is refused with the API's message, and nothing else changes.
    sam.get_by_test_id("dashboard-from").fill("2024-05-02")
    sam.get_by_test_id("dashboard-to").fill("2024-05-01")
    sam.get_by_test_id("dashboard-apply").click()
    expect(sam.get_by_test_id("dashboard-error")).to_contain_text("must come before its end",
                                                                  timeout=QUICK)
    context.close()
