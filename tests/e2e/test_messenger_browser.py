"""The console with a Messenger customer: the agent is told before typing when Messenger's
windows limit what they can send (issue 5)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
import uuid

import pytest
import redis
from playwright.sync_api import expect

from handoff.keys import Keys
from tests.e2e import test_browser as recipe
from tests.e2e.conftest import MESSENGER, MessengerCustomer, page_payload
from tests.e2e.test_console_browser import LIVE, QUICK, _claim, _context, _my_item

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

browser = recipe.browser


def _write(customer: MessengerCustomer, text: str) -> None:
    body = json.dumps(page_payload(customer.event(text))).encode()
    signature = hmac.new(MESSENGER["MESSENGER_APP_SECRET"].encode(), body,
                         hashlib.sha256).hexdigest()
    request = urllib.request.Request(customer.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200


def test_the_console_warns_before_the_agent_types(stack, graph, browser):
    customer = MessengerCustomer(stack, str(uuid.uuid4().int)[:16])
    psid = customer.psid
    console = _context(browser, 1440, 900)
    marie = console.new_page()
    recipe._sign_in(marie, stack.handoff_url, "marie")
    _write(customer, "I want to talk to a human please")
    _claim(marie, psid, timeout=LIVE)
    expect(_my_item(marie, psid)).to_be_visible(timeout=QUICK)
    banner = marie.get_by_test_id("conversation-banner")
    expect(banner).to_have_attribute("data-reach", "open", timeout=QUICK)

    store = redis.Redis.from_url(stack.env()["REDIS_URL"], decode_responses=True)
    try:
        store.set(Keys().messenger_last_inbound(psid), str(time.time() - 25 * 3600))
        marie.reload()
        _my_item(marie, psid).click(timeout=LIVE)
        expect(banner).to_have_attribute("data-reach", "tagged", timeout=QUICK)
        expect(banner).to_contain_text("human-agent tag")

        store.set(Keys().messenger_last_inbound(psid), str(time.time() - 8 * 24 * 3600))
        marie.reload()
        _my_item(marie, psid).click(timeout=LIVE)
        expect(banner).to_have_attribute("data-reach", "closed", timeout=QUICK)
        expect(banner).to_contain_text("can no longer be reached on Messenger")
        marie.get_by_test_id("reply-input").fill("Are you still there?")
        marie.get_by_test_id("reply-input").press("Enter")
        expect(marie.get_by_test_id("notice").filter(has_text="can no longer be reached")
               ).to_be_visible(timeout=QUICK)
        assert "Are you still there?" not in [
            (m["message"].get("text")) for m in graph.messages(psid)]
        marie.get_by_test_id("close-button").click()
        marie.get_by_test_id("close-confirm").click()
        expect(_my_item(marie, psid)).to_have_count(0, timeout=QUICK)
    finally:
        store.close()
        console.close()
