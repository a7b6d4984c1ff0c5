"""The Facebook Messenger channel: the page's webhook in, the Send API out.

Facebook's rules, and what this channel does about each:
- verification: `GET …/webhook` echoes `hub.challenge` only with the right verify token;
- every `POST` is signed (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the app
  secret): a missing or wrong signature gets 403 and changes nothing; compared in constant time;
- events come in batches (`entry[].messaging[]`) and are redelivered when an answer is late or
  lost: each is taken once (its `mid` is remembered in Redis for a day), the page's own echoes are
  dropped, and the 200 goes back at once: the work runs after it, in order per person;
- text, quick replies and postbacks become Rasa messages (a payload such as `/affirm` as the
  text); attachments are kept in the metadata so that an agent sees them.

While a person owns the conversation, a message goes straight to them (`handoff.relay.inbound`),
never through Rasa. Replies go out through `handoff.messenger_api`: the bot only inside the
24-hour window and never with a tag; agents' messages are sent by the handoff service
(`handoff.relay.outbound`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request

from bot.heap import freeze_once_started
from bot.limits import cap_request_size
from handoff.channels import messenger_address
from handoff.conversation import ConversationStore
from handoff.customer_text import (
    MAX_MESSAGE_CHARS,
    holds_lone_surrogate,
    is_command,
    neutralise,
    notice,
    problem,
)
from handoff.journal import Journal
from handoff.keys import Keys, makes_a_hash_tag
from handoff.language import detect
from handoff.messenger_api import (
    DEFAULT_GRAPH_URL,
    TEXT_MAX,
    GraphError,
    SendApi,
    quick_replies,
    send_fields,
)
from handoff.profiles import MESSENGER, ProfileStore, identity, normalise_code
from handoff.ratelimit import MESSENGER_EVENTS, RateLimiter
from handoff.redis_client import connect
from handoff.relay.inbound import Inbound
from handoff.survey import SurveyResponder, SurveyStore

logger = logging.getLogger(__name__)

SEEN_FOR = 24 * 3600  # Facebook redelivers for hours at most: a day of remembered ids is enough
Handler = Callable[[UserMessage], Awaitable[Any]]


def valid_signature(app_secret: str, body: bytes, header: Optional[str]) -> bool:
    """Whether `X-Hub-Signature-256` is the HMAC-SHA256 of the body (constant-time compare)."""
    if not app_secret or not header:
        return False
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


_TYPES = {"message": dict, "postback": dict, "referral": dict, "sender": dict,
          "recipient": dict}
_MESSAGE_TYPES = {"mid": str, "text": str, "quick_reply": dict, "attachments": list,
                  "is_echo": bool}
_POSTBACK_TYPES = {"mid": str, "title": str, "payload": str, "referral": dict}


def malformed(payload: Any) -> Optional[str]:
    r"""What is wrong with a signed webhook body, in Facebook's format; None when nothing is.

    Only the parts this channel reads are checked (other kinds of events pass as they are),
    but those must have the documented types: a body that does not is refused whole (400),
    rather than half taken. A lone surrogate (`"\\ud800"`) anywhere is not text.
    """
    if holds_lone_surrogate(payload):
        return "a string holds a lone surrogate"
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return "not a page event"
    entries = payload.get("entry", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return "entry is not a list of objects"
    for entry in entries:
        events = entry.get("messaging", [])
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return "messaging is not a list of objects"
        for event in events:
            wrong = _wrong_event(event)
            if wrong:
                return wrong
    return None


def _wrong_event(event: Dict[str, Any]) -> Optional[str]:
    if not isinstance(event.get("sender"), dict) or \
            not isinstance(event["sender"].get("id"), (str, int)) or \
            isinstance(event["sender"].get("id"), bool):
        return "an event has no sender id"
    if not makes_a_hash_tag(str(event["sender"]["id"])):
        return "a sender id cannot name a conversation"
    timestamp = event.get("timestamp", 0)
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        return "timestamp is not a number"
    for types, part in ((_TYPES, event), (_MESSAGE_TYPES, event.get("message")),
                        (_POSTBACK_TYPES, event.get("postback"))):
        if not isinstance(part, dict):
            continue
        for name, kind in types.items():
            if part.get(name) is not None and not isinstance(part[name], kind):
                return f"{name} is not a {kind.__name__}"
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    quick = message.get("quick_reply") or {}
    if quick.get("payload") is not None and not isinstance(quick["payload"], str):
        return "a quick reply's payload is not a string"
    if not all(isinstance(a, dict) and isinstance(a.get("payload") or {}, dict)
               for a in message.get("attachments") or []):
        return "attachments are not objects"
    return None


def messaging_events(payload: Any) -> Iterator[Dict[str, Any]]:
    """Every messaging event of a webhook payload, in order, across its `entry` batch."""
    if not isinstance(payload, dict):
        return
    for entry in payload.get("entry") or []:
        if isinstance(entry, dict):
            for event in entry.get("messaging") or []:
                if isinstance(event, dict) and isinstance(event.get("sender"), dict):
                    yield event


def event_id(event: Dict[str, Any]) -> str:
    """The id that makes a redelivered event recognisable: its `mid`, else sender and time."""
    for part in ("message", "postback"):
        mid = (event.get(part) or {}).get("mid")
        if mid:
            return str(mid)
    return f"{event['sender'].get('id')}:{event.get('timestamp')}:{part_of(event)}"


def part_of(event: Dict[str, Any]) -> str:
    """`message`, `postback`, `referral`, or another kind this channel does not handle."""
    if isinstance(event.get("message"), dict):
        return "message"
    if isinstance(event.get("postback"), dict):
        return "postback"
    if isinstance(event.get("referral"), dict):
        return "referral"  # an m.me link opened in an existing thread
    return "other"


def to_text_and_metadata(event: Dict[str, Any]) -> Optional[tuple]:
    """(text, metadata) of a message or postback; None for what carries nothing to answer."""
    metadata: Dict[str, Any] = {"messenger": {"timestamp": event.get("timestamp")}}
    if part_of(event) == "postback":
        postback = event["postback"]
        metadata["messenger"]["postback_title"] = postback.get("title")
        return str(postback.get("payload") or postback.get("title") or ""), metadata
    if part_of(event) != "message":
        return None
    message = event["message"]
    quick = message.get("quick_reply")
    if isinstance(quick, dict) and quick.get("payload"):
        metadata["messenger"]["quick_reply_title"] = message.get("text")
        return str(quick["payload"]), metadata
    attachments = [a for a in message.get("attachments") or [] if isinstance(a, dict)]
    if attachments:
        first = attachments[0]
        metadata["attachment"] = {"type": first.get("type"),
                                  "url": (first.get("payload") or {}).get("url")}
    text = message.get("text")
    if not text and not attachments:
        return None
    return str(text or ""), metadata


def typed(event: Dict[str, Any]) -> bool:
    """Whether the text was typed by the person (not a quick reply or a postback).

    Facebook delivers only payloads the page itself sent (quick replies, buttons, its menu):
    those are the page's, and taken as payloads. What a person types is taken as words.
    """
    if part_of(event) != "message":
        return False
    quick = event["message"].get("quick_reply")
    return not (isinstance(quick, dict) and quick.get("payload"))


def journal_payload(message: Dict[str, Any]) -> Dict[str, Any]:
    """A Messenger message as the web chat shows it (for a conversation that moves there)."""
    payload: Dict[str, Any] = {"text": message.get("text", "")}
    if message.get("quick_replies"):
        payload["buttons"] = [{"title": q.get("title"), "payload": q.get("payload")}
                              for q in message["quick_replies"]]
    return payload


# What the page itself tells a person (the bot's own answers are in domain.yml).
NOTICES = {
    "continued_here": {
        "en": "You're connected: we continue here, with everything you already told us.",
        "fr": "C'est fait : nous continuons ici, avec tout ce que vous nous avez déjà dit.",
    },
    "link_expired": {
        "en": "This link has expired or was already used. Ask us for a new one.",
        "fr": "Ce lien a expiré ou a déjà servi. Demandez-nous-en un nouveau.",
    },
    "too_fast": {
        "en": "You are sending messages faster than we can read them: the last ones were not "
              "read. Please wait {seconds} seconds, then send them again.",
        "fr": "Vous envoyez des messages plus vite que nous ne pouvons les lire : les derniers "
              "n'ont pas été lus. Attendez {seconds} secondes, puis renvoyez-les.",
    },
}


def link_code_of(event: Dict[str, Any], text: str) -> Optional[str]:
    """A link code brought by an m.me link (`ref`) or typed by the customer, if any."""
    referral = event.get("referral") or (event.get("postback") or {}).get("referral") or {}
    ref = referral.get("ref") if isinstance(referral, dict) else None
    if isinstance(ref, str) and normalise_code(ref):
        return normalise_code(ref)
    return normalise_code(text) if text and text.strip().upper().startswith("HF") else None


class MessengerOutput(OutputChannel):
    """The bot's messages to a person on Messenger (only within the 24-hour window)."""

    @classmethod
    def name(cls) -> Text:
        """The channel's name in trackers and tickets."""
        return "messenger"

    def __init__(self, api: SendApi, redis: Redis, keys: Keys,
                 clock: Callable[[], float] = time.time) -> None:
        """Sends with `api`; reads the person's address and last message time from Redis."""
        self._api, self._redis, self._keys, self._clock = api, redis, keys, clock
        self._journal = Journal(redis, keys)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Sends text, cut at Messenger's 2,000 characters."""
        for start in range(0, len(text), TEXT_MAX):
            await self._send(recipient_id, {"text": text[start:start + TEXT_MAX]})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        """Buttons become quick replies."""
        await self._send(recipient_id, {"text": text[:TEXT_MAX],
                                        "quick_replies": quick_replies(buttons)})

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        """Quick replies as Messenger's own."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        """An image attachment by URL."""
        await self._send(recipient_id, {"attachment": {
            "type": "image", "payload": {"url": image, "is_reusable": True}}})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        """A Messenger `message` object written in the domain (`custom:`)."""
        await self._send(recipient_id, json_message)

    async def _send(self, conversation_id: str, message: Dict[str, Any]) -> None:
        psid = await messenger_address(self._redis, self._keys, conversation_id)
        last = await self._redis.get(self._keys.messenger_last_inbound(psid))
        fields = send_fields(float(last) if last else None, self._clock(), human=False)
        if fields is None:
            # Automated messages may not use a tag: outside the window the bot stays silent.
            logger.warning("messenger.bot.window_closed psid=%s", psid)
            return
        try:
            await self._api.send_message(psid, message, fields)
        except GraphError as exc:
            logger.error("messenger.bot.send.failure psid=%s error=%s", psid, exc)
            return
        await self._journal.record(conversation_id, "bot", journal_payload(message))


class MessengerInput(InputChannel):
    """The project's Messenger input channel (`bot.messenger.MessengerInput` in credentials)."""

    @classmethod
    def name(cls) -> Text:
        """Webhook at `/webhooks/messenger/webhook`."""
        return "messenger"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MessengerInput":
        """verify_token, app_secret, page_access_token, graph_url, redis_url, key_prefix."""
        c = credentials or {}
        return cls(verify_token=str(c.get("verify_token") or ""),
                   app_secret=str(c.get("app_secret") or ""),
                   page_token=str(c.get("page_access_token") or ""),
                   graph_url=str(c.get("graph_url") or DEFAULT_GRAPH_URL),
                   redis_url=str(c.get("redis_url") or "redis://127.0.0.1:6379/0"),
                   key_prefix=str(c.get("key_prefix") or Keys.prefix),
                   retry_backoff=float(c.get("retry_backoff") or 0.5))

    def __init__(self, verify_token: str, app_secret: str, page_token: str, graph_url: str,
                 redis_url: str, key_prefix: str = Keys.prefix,
                 retry_backoff: float = 0.5) -> None:
        """An unconfigured channel (no app secret) answers 503 to webhook calls."""
        self.verify_token, self.app_secret = verify_token, app_secret
        self.api = SendApi(page_token, graph_url, backoff=retry_backoff)
        self.redis = connect(redis_url)
        self.keys = Keys(key_prefix)
        self.profiles = ProfileStore(self.redis, self.keys)
        self.journal = Journal(self.redis, self.keys)
        self.surveys = SurveyResponder(SurveyStore(self.redis, self.keys))
        self.inbound = Inbound(self.redis, self.keys)
        self._tails: Dict[str, asyncio.Task] = {}

    def get_output_channel(self) -> OutputChannel:
        """For messages sent outside a customer turn (notices, hand-back flows)."""
        return MessengerOutput(self.api, self.redis, self.keys)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """The webhook routes."""
        hook = Blueprint("messenger_webhook", __name__)
        cap_request_size(hook)  # the Rasa server's bodies (bot.limits)
        freeze_once_started(hook)  # no half-second stalls (bot.heap)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok", "configured": bool(self.app_secret)})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> Any:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and self.verify_token and \
                    hmac.compare_digest(token.encode(), self.verify_token.encode()):
                return response.text(request.args.get("hub.challenge") or "")
            return response.text("Verification failed", status=403)

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> Any:
            if not self.app_secret:
                return response.text("Messenger is not configured", status=503)
            if not valid_signature(self.app_secret, request.body,
                                   request.headers.get("X-Hub-Signature-256")):
                logger.warning("messenger.webhook.bad_signature")
                return response.text("Bad signature", status=403)
            try:
                payload = json.loads(request.body)
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
                return response.text("Body is not JSON", status=400)
            wrong = malformed(payload)
            if wrong is not None:
                logger.warning("messenger.webhook.malformed reason=%s", wrong)
                return response.text(f"Malformed event: {wrong}", status=400)
            try:
                fresh = [e for e in messaging_events(payload) if await self._first_time(e)]
            except RedisError as exc:
                # Facebook retries what is not acknowledged: nothing is lost by refusing now.
                logger.error("messenger.webhook.redis_down error=%s", exc)
                return response.text("Try again later", status=503)
            for event in fresh:
                self._schedule(event, on_new_message)
            return response.text("EVENT_RECEIVED")

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.api.close()
            await self.redis.close(close_connection_pool=True)

        return hook

    async def _first_time(self, event: Dict[str, Any]) -> bool:
        if (event.get("message") or {}).get("is_echo"):
            return False  # the page's own messages, bot's and agents', coming back
        if part_of(event) == "other":
            return False  # delivery and read receipts, reactions…: nothing to answer
        return bool(await self.redis.set(self.keys.messenger_event(event_id(event)), "1",
                                         nx=True, ex=SEEN_FOR))

    def _schedule(self, event: Dict[str, Any], on_new_message: Handler) -> None:
        """Runs after the 200; one person's events one after the other, in webhook order."""
        psid = str(event["sender"]["id"])
        previous = self._tails.get(psid)
        task = asyncio.create_task(self._handle(previous, psid, event, on_new_message))
        self._tails[psid] = task

        def forget(done: asyncio.Task) -> None:
            if self._tails.get(psid) is done:
                del self._tails[psid]

        task.add_done_callback(forget)

    async def _handle(self, previous: Optional[asyncio.Task], psid: str,
                      event: Dict[str, Any], on_new_message: Handler) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        found = to_text_and_metadata(event)
        code = link_code_of(event, found[0] if found else "")
        if found is None and code is None:
            return
        try:
            sent_at = float(event.get("timestamp") or 0) / 1000 or time.time()
            await self.redis.set(self.keys.messenger_last_inbound(psid), str(sent_at))
            await self.api.sender_action(psid, "mark_seen")
            if code is not None:
                await self._follow_link(psid, code)
                return
            assert found is not None
            text, metadata = found
            wait = await RateLimiter(self.redis, self.keys).retry_after(MESSENGER_EVENTS, psid)
            conversation_id = await self.profiles.messenger_conversation(psid)
            if wait is not None:
                logger.warning("messenger.rate_limited psid=%s retry_after=%d", psid, wait)
                await self._tell_too_fast(psid, conversation_id, wait)
                return
            # After the count: a flood of refused messages is throttled like any other.
            refused = problem(text, attachment="attachment" in metadata)
            if refused is not None:
                logger.warning("messenger.message.refused psid=%s reason=%s", psid, refused)
                await self._tell_refused(psid, text, refused)
                return
            if await self._survey_answered(conversation_id, event, text):
                return
            # What the bot offered, read before this message is journaled after it.
            offered = await self.journal.offered_payloads(conversation_id) \
                if typed(event) and is_command(text) else []
            await self.journal.record(conversation_id, "customer",
                                      {"text": text, "message_id": event_id(event)})
            # A person owns the conversation: to them, straight, never through Rasa.
            if await self.inbound.take(conversation_id, text, event_id(event), self.name(),
                                       metadata):
                return
            if typed(event):  # Rasa reads a leading "/" as an intent: only a button's is one
                text = neutralise(text, offered)
            await self.api.sender_action(psid, "typing_on")  # the bot is about to answer
            output = MessengerOutput(self.api, self.redis, self.keys)
            await on_new_message(UserMessage(text, output, conversation_id,
                                             input_channel=self.name(),
                                             message_id=event_id(event), metadata=metadata))
        except Exception:  # noqa: BLE001 - a background task: log, never lose silently
            logger.exception("messenger.event.failure psid=%s", psid)

    async def _survey_answered(self, conversation_id: str, event: Dict[str, Any],
                               text: str) -> bool:
        """Whether the message was a survey answer (`handoff.survey`).

        If so, it is recorded and answered here, and never reaches Rasa.
        """
        reply = await self.surveys.respond(conversation_id, text)
        if reply is None:
            return False
        await self.journal.record(conversation_id, "customer",
                                  {"text": reply.shown, "message_id": event_id(event)})
        output = MessengerOutput(self.api, self.redis, self.keys)
        for message in reply.messages:
            await output.send_response(conversation_id, dict(message))
        return True

    async def _follow_link(self, psid: str, code: str) -> None:
        """A link code from the web chat: this Messenger user continues that conversation."""
        record = await self.profiles.redeem(code, MESSENGER)
        if record is None:
            await self._tell(psid, None, "link_expired")
            return
        conversation_id = record["conversation_id"]
        await self.profiles.link(record["from"], identity(MESSENGER, psid))
        await self.profiles.move_to_messenger(conversation_id, psid)
        language = (await ConversationStore(self.redis, self.keys).get(
            conversation_id)).language
        await self._tell(psid, language, "continued_here")
        logger.info("messenger.linked psid=%s conversation=%s", psid, conversation_id)

    async def _tell_refused(self, psid: str, text: str, code: str) -> None:
        """Why a message was not taken, in the language it is written in (else both)."""
        found = detect(text[:MAX_MESSAGE_CHARS]) if isinstance(text, str) else None
        language = found.language if found else None
        try:
            await self.api.send_message(psid, {"text": notice(code, language)},
                                        {"messaging_type": "RESPONSE"})
        except GraphError as exc:
            logger.error("messenger.refused.notice.failure psid=%s error=%s", psid, exc)

    async def _tell_too_fast(self, psid: str, conversation_id: str, wait: int) -> None:
        """Once per flood, not once per dropped message (that would feed the flood)."""
        if not await self.redis.set(self.keys.rate_notice(MESSENGER_EVENTS.name, psid), "1",
                                    nx=True, ex=wait):
            return
        language = (await ConversationStore(self.redis, self.keys).get(
            conversation_id)).language
        await self._tell(psid, language, "too_fast", seconds=wait)

    async def _tell(self, psid: str, language: Optional[str], kind: str, **fields: Any) -> None:
        texts = {lang: text.format(**fields) for lang, text in NOTICES[kind].items()}
        text = texts[language] if language in texts else f"{texts['en']}\n{texts['fr']}"
        try:
            await self.api.send_message(psid, {"text": text}, {"messaging_type": "RESPONSE"})
        except GraphError as exc:
            logger.error("messenger.link.notice.failure psid=%s error=%s", psid, exc)
