"""Host allowlist (DNS rebinding), CSP and framing, and no caching of API answers."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import List

import aiohttp
import pytest

from handoff.accounts import AccountStore
from handoff.service.app import STATIC
from tests.conftest import PASSWORD
from tests.integration.service import agents, running_service, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PUBLIC = "http://support.example.com"  # https would make the cookies Secure, unsent here
SHOP = "https://shop.example"


@pytest.fixture
async def server(redis_server, redis, keys):
    await AccountStore(redis, keys).create("marie", "Marie", PASSWORD)
    settings = settings_for(redis_server, public_url=PUBLIC, chat_origins=(SHOP,),
                            chat_rasa_url="https://chat.example.com")
    async with running_service(settings) as running:
        yield running


@pytest.mark.parametrize("path", ["/api/me", "/", "/dashboard", "/chat", "/static/i18n.js"])
async def test_a_foreign_host_is_refused(server, path):
    async with agents(server, 1) as (browser,):
        for host in ("rebind.attacker.example", f"rebind.attacker.example:{server.port}",
                     "127.0.0.1.attacker.example", "support.example.com.evil.example", ""):
            status, body, _ = await browser.request("GET", path, headers={"Host": host})
            assert status == 421, host
            assert body["error"]["code"] == "bad_host"


async def test_sign_in_and_the_websocket_refuse_a_foreign_host(server):
    async with agents(server, 1) as (browser,):
        status, body, _ = await browser.request(
            "POST", "/api/login", {"username": "marie", "password": PASSWORD},
            headers={"Host": "rebind.attacker.example"})
        assert (status, body["error"]["code"]) == (421, "bad_host")
        assert (await browser.login("marie", PASSWORD))[0] == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await browser.http.ws_connect(server.make_url("/api/ws"),
                                          headers={"Host": "rebind.attacker.example"})
        assert refused.value.status == 421
        ws = await browser.http.ws_connect(server.make_url("/api/ws"))  # its own host: fine
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        await ws.close()


@pytest.mark.parametrize("host", ["support.example.com", "SUPPORT.example.com.", "127.0.0.1",
                                  "localhost", "[::1]"])
async def test_the_public_host_and_loopback_are_answered(server, host):
    async with agents(server, 1) as (browser,):
        status, _, _ = await browser.request("GET", "/api/flows", headers={"Host": host})
        assert status == 401


@pytest.mark.parametrize("path", ["/", "/dashboard", "/static/console/index.html",
                                  "/static/console/core.js", "/api/me", "/widget.js"])
async def test_pages_cannot_be_framed_and_run_only_the_services_scripts(server, path):
    async with agents(server, 1) as (browser,):
        _, _, headers = await browser.request("GET", path)
        policy = _directives(headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert headers["X-Frame-Options"] == "DENY"


async def test_the_chat_page_may_be_framed_by_the_configured_sites_only(server):
    async with agents(server, 1) as (browser,):
        status, _, headers = await browser.request("GET", "/chat")
        assert status == 200
        policy = _directives(headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == ["'self'", SHOP]
        assert policy["script-src"] == ["'self'"]
        assert {"https://chat.example.com", "wss://chat.example.com"} <= set(
            policy["connect-src"])
        assert "X-Frame-Options" not in headers  # it cannot name several sites; CSP does


async def test_api_answers_are_never_cached(server):
    async with agents(server, 1) as (browser,):
        _, _, headers = await browser.request("GET", "/api/me")  # an error
        assert headers["Cache-Control"] == "no-store"
        assert (await browser.login("marie", PASSWORD))[0] == 200
        status, _, headers = await browser.request("GET", "/api/me")
        assert (status, headers["Cache-Control"]) == (200, "no-store")
        status, _, headers = await browser.request("GET", "/api/queue")
        assert (status, headers["Cache-Control"]) == (200, "no-store")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: List[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "style" or "style" in names:
            self.problems.append(f"inline style on <{tag}>")
        if any(name.startswith("on") for name in names):
            self.problems.append(f"inline handler on <{tag}>")
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if any(value and value.strip().lower().startswith("javascript:")
               for _, value in attrs):
            self.problems.append(f"javascript: URL on <{tag}>")


@pytest.mark.parametrize("page", sorted(STATIC.rglob("*.html")), ids=lambda p: p.name)
def test_the_pages_need_nothing_the_policy_refuses(page: Path):
    parser = _Page()
    parser.feed(page.read_text())
    assert parser.problems == []


def _directives(header: str):
    found = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found
