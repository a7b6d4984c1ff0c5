"""A local stand-in for Facebook's Graph API (Send API only), for tests.

Runs an aiohttp server in a thread of its own, so that it serves every test whatever event loop
the test uses. Records every call; can be told to answer the next calls with errors.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

from aiohttp import web

VERSION = "v19.0"


class FakeGraph:
    """Records Send API calls; `fail_next(503, 429)` makes the next two calls fail."""

    def __init__(self, page_token: str) -> None:
        self.page_token = page_token
        self.url = ""
        self._calls: List[Dict[str, Any]] = []
        self._failures: Deque[int] = deque()
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()

    def start(self) -> "FakeGraph":
        """Starts serving on a free loopback port; `url` is the Graph API base (with version)."""
        self._thread = threading.Thread(target=self._serve, name="fake-graph", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Graph API did not start")
        return self

    def stop(self) -> None:
        """Stops the server and its thread."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def fail_next(self, *statuses: int) -> None:
        """The next calls get these HTTP statuses, in order."""
        with self._lock:
            self._failures.extend(statuses)

    def calls(self, psid: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every call so far (to `psid` only, if given): {"body", "status", "at"}."""
        with self._lock:
            found = list(self._calls)
        if psid is None:
            return found
        return [c for c in found if (c["body"].get("recipient") or {}).get("id") == psid]

    def messages(self, psid: str) -> List[Dict[str, Any]]:
        """Bodies of the messages (not sender actions) Facebook accepted for `psid`."""
        return [c["body"] for c in self.calls(psid) if c["status"] == 200 and
                "message" in c["body"]]

    async def wait_for(self, match: Callable[[List[Dict[str, Any]]], bool],
                       timeout: float = 30) -> List[Dict[str, Any]]:
        """Polls until `match(calls)` holds; the calls, or an AssertionError with what was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls()
            if match(calls):
                return calls
            await asyncio.sleep(0.1)
        raise AssertionError(f"the Graph API did not get what was expected; calls: "
                             f"{self.calls()[-10:]}")

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post(f"/{VERSION}/me/messages", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/{VERSION}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            status = self._failures.popleft() if self._failures else 200
            if request.query.get("access_token") != self.page_token:
                status = 400
            self._calls.append({"body": body, "status": status, "at": time.time()})
            number = len(self._calls)
        if status == 400:
            return web.json_response({"error": {"message": "Invalid OAuth access token.",
                                                "type": "OAuthException", "code": 190}},
                                     status=400)
        if status != 200:
            return web.json_response({"error": {"message": f"fake failure {status}",
                                                "code": 2 if status >= 500 else 4}},
                                     status=status)
        answer: Dict[str, Any] = {"recipient_id": body.get("recipient", {}).get("id")}
        if "message" in body:
            answer["message_id"] = f"m_fake_{number}"
        return web.json_response(answer)
