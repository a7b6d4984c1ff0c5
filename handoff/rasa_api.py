"""A small client for the Rasa HTTP API (started with `--enable-api --auth-token`)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """The Rasa server did not answer, or answered with an error."""

    def __init__(self, conversation_id: str, detail: str, status: Optional[int] = None) -> None:
        super().__init__(f"conversation {conversation_id}: {detail}")
        self.conversation_id = conversation_id
        self.status = status


class RasaClient:
    """Appends events to, reads and triggers intents in Rasa conversations."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._token = token

    async def tracker(self, conversation_id: str) -> Dict[str, Any]:
        """The full tracker (all events) of a conversation."""
        return await self._call("GET", conversation_id, "tracker", {"include_events": "ALL"})

    async def append_events(
        self, conversation_id: str, events: List[Dict[str, Any]], send: bool = False,
        channel: str = "latest",
    ) -> Dict[str, Any]:
        """Appends events; with `send`, bot events also go out on `channel`.

        `channel` is an input channel's name, or `latest`: the one the customer last wrote from.
        """
        params = {"include_events": "NONE"}
        if send:
            params.update({"output_channel": channel, "execute_side_effects": "true"})
        return await self._call("POST", conversation_id, "tracker/events", params, events)

    async def trigger_intent(self, conversation_id: str, intent: str,
                             channel: str = "latest") -> Dict[str, Any]:
        """Runs the bot as if the customer had expressed `intent`; replies go to `channel`."""
        params = {"output_channel": channel, "include_events": "NONE"}
        return await self._call("POST", conversation_id, "trigger_intent", params,
                                {"name": intent})

    async def _call(self, method: str, conversation_id: str, path: str,
                    params: Dict[str, str], body: Any = None) -> Dict[str, Any]:
        url = f"{self._base}/conversations/{_quote(conversation_id)}/{path}"
        params = {**params, "token": self._token}
        try:
            async with self._session.request(method, url, params=params, json=body) as resp:
                if resp.status >= 400:
                    detail = (await resp.text())[:300]
                    raise RasaUnavailable(conversation_id, f"{resp.status} {detail}", resp.status)
                return await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(conversation_id, repr(exc)) from exc


def _quote(conversation_id: str) -> str:
    return quote(conversation_id, safe="")


def resume_events() -> List[Dict[str, Any]]:
    """Events that give a paused conversation back to the bot.

    `action_listen` makes the tracker look as if the bot had just finished a turn, so the
    policies predict the customer's next message as usual (a paused tracker ends without it).
    """
    return [{"event": "resume"}, {"event": "slot", "name": "handoff_agent", "value": None},
            {"event": "action", "name": "action_listen"}]
