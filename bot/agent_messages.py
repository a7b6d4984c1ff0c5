"""Agent messages into the Rasa tracker, once each, however often the delivery worker retries.

Rasa's `POST /conversations/{id}/tracker/events` appends whatever it is given. When a call times
out on the delivery worker's side it may still be waiting for the conversation's lock in Rasa:
a retry that first looks in the tracker would not find the message yet, and append it a second
time. This route makes the look and the append one step, under the conversation's lock: a
retry queued behind the first attempt finds the message there and does nothing.

`POST /webhooks/agent_messages/deliver?token=<Rasa auth token>&output_channel=<name|latest>`
with `{"conversation_id", "message_id", "events": [...], "send": bool}`; answers
`{"delivered": "now" | "before"}`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import rasa.server
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, Event
from sanic import Blueprint, response
from sanic.request import Request

logger = logging.getLogger(__name__)


class AgentMessagesInput(InputChannel):
    """Not a customer channel: the handoff service's door for agent messages."""

    @classmethod
    def name(cls) -> Text:
        """The door's name, and its URL prefix (`/webhooks/agent_messages`)."""
        return "agent_messages"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "AgentMessagesInput":
        """`token`: the Rasa server's auth token (only the handoff service knows it)."""
        return cls(str((credentials or {}).get("token") or ""))

    def __init__(self, token: str) -> None:
        self.token = token

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The `deliver` route."""
        hook = Blueprint("agent_messages_webhook", __name__)

        @hook.route("/deliver", methods=["POST"])
        async def deliver(request: Request) -> Any:
            given = request.args.get("token") or ""
            if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
                return response.json({"error": "unauthorized"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            cid, message_id = body.get("conversation_id"), body.get("message_id")
            raw_events = body.get("events")
            if not isinstance(cid, str) or not cid or not isinstance(message_id, str) \
                    or not message_id or not isinstance(raw_events, list):
                return response.json({"error": "bad_request"}, status=400)
            events = [e for e in (Event.from_parameters(r) for r in raw_events
                                  if isinstance(r, dict)) if e]
            if not events:
                return response.json({"error": "bad_request"}, status=400)
            # Shielded: the handoff service dying mid-call closes the connection, and Sanic then
            # cancels the handler; cut between sending and saving, the retry would send again.
            delivered = await asyncio.shield(
                _append_once(request, cid, message_id, events, bool(body.get("send"))))
            return response.json({"delivered": delivered})

        return hook


async def _append_once(request: Request, cid: str, message_id: str, events: List[Event],
                       send: bool) -> str:
    """Appends (and sends) the events unless the message is in the tracker: "now" or "before"."""
    agent = request.app.ctx.agent
    async with agent.lock_store.lock(cid):
        tracker = await agent.processor.fetch_tracker_with_initial_session(cid)
        if any(isinstance(e, BotUttered) and (e.metadata or {}).get("message_id") == message_id
               for e in tracker.events):
            return "before"
        for event in events:
            tracker.update(event, agent.domain)
        if send:
            output = rasa.server._get_output_channel(request, tracker)
            await agent.processor.execute_side_effects(events, tracker, output)
        await agent.tracker_store.save(tracker)
    return "now"
