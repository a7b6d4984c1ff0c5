"""Rasa's REST channel for scripted clients, off unless the operator asks for it.

Rasa's own `rest` channel takes any `sender` as the conversation id, with no authentication:
knowing a web chat or Messenger conversation's id was enough to write in it as that customer
and read the bot's answers built from their data. This one (also named `rest`):
- is off unless `enabled` (`REST_CHANNEL=1`): then `/webhooks/rest/webhook` answers 404;
- keeps its conversations apart: sender `X` writes in conversation `rest-X`, an id no other
  channel gives (web chat ids are signed hex, Messenger ids are digits), so it can never write
  in another channel's conversation; `input_channel` is always `rest`;
- checks the message as every customer door does (`handoff.customer_text`): 400 with the
  error's code and message (in the `Accept-Language` asked, else both) for an empty text, one
  over the limit or a lone surrogate; a leading `/` is a command only for a button the bot
  offered in its last answer (journaled like the other channels' messages);
- answers as Rasa's channel does (the bot's messages as a JSON list; no `stream` mode).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request

from bot.heap import freeze_once_started
from bot.limits import cap_request_size
from handoff.customer_text import (
    MAX_MESSAGE_CHARS,
    TOO_LONG,
    has_lone_surrogate,
    neutralise,
    notice,
    problem,
)
from handoff.journal import Journal
from handoff.keys import Keys
from handoff.redis_client import connect

logger = logging.getLogger(__name__)

PREFIX = "rest-"
MAX_SENDER = 128
ON = ("1", "true", "yes", "on")


def conversation_of(sender: str) -> str:
    """The conversation a REST sender writes in: never another channel's."""
    return f"{PREFIX}{sender}"


def asked_language(accept_language: Optional[str]) -> Optional[str]:
    """`fr` or `en` when the `Accept-Language` header's first choice is one of them."""
    first = (accept_language or "").split(",")[0].strip().lower()
    return first[:2] if first[:2] in ("fr", "en") else None


# The channel's own refusals; those of the text are every door's (`handoff.customer_text`).
REFUSALS: Dict[str, Dict[str, str]] = {
    "bad_json": {"en": "The body must be a JSON object.",
                 "fr": "Le corps de la requête doit être un objet JSON."},
    "bad_sender": {"en": f"`sender` must be a string of 1 to {MAX_SENDER} characters.",
                   "fr": f"`sender` doit être une chaîne de 1 à {MAX_SENDER} caractères."},
    "unavailable": {"en": "The assistant cannot answer now: try again later.",
                    "fr": "L'assistant ne peut pas répondre pour l'instant : réessayez plus "
                          "tard."},
}


def error(code: str, language: Optional[str], status: int = 400) -> Any:
    """The error shape of every door: `{"error": {"code", "message"}}`.

    The message is in the language asked (`fr`, `en`), else in both.
    """
    body: Dict[str, Any] = {"code": code}
    if code in REFUSALS:
        texts = REFUSALS[code]
        body["message"] = texts[language] if language in texts else \
            f"{texts['en']}\n{texts['fr']}"
    else:
        body["message"] = notice(code, language)
    if code == TOO_LONG:
        body["max"] = MAX_MESSAGE_CHARS
    return response.json({"error": body}, status=status)


class CustomerRestInput(InputChannel):
    """`bot.rest.CustomerRestInput` in credentials.yml: `enabled`, `redis_url`, `key_prefix`."""

    @classmethod
    def name(cls) -> Text:
        """Rasa's name for it: `/webhooks/rest/webhook`."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "CustomerRestInput":
        """`enabled` ("1", "true"...: anything else leaves it off)."""
        c = credentials or {}
        enabled = str(c.get("enabled") or "").strip().lower() in ON
        journal = None
        if enabled and c.get("redis_url"):
            journal = Journal(connect(str(c["redis_url"])),
                              Keys(str(c.get("key_prefix") or Keys.prefix)))
        return cls(enabled, journal)

    def __init__(self, enabled: bool = False, journal: Optional[Journal] = None) -> None:
        self.enabled, self.journal = enabled, journal

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """No route at all when off; else the webhook."""
        hook = Blueprint("customer_rest_webhook", __name__)
        cap_request_size(hook)
        freeze_once_started(hook)  # no half-second stalls (bot.heap)
        if not self.enabled:
            return hook

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            language = asked_language(request.headers.get("Accept-Language"))
            try:
                body = json.loads(request.body or b"")
            except (ValueError, RecursionError):
                return error("bad_json", language)
            if not isinstance(body, dict):
                return error("bad_json", language)
            sender = body.get("sender")
            if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER or \
                    has_lone_surrogate(sender):
                return error("bad_sender", language)
            text = body.get("message")
            refused = problem(text)
            if refused is not None:
                return error(refused, language)
            conversation_id = conversation_of(sender)
            text = await self._neutralised(conversation_id, text)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, conversation_id,
                                                 input_channel=self.name()))
            except Exception:  # noqa: BLE001 - e.g. Redis (lock or tracker store) is away
                logger.exception("rest.message.failure conversation=%s", conversation_id)
                return error("unavailable", language, status=503)
            await self._journal(conversation_id, text, collector)
            return response.json(collector.messages)

        return hook

    async def _neutralised(self, conversation_id: str, text: str) -> str:
        offered = []
        if self.journal is not None and text.strip().startswith("/"):
            try:
                offered = await self.journal.offered_payloads(conversation_id)
            except RedisError as exc:
                logger.warning("rest.journal.failure conversation=%s error=%s",
                               conversation_id, exc)
        return neutralise(text, offered)

    async def _journal(self, conversation_id: str, text: str,
                       collector: CollectingOutputChannel) -> None:
        """The exchange, so that the next message knows which buttons were offered."""
        if self.journal is None:
            return
        try:
            await self.journal.record(conversation_id, "customer", {"text": text})
            for message in collector.messages:
                await self.journal.record(conversation_id, "bot", {
                    k: v for k, v in message.items() if k != "recipient_id"})
        except RedisError as exc:
            logger.warning("rest.journal.failure conversation=%s error=%s", conversation_id, exc)
