"""A small client for the Rasa HTTP API (started with `--enable-api --auth-token`)."""

from __future__ import annotations

import asyncio
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
                             channel: str = "latest",
                             entities: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Runs the bot as if the customer had expressed `intent`; replies go to `channel`."""
        params = {"output_channel": channel, "include_events": "NONE"}
        body: Dict[str, Any] = {"name": intent}
        if entities:
            body["entities"] = entities
        return await self._call("POST", conversation_id, "trigger_intent", params, body)

    async def execute(self, conversation_id: str, action: str,
                      channel: str = "latest") -> Dict[str, Any]:
        """Runs one action in the conversation (paused or not); its messages go to `channel`."""
        params = {"output_channel": channel, "include_events": "NONE"}
        return await self._call("POST", conversation_id, "execute", params, {"name": action})

    async def write_turns(self, conversations: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Appends turns of the human segment to trackers, each once (by its message id).

        Through `bot/tracker_writes.py`: `conversations` is a list of `{"conversation_id",
        "events", "parse"}` (`parse`: message id → NLU result to keep with that customer turn).
        """
        if not conversations:
            return {}
        label = conversations[0]["conversation_id"]
        return await self._request("POST", label, f"{self._base}/webhooks/tracker_writes/append",
                                   {}, {"conversations": conversations})

    async def parse(self, text: str, message_id: Optional[str] = None) -> Dict[str, Any]:
        """What the NLU makes of a text (`/model/parse`), without touching any tracker."""
        body: Dict[str, Any] = {"text": text}
        if message_id:
            body["message_id"] = message_id
        return await self._request("POST", message_id or "", f"{self._base}/model/parse", {},
                                   body)

    async def _call(self, method: str, conversation_id: str, path: str,
                    params: Dict[str, str], body: Any = None) -> Dict[str, Any]:
        url = f"{self._base}/conversations/{_quote(conversation_id)}/{path}"
        return await self._request(method, conversation_id, url, params, body)

    async def _request(self, method: str, conversation_id: str, url: str,
                       params: Dict[str, str], body: Any = None) -> Dict[str, Any]:
        params = {**params, "token": self._token}
        try:
            async with self._session.request(method, url, params=params, json=body) as resp:
                if resp.status >= 400:
                    detail = (await resp.text())[:300]
                    raise RasaUnavailable(conversation_id, f"{resp.status} {detail}", resp.status)
                return await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # not TimeoutError on 3.10
            raise RasaUnavailable(conversation_id, repr(exc)) from exc


def _quote(conversation_id: str) -> str:
    return quote(conversation_id, safe="")


def resume_events(language: Optional[str] = None) -> List[Dict[str, Any]]:
    """Events that give a paused conversation back to the bot.

    `language`: the customer's language now (the conversation record's, followed while a person
    answered without NLU), put in the bot's `language` slot so that the bot goes on in it.
    `action_listen` makes the tracker look as if the bot had just finished a turn, so the
    policies predict the customer's next message as usual (a paused tracker ends without it).
    """
    slots = [{"event": "slot", "name": "handoff_agent", "value": None}]
    if language:
        slots.append({"event": "slot", "name": "language", "value": language})
    return [{"event": "resume"}, *slots, {"event": "action", "name": "action_listen"}]
