"""The web chat channel: Rasa's socket.io protocol, with signed sessions and replay.

`session_request` / `session_confirm` / `user_uttered` / `bot_uttered` as in Rasa's own
`socketio` channel (whose name it keeps, so Rasa's widgets work with it). Differences:
- session ids are issued and signed by the server (`bot.web_session`): `session_confirm` carries
  a token; a `session_request` with a token that does not verify starts a new conversation, and
  a socket only ever speaks in the conversation of its own session;
- the socket.io server accepts browsers only from `allowed_origins`;
- every message is journaled (`handoff.journal`) and carries its journal id (`metadata.id`); a
  browser that reconnects sends `last_seen` in `session_request` and gets what it missed (a
  client that never sends `last_seen`, e.g. Rasa's own widgets, keeps its history itself and
  gets no replay, as from Rasa's channel); a customer
  message carries `message_id`, is acknowledged (socket.io ack) once handled, and a resend of the
  same id is acknowledged without being handled twice;
- with `redis_url`, emits go through python-socketio's Redis manager, so a message sent by any
  Rasa process reaches a browser connected to any other;
- while a person owns the conversation, a customer's message goes straight to them
  (`handoff.relay.inbound`), never through Rasa; their messages reach the page from the
  handoff service through Redis (`bot.customer_events`);
- `bot_uttered` carries only Rasa's fields (`handoff.webchat_frames`): the agent's name
  (`metadata.agent`) when a person wrote the message, and the handoff service's notices
  (`metadata.notice`) are in `metadata`; a client that sends no `last_seen` (Rasa's widgets)
  reads no metadata, so it gets an agent's message as "Marie: …" (`bot.customer_events`);
  `user_typing` / `agent_typing` show typing both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import (
    Any,
    AsyncContextManager,
    Awaitable,
    Callable,
    Dict,
    List,
    Optional,
    Set,
    Text,
    Tuple,
)

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncRedisManager, AsyncServer

from bot.customer_events import CustomerEvents
from bot.heap import freeze_once_started
from bot.limits import cap_request_size
from bot.web_admission import WebAdmission
from bot.web_packets import GuardedServer
from bot.web_session import SessionSigner
from handoff.customer_text import (
    BAD_TEXT,
    MAX_MESSAGE_CHARS,
    TOO_LONG,
    has_lone_surrogate,
    holds_lone_surrogate,
    is_command,
    neutralise,
    notice,
    problem,
)
from handoff.journal import TAKEN_FOR, Journal
from handoff.keys import Keys
from handoff.profiles import WEB, ProfileStore, identity, normalise_code
from handoff.ratelimit import CHAT_MESSAGES, RateLimiter
from handoff.redis_client import check_replicated, connect, pubsub_client, replicated_on
from handoff.relay.frames import web_parts
from handoff.relay.inbound import TAKEN_BEFORE, TO_AGENT, TO_BOT, Inbound
from handoff.survey import SurveyResponder, SurveyStore, parse_payload
from handoff.webchat_frames import bot_frame

logger = logging.getLogger(__name__)

MAX_MESSAGE_ID = 64
MAX_METADATA_BYTES = 8192  # the page sends its language; Rasa's widgets a little customData
# A socket.io packet larger than this closes the connection (python-engineio): room for the
# longest message however it is escaped (6 bytes a character) and its metadata.
MAX_PACKET_BYTES = 64 * 1024
CUSTOMER_HEARTBEAT = 5.0  # seconds; `handoff.service.jobs.abandonment` waits far longer than this


def engineio_keepalive_only(blueprint: Blueprint) -> None:
    """Leaves a socket's keepalive to engine.io alone: no WebSocket ping of Sanic's own.

    Sanic pings every WebSocket every 20 s (`WEBSOCKET_PING_INTERVAL`) on top of engine.io's
    ping, which every socket.io client answers (the page, Rasa's widget) and which drops a
    socket silent for `ping_interval + ping_timeout` (45 s): a second keepalive that finds no
    dead socket the first misses, and cost about 40 % of the process's CPU while 500 chats
    were open and quiet (2.2-2.8 % of a core with it, 1.2-1.6 % without, on a shared machine).
    Set when the main process starts: Sanic reads it once, as it builds its protocol.
    """

    @blueprint.listener("main_process_start")
    async def no_websocket_ping(app: Any, _loop: Any) -> None:
        app.config.WEBSOCKET_PING_INTERVAL = None


class WebChatOutput(SocketIOOutput):
    """Socket.io output that journals each message and tells the widget who wrote it."""

    def __init__(self, sio: AsyncServer, bot_message_evt: Text,
                 journal: Optional[Journal] = None) -> None:
        """`journal`: where messages are recorded for replay (None: not recorded)."""
        super().__init__(sio, bot_message_evt)
        self._journal = journal

    async def _send_message(self, socket_id: Text, response: Any,
                            once_key: Optional[str] = None) -> None:
        # `socket_id` is the conversation id: its room holds the customer's sockets.
        entry_id = None
        if self._journal is not None and isinstance(response, dict):
            try:
                if once_key is None:
                    entry_id = await self._journal.record(socket_id, "bot", response)
                else:
                    # A retried delivery gets the first attempt's id and is sent again: the
                    # first may have been cut after journaling, before sending.
                    entry_id, _ = await self._journal.record_once(socket_id, "bot", response,
                                                                  once_key)
            except RedisError as exc:
                logger.warning("webchat.journal.failure conversation=%s error=%s", socket_id, exc)
                if once_key is not None:
                    # An agent message is delivered again until it is journaled: sent now
                    # with no id, the page could not tell the retry's copy from it.
                    raise
        if isinstance(response, dict):
            response = bot_frame(response, entry_id)
        await self.sio.emit(self.bot_message_evt, response, room=socket_id)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Sends text; a notice of the handoff service says which (`handoff.relay.frames`)."""
        for once_key, payload in web_parts(text, notice=kwargs.get("handoff_notice")):
            await self._send_message(recipient_id, payload, once_key)


def refusal(message: UserMessage) -> Optional[Dict[str, Any]]:
    """The acknowledgement of a message no channel takes (`handoff.customer_text`), or None.

    Not recorded, not answered: the customer is told why (the page says it in their language;
    `message` is for clients that show the server's words).
    """
    refused = problem(message.text, attachment="attachment" in message.metadata) \
        or (BAD_TEXT if holds_lone_surrogate(message.metadata) else None)
    if refused is None:
        return None
    ack = {"ok": False, "error": refused,
           "message": notice(refused, message.metadata.get("language"))}
    return {**ack, "max": MAX_MESSAGE_CHARS} if refused == TOO_LONG else ack


class LocalFirstRedisManager(AsyncRedisManager):
    """Emits to this process's own sockets at once, and through Redis to the other processes'.

    Its Redis client is the product's (`handoff.redis_client.connect`), not one of its own.

    python-socketio's Redis manager sends every emit through Redis pub/sub, even one for a
    socket of the same process. While that subscription is down (Redis restarting, and its
    retries back off), such emits are lost; a page that then gets a later message never asks
    for the one it missed (it asks for what came after the last id it has).
    """

    def _redis_connect(self) -> None:
        # The product's client (handoff.redis_client): `redis_url` may name a Sentinel group,
        # and a connection that died with Redis is replaced before the publish fails. Bytes:
        # python-socketio pickles its messages. Its manager uses `redis` only to publish
        # (`_publish`) and `pubsub` to listen: on a Cluster, both through one node.
        # python-socketio calls this again after each Redis error: one client for the
        # process's life (its pool replaces dead connections), a new subscription each time.
        if getattr(self, "redis", None) is None:
            self.redis = pubsub_client(connect(self.redis_url, decode_responses=False))
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)

    async def emit(self, event: str, data: Any, namespace: Optional[str] = None,
                   room: Optional[str] = None, skip_sid: Any = None, callback: Any = None,
                   **kwargs: Any) -> None:
        """Local sockets first (no Redis needed), then the other processes through Redis."""
        if kwargs.get("ignore_queue") or callback is not None:
            await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                               callback=callback, **kwargs)
            return
        namespace = namespace or "/"
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                           ignore_queue=True)
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid)

    async def _handle_emit(self, message: Dict[str, Any]) -> None:
        # This process's own emits came back from Redis: its sockets already have them.
        if message.get("host_id") == self.host_id and message.get("callback") is None:
            return
        await super()._handle_emit(message)


