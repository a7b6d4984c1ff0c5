"""The web chat channel: Rasa's socket.io protocol, with agent messages marked as such.

`session_request` / `session_confirm` / `user_uttered` / `bot_uttered` as in Rasa's own
`socketio` channel (whose name it keeps, so Rasa's widgets work with it). Differences:
- `bot_uttered` carries `agent` (the agent's name) and `id` when a person wrote the message;
- an attachment sent by the customer (`attachment` in the payload) is kept in the metadata, so a
  message without text is still recorded and relayed;
- session persistence is always on: the conversation id is the session id.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncServer

from bot.customer_events import CustomerEvents
from handoff.keys import Keys

logger = logging.getLogger(__name__)


class WebChatOutput(SocketIOOutput):
    """Socket.io output that tells the widget which agent, if any, wrote a message."""

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Sends text, with the agent's name and the message id when a person wrote it."""
        extra: Dict[str, Any] = {}
        if kwargs.get("handoff_agent"):
            extra = {"agent": kwargs.get("agent"), "id": kwargs.get("message_id")}
        elif kwargs.get("handoff_notice"):
            extra = {"notice": kwargs["handoff_notice"]}
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part, **extra})


class WebChatInput(SocketIOInput):
    """Socket.io input channel for the project's chat page and widget."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        """Rasa's `socketio` options, plus `redis_url` and `key_prefix` for typing events."""
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WebChatInput)
        redis_url = credentials.get("redis_url")
        if redis_url:
            keys = Keys(credentials.get("key_prefix") or Keys.prefix)
            channel.customer_events = CustomerEvents(redis_url, keys)
        return channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same options as Rasa's `socketio` channel; `session_persistence` is forced on."""
        super().__init__(*args, **kwargs)
        self.session_persistence = True
        self.customer_events: Optional[CustomerEvents] = None

    def get_output_channel(self) -> Optional[WebChatOutput]:
        """The output for messages sent from outside a customer turn (agents, hand-back)."""
        if self.sio is None:
            return None
        return WebChatOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The socket.io server mounted in Rasa's Sanic app."""
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins="*")
        self.sio = sio
        webhook = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            if self.customer_events is not None:
                self.customer_events.start(sio, self.namespace)
            session_id = (data or {}).get("session_id") or uuid.uuid4().hex
            sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Dict) -> None:
            message = self._user_message(sid, data, WebChatOutput(sio, self.bot_message_evt))
            if message is not None:
                await on_new_message(message)

        @sio.on("user_typing", namespace=self.namespace)
        async def user_typing(sid: Text, data: Any) -> None:
            if self.customer_events is None or not isinstance(data, dict):
                return
            session_id = data.get("session_id")
            if isinstance(session_id, str) and session_id in sio.rooms(sid, self.namespace):
                await self.customer_events.customer_typing(session_id, bool(data.get("typing")))

        return webhook

    def _user_message(self, sid: Text, data: Any, output: WebChatOutput) -> Optional[UserMessage]:
        if not isinstance(data, dict) or not data.get("session_id"):
            logger.warning("webchat.message.rejected sid=%s reason=no_session_id", sid)
            return None
        metadata = data.get(self.metadata_key) or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except json.JSONDecodeError:
                metadata = {}
        if not isinstance(metadata, dict):
            metadata = {}
        if isinstance(data.get("attachment"), dict):
            metadata["attachment"] = data["attachment"]
        text = data.get("message") or ""
        if not isinstance(text, str):
            return None
        return UserMessage(text, output, str(data["session_id"]), input_channel=self.name(),
                           metadata=metadata)
