"""Facebook Messenger's Send API, and the rules on when a page may write to a person.

Used by the Messenger input channel for the bot's replies (`bot/messenger.py`) and by the handoff
service for agents' messages and notices (`handoff.relay.outbound.Delivery`). The Graph API
address is configurable so that tests can run a local server in its place.

Messaging window (Messenger Platform policy):
- within 24 hours of the person's last message, any reply (`messaging_type: RESPONSE`);
- then, up to 7 days, only a human agent, with the `HUMAN_AGENT` tag; never an automated message;
- after that, nothing: the agent is told before writing that the customer can't be reached here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional

import aiohttp

logger = logging.getLogger(__name__)

STANDARD_WINDOW = 24 * 3600
HUMAN_AGENT_WINDOW = 7 * 24 * 3600
DEFAULT_GRAPH_URL = "https://graph.facebook.com/v19.0"
QUICK_REPLY_TITLE_MAX = 20
QUICK_REPLIES_MAX = 13
TEXT_MAX = 2000


def send_fields(last_inbound: Optional[float], now: float, human: bool) -> Optional[Dict[str, str]]:
    """The Send API fields that allow a message now, or None when it may not be sent.

    Args:
        last_inbound: when the person last wrote to the page (seconds), None if never.
        now: the current time (seconds); injected so that tests can move the clock.
        human: whether a person (an agent) wrote the message.
    """
    if last_inbound is None:
        return None
    age = now - last_inbound
    if age <= STANDARD_WINDOW:
        return {"messaging_type": "RESPONSE"}
    if human and age <= HUMAN_AGENT_WINDOW:
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return None


class GraphError(Exception):
    """The Send API refused a call or kept failing."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SendApi:
    """A page's Send API client, retrying 429 and 5xx answers with exponential backoff.

    Its HTTP session is made on first use, inside the running event loop; `close()` ends it.
    """

    page_token: str
    graph_url: str = DEFAULT_GRAPH_URL
    attempts: int = 5
    backoff: float = 0.5
    timeout: float = 10.0
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    _session: Optional[aiohttp.ClientSession] = None

    @property
    def configured(self) -> bool:
        """Whether a page token was given (Messenger is optional)."""
        return bool(self.page_token)

    async def close(self) -> None:
        """Closes the HTTP session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_message(self, psid: str, message: Dict[str, Any],
                           fields: Dict[str, str]) -> str:
        """Sends one message; returns Facebook's message id."""
        body = {"recipient": {"id": psid}, "message": message, **fields}
        answer = await self._post(body, self.attempts)
        return str(answer.get("message_id", ""))

    async def sender_action(self, psid: str, action: str) -> None:
        """`mark_seen`, `typing_on` or `typing_off`: one quick try, they only decorate."""
        try:
            await self._post({"recipient": {"id": psid}, "sender_action": action}, 1)
        except GraphError as exc:
            logger.info("messenger.sender_action.failure psid=%s action=%s error=%s",
                        psid, action, exc)

    async def _post(self, body: Dict[str, Any], attempts: int) -> Dict[str, Any]:
        url = f"{self.graph_url.rstrip('/')}/me/messages"
        last: Optional[GraphError] = None
        for attempt in range(attempts):
            if attempt:
                await self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                async with self._http().post(url, params={"access_token": self.page_token},
                                             json=body) as resp:
                    answer = await resp.json(content_type=None)
                    if resp.status < 300:
                        return answer if isinstance(answer, dict) else {}
                    last = GraphError(_describe(answer, resp.status), resp.status)
                    if resp.status != 429 and resp.status < 500:
                        raise last  # a refusal (bad token, blocked user…): retrying won't help
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                last = GraphError(f"Graph API unreachable: {exc!r}")
            logger.warning("messenger.send.retry attempt=%d error=%s", attempt + 1, last)
        assert last is not None
        raise last


    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session


def _describe(answer: Any, status: int) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"HTTP {status}: {error['message']}"
    return f"HTTP {status}"


def quick_replies(buttons: Any) -> list:
    """Rasa buttons as Messenger quick replies (at most 13, titles cut to 20 characters)."""
    found = []
    for button in (buttons or [])[:QUICK_REPLIES_MAX]:
        title = str(button.get("title", ""))[:QUICK_REPLY_TITLE_MAX]
        payload = str(button.get("payload", title))
        if title:
            found.append({"content_type": "text", "title": title, "payload": payload})
    return found