class WebChatInput(SocketIOInput):
    """Socket.io input channel for the project's chat page and widget."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        """Rasa's options plus session_secret, allowed_origins, redis_url and key_prefix."""
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WebChatInput)
        secret = credentials.get("session_secret")
        if not secret:
            raise ValueError("bot.web.WebChatInput needs a session_secret (CHAT_SESSION_SECRET)")
        channel.signer = SessionSigner(str(secret))
        channel.allowed_origins = [o.strip().rstrip("/") for o in
                                   str(credentials.get("allowed_origins") or "").split(",")
                                   if o.strip()]
        redis_url = credentials.get("redis_url")
        if redis_url:
            keys = Keys(credentials.get("key_prefix") or Keys.prefix)
            channel.redis_url, channel.keys = str(redis_url), keys
            channel.customer_events = CustomerEvents(redis_url, keys)
            redis = connect(redis_url)
            channel.journal = Journal(redis, keys)
            channel.profiles = ProfileStore(redis, keys)
            channel.surveys = SurveyResponder(SurveyStore(redis, keys))
            channel.inbound = Inbound(redis, keys)
            channel._limiter = RateLimiter(redis, keys)
            channel._redis = redis
            channel.admission = WebAdmission(redis, keys, channel._limiter, channel.journal,
                                             channel.inbound)
        return channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same options as Rasa's `socketio` channel; `session_persistence` is forced on."""
        super().__init__(*args, **kwargs)
        self.session_persistence = True
        self.signer = SessionSigner(uuid.uuid4().hex)  # replaced by from_credentials
        self.allowed_origins: List[str] = []
        self.redis_url: Optional[str] = None
        self.keys = Keys()
        self.customer_events: Optional[CustomerEvents] = None
        self.journal: Optional[Journal] = None
        self.profiles: Optional[ProfileStore] = None
        self.surveys: Optional[SurveyResponder] = None
        self.inbound: Optional[Inbound] = None
        self._redis: Optional[Redis] = None
        self._limiter: Optional[RateLimiter] = None
        self.admission: Optional[WebAdmission] = None
        self._open: Dict[str, str] = {}  # socket id -> conversation id, on this process
        # (conversation, message id) marked as taken whose handling failed: a resend is handled.
        self._not_handled: Set[Tuple[str, str]] = set()
        self._heartbeat: Optional[asyncio.Task] = None

    def get_output_channel(self) -> Optional[WebChatOutput]:
        """The output for messages sent from outside a customer turn (agents, hand-back)."""
        if self.sio is None:
            return None
        return WebChatOutput(self.sio, self.bot_message_evt, self.journal)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The socket.io server mounted in Rasa's Sanic app."""
        manager = None
        if self.redis_url:
            # Emits from any Rasa process reach browsers connected to any other.
            manager = LocalFirstRedisManager(self.redis_url,
                                             channel=f"{self.keys.prefix}:socketio")
        # An empty allowlist would mean "same origin as Rasa": the chat page is elsewhere.
        # A packet the libraries cannot decode closes its connection (bot.web_packets).
        sio = GuardedServer(async_mode="sanic", client_manager=manager,
                          cors_allowed_origins=self.allowed_origins or None,
                          max_http_buffer_size=MAX_PACKET_BYTES)
        self.sio = sio
        webhook = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        cap_request_size(webhook)  # the Rasa server's bodies (bot.limits)
        freeze_once_started(webhook)  # no half-second stalls (bot.heap)
        engineio_keepalive_only(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            if self.customer_events is not None:
                self.customer_events.start(sio, self.namespace)
            data = data if isinstance(data, dict) else {}
            token = data.get("session_id")
            conversation_id = self.signer.verify(token)
            returning = conversation_id is not None
            last_seen = data.get("last_seen")
            link = data.get("link")
            moved = await self._follow_link(link) if isinstance(link, str) else None
            if moved is not None:
                conversation_id, token, returning, last_seen = (
                    moved, self.signer.token_for(moved), True, None)
            elif conversation_id is None:
                conversation_id, token = self.signer.issue()
            await sio.save_session(sid, {"conversation_id": conversation_id, "token": token},
                                   namespace=self.namespace)
            # From joining the room to the end of the replay, the live path's messages to this
            # conversation wait: they reach the page after what it missed, not among it.
            async with self._room_held(conversation_id):
                sio.enter_room(sid, conversation_id, namespace=self.namespace)
                self._open[sid] = conversation_id
                if self.customer_events is not None:
                    # Rasa's own clients (no `last_seen`) read no metadata.
                    self.customer_events.client(conversation_id, sid,
                                                reads_metadata="last_seen" in data)
                await self._customer_here(conversation_id)
                await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)
                if isinstance(link, str) and moved is None:
                    await sio.emit("link_error", {"reason": "expired_or_used"}, room=sid,
                                   namespace=self.namespace)
                if returning and ("last_seen" in data or moved is not None):
                    await self._replay(sid, conversation_id, last_seen)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> Dict[str, Any]:
            # `data` defaults to None: an event sent without payload still gets its answer.
            conversation_id = await self._conversation_of(sid, data)
            if conversation_id is None:
                return {"ok": False, "error": "no_session"}
            message_id = data.get("message_id") if isinstance(data, dict) else None
            if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID \
                    or has_lone_surrogate(message_id):
                message_id = uuid.uuid4().hex
            output = WebChatOutput(sio, self.bot_message_evt, self.journal)
            message = self._user_message(conversation_id, message_id, data, output)
            if message is None:
                return {"ok": False, "error": "bad_message"}
            refused = refusal(message)
            if refused is not None:
                return refused
            # One round trip: the rate limit, whether this id is new, and what a survey needs;
            # and, when that is all the message needs first, its journal and its way too.
            taken = (conversation_id, message_id)
            way: Optional[str] = None
            if self._takes_at_once(message.text):
                try:
                    wait, first, survey_may, way = await self._admit_and_take(
                        conversation_id, message_id, message)
                except Exception:  # noqa: BLE001 - as a failed take below
                    logger.exception("webchat.message.failure conversation=%s",
                                     conversation_id)
                    return self._not_taken(taken)
            else:
                wait, first, survey_may = await self._admit(conversation_id, message_id,
                                                            message.text)
            if wait is not None:
                # Not taken: the page keeps the message and sends it again later.
                return {"ok": False, "error": "rate_limited", "retry_after": wait}
            if not first and taken not in self._not_handled:
                return await self._sent_again(conversation_id, message)
            # This attempt handles it: a resend meanwhile is a duplicate.
            self._not_handled.discard(taken)
            try:
                if survey_may and await self._survey_answered(conversation_id, message_id,
                                                              message.text, output):
                    return {"ok": True, "id": message_id}
            except RedisError:  # a survey answer not recorded
                return self._not_taken(taken)
            # What the bot offered, read before this message is journaled after it.
            offered = await self._offered(conversation_id, message.text or "")
            try:
                # A person owns the conversation: to them, straight, never through Rasa.
                if way is None:
                    way = await self._journal_and_take(conversation_id, message_id, message)
                if way == TAKEN_BEFORE:  # by a resend, while this attempt was on its way
                    return {"ok": True, "id": message_id, "duplicate": True}
                if way == TO_AGENT:
                    return {"ok": True, "id": message_id}
                # Rasa reads a leading "/" as an intent: only a button the bot offered is one.
                message.text = neutralise(message.text or "", offered)
                await on_new_message(message)
            except Exception:  # noqa: BLE001 - e.g. Redis (lock or tracker store) is away
                logger.exception("webchat.message.failure conversation=%s", conversation_id)
                return self._not_taken(taken)
            return {"ok": True, "id": message_id}

        @sio.on("cancel_wait", namespace=self.namespace)
        async def cancel_wait(sid: Text, data: Any = None) -> Dict[str, Any]:
            # The handoff service owns the queue: the request goes to it through a stream.
            conversation_id = await self._conversation_of(sid, None)
            if conversation_id is None or self._redis is None:
                return {"ok": False, "error": "no_session"}
            try:
                await self._redis.xadd(self.keys.customer_requests_stream, {
                    "conversation_id": conversation_id, "kind": "cancel_wait"})
            except RedisError as exc:
                logger.warning("webchat.cancel_wait.failure error=%s", exc)
                return {"ok": False, "error": "unavailable"}
            return {"ok": True}

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            self._open.pop(sid, None)
            if self.customer_events is not None:
                self.customer_events.gone(sid)

        @sio.on("user_typing", namespace=self.namespace)
        async def user_typing(sid: Text, data: Any = None) -> None:
            conversation_id = await self._conversation_of(sid, None)
            if self.customer_events is None or conversation_id is None or \
                    not isinstance(data, dict):
                return
            await self.customer_events.customer_typing(conversation_id, bool(data.get("typing")))

        return webhook

    async def _sent_again(self, conversation_id: str, message: UserMessage) -> Dict[str, Any]:
        """A message whose id was seen before, and whose earlier attempt did not fail here.

        Taken before (its acknowledgement was lost), still under way, or cut before the
        channel's decision by a Rasa process that died: the live path's record of its id says
        which (`Inbound.take_once`), and a message a person owns that never got to them is
        taken now. On the bot's way a resend stays a duplicate (at most once: a Rasa process
        that dies before Rasa has the message loses it, docs/reliability.md).
        """
        message_id = message.message_id or ""
        duplicate = {"ok": True, "id": message_id, "duplicate": True}
        if self.inbound is None:
            return duplicate
        try:
            way = await self.inbound.take_once(conversation_id, message.text or "", message_id,
                                               self.name(), message.metadata, again=True)
        except RedisError as exc:
            logger.warning("webchat.resend.failure conversation=%s error=%s", conversation_id,
                           exc)
            return {"ok": False, "error": "unavailable"}
        if way != TO_AGENT:
            return duplicate
        logger.info("webchat.message.taken_on_resend conversation=%s message=%s",
                    conversation_id, message_id)
        await self._journal_customer(conversation_id, message_id, message.text)
        return {"ok": True, "id": message_id}

    async def _journal_customer(self, conversation_id: str, message_id: str,
                                text: Optional[str]) -> None:
        if self.journal is None:
            return
        try:
            await self.journal.record(conversation_id, "customer", {
                "text": text, "message_id": message_id})
        except RedisError as exc:
            logger.warning("webchat.journal.failure conversation=%s error=%s",
                           conversation_id, exc)

    async def _offered(self, conversation_id: str, text: str) -> List[str]:
        """The payloads of the bot's last answer, when `text` is a Rasa command."""
        if not is_command(text) or self.journal is None:
            return []
        try:
            return await self.journal.offered_payloads(conversation_id)
        except RedisError as exc:  # then nothing counts as offered: words, not commands
            logger.warning("webchat.journal.failure conversation=%s error=%s",
                           conversation_id, exc)
            return []

    async def _survey_answered(self, conversation_id: str, message_id: str,
                               text: Optional[str], output: WebChatOutput) -> bool:
        """Whether the message was a survey answer (`handoff.survey`).

        If so, it is recorded and answered here, and never reaches Rasa.
        """
        if self.surveys is None:
            return False
        try:
            reply = await self.surveys.respond(conversation_id, text)
        except RedisError as exc:
            # A survey button is not for the bot (the page sends it again); any other text
            # is: the bot answers it.
            logger.warning("webchat.survey.failure conversation=%s error=%s", conversation_id,
                           exc)
            if parse_payload(text) is not None:
                raise
            return False
        if reply is None:
            return False
        await self._journal_customer(conversation_id, message_id, reply.shown)
        for message in reply.messages:
            await output.send_response(conversation_id, dict(message))
        return True

    async def _admit(self, conversation_id: str, message_id: str,
                     text: Optional[str]) -> Tuple[Optional[int], bool, bool]:
        """The rate limit's wait (None: go on), whether the id is new, and a survey's say.

        One round trip. Without Redis: no counting and a new id (the message itself matters
        more); the survey then decides for itself.
        """
        if self._redis is None or self._limiter is None:
            return None, True, self.surveys is not None
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                counted = await self._limiter.admit_once_on(
                    pipe, CHAT_MESSAGES, conversation_id,
                    self.keys.web_message(conversation_id, message_id), TAKEN_FOR)
                if self.surveys is not None:
                    self.surveys.look_on(pipe, conversation_id)
                replies = await pipe.execute()
        except RedisError as exc:
            logger.warning("webchat.admit.failure conversation=%s error=%s", conversation_id,
                           exc)
            return None, True, self.surveys is not None
        count, first = replies[0]
        survey_may = self.surveys is not None and self.surveys.may_respond(text, replies[1])
        return self._limiter.verdict(counted, count), bool(first), survey_may

    def _not_taken(self, taken: Tuple[str, str]) -> Dict[str, Any]:
        """The answer to a message whose handling failed part way.

        The page keeps it and sends it again, and that resend must not be taken for a duplicate
        of a message that was handled.
        """
        self._not_handled.add(taken)
        return {"ok": False, "error": "unavailable"}

    def _takes_at_once(self, text: Optional[str]) -> bool:
        """Whether admission, journal and take can be one step (`bot.web_admission`).

        Not for a command, which is checked against what the bot offered before it is
        journaled, nor for a survey's answer, which the survey takes instead.
        """
        return self.admission is not None and not is_command(text or "") \
            and parse_payload(text) is None

    async def _admit_and_take(self, conversation_id: str, message_id: str, message: UserMessage
                              ) -> Tuple[Optional[int], bool, bool, Optional[str]]:
        """`_admit`'s answer and the way the message went (None: not taken yet)."""
        assert self.admission is not None
        admitted = await self.admission.admit_and_take(
            conversation_id, message_id, message.text or "", self.name(), message.metadata)
        survey_may = self.surveys is not None and admitted.comment_pending is not None \
            and self.surveys.may_respond(message.text, admitted.comment_pending)
        return admitted.wait, admitted.first, survey_may, admitted.way

    async def _journal_and_take(self, conversation_id: str, message_id: str,
                                message: UserMessage) -> str:
        """Journals the message and takes it to the person who owns the conversation, if any.

        `Inbound.take_once`, in the journal's round trip: the way the message went.
        """
        if self.inbound is None or self._redis is None:
            await self._journal_customer(conversation_id, message_id, message.text)
            return TO_BOT
        async with self._redis.pipeline(transaction=False) as pipe:
            if self.journal is not None:
                await self.journal.record_on(pipe, conversation_id, "customer", {
                    "text": message.text, "message_id": message_id})
            take = await self.inbound.take_first_on(pipe, conversation_id, message.text or "",
                                                    message_id, self.name(), message.metadata)
            waits = replicated_on(pipe, self._redis,
                                  near=self.keys.conversation(conversation_id))
            replies = await pipe.execute(raise_on_error=False)
        if waits:  # not on enough replicas: not acknowledged, the page sends it again
            check_replicated(replies.pop(), waits)
        if self.journal is not None and isinstance(replies[0], Exception):
            logger.warning("webchat.journal.failure conversation=%s error=%s",
                           conversation_id, replies[0])
        if isinstance(replies[-1], Exception):
            raise replies[-1]
        await self.inbound.follow(take, replies[-1])
        return self.inbound.way(replies[-1])

    async def _customer_here(self, conversation_id: str) -> None:
        """Writes that this customer has a page open here (for abandonment).

        The heartbeat writes every customer here every `CUSTOMER_HEARTBEAT` s; a page that
        opens writes only its own, so that hundreds opening at once are not each a write of
        everyone (that was quadratic).
        """
        if self._redis is None:
            return
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        await self._write_seen({conversation_id})

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(CUSTOMER_HEARTBEAT)
            await self._write_seen(set(self._open.values()))

    async def _write_seen(self, here: Set[str]) -> None:
        assert self._redis is not None
        if not here:
            return
        try:
            now = str(time.time())
            await self._redis.hset(self.keys.customers_seen, mapping=dict.fromkeys(here, now))
        except RedisError as exc:
            logger.warning("webchat.heartbeat.failure error=%s", exc)

    async def _follow_link(self, link: str) -> Optional[str]:
        """The conversation a valid link code brings this browser to (used up), else None."""
        code = normalise_code(link)
        if code is None or self.profiles is None:
            return None
        try:
            record = await self.profiles.redeem(code, WEB)
            if record is None:
                return None
            conversation_id = record["conversation_id"]
            await self.profiles.link(record["from"], identity(WEB, conversation_id))
            await self.profiles.move_to_web(conversation_id)
        except RedisError as exc:
            logger.warning("webchat.link.failure error=%s", exc)
            return None
        logger.info("webchat.linked conversation=%s", conversation_id)
        return conversation_id

    async def _conversation_of(self, sid: Text, data: Any) -> Optional[str]:
        """The socket's own conversation; a message naming another session is refused."""
        assert self.sio is not None
        session = await self.sio.get_session(sid, namespace=self.namespace)
        conversation_id = session.get("conversation_id") if session else None
        if conversation_id is None:
            logger.warning("webchat.message.rejected sid=%s reason=no_session", sid)
            return None
        claimed = data.get("session_id") if isinstance(data, dict) else None
        if claimed not in (None, session.get("token")):
            logger.warning("webchat.message.rejected sid=%s reason=other_session", sid)
            return None
        return conversation_id

    def _room_held(self, conversation_id: str) -> AsyncContextManager[None]:
        if self.customer_events is None:  # no live path (no Redis): nothing to hold
            return contextlib.nullcontext()
        return self.customer_events.held(conversation_id)

    async def _replay(self, sid: Text, conversation_id: str, last_seen: Any) -> None:
        """What the browser missed since `last_seen`, to this socket only."""
        if self.journal is None or self.sio is None:
            return
        try:
            entries = await self.journal.since(conversation_id, last_seen)
        except RedisError as exc:
            logger.warning("webchat.replay.failure conversation=%s error=%s", conversation_id, exc)
            return
        for entry_id, kind, payload in entries:
            if kind == "bot":
                event, frame = self.bot_message_evt, bot_frame(payload, entry_id, replayed=True)
            else:
                event, frame = "user_echo", {**payload, "id": entry_id, "replayed": True}
            await self.sio.emit(event, frame, room=sid, namespace=self.namespace,
                                ignore_queue=True)

    def _user_message(self, conversation_id: str, message_id: str, data: Any,
                      output: WebChatOutput) -> Optional[UserMessage]:
        if not isinstance(data, dict):
            return None
        metadata = data.get(self.metadata_key) or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except (ValueError, RecursionError):
                metadata = {}
        if not isinstance(metadata, dict):
            metadata = {}
        if isinstance(data.get("attachment"), dict):
            metadata["attachment"] = data["attachment"]
        try:
            if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
                return None  # kept with every message in the tracker: not a place for bulk
        except (ValueError, RecursionError):
            return None
        text = data.get("message")
        if text is None:
            text = ""
        if not isinstance(text, str):
            return None
        return UserMessage(text, output, conversation_id, input_channel=self.name(),
                           metadata=metadata, message_id=message_id)
