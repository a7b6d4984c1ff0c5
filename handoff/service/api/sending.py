"""An agent's message to their customer: one door for the HTTP route and the console's socket.

The console sends its messages over its WebSocket (`message.send`, answered by
`message.accepted` or `message.refused` with the same `client_id`): no HTTP request to parse, no
session cookie to load, two round trips to Redis (the caller's read, the outbox), where the
route `POST …/messages` takes four with its middlewares. The route stays, for API clients and
for the console while its socket is down; both check the same things in the same order and give
the same errors. A message sent again with its `client_id`, either way, is accepted once.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional, Tuple

from aiohttp import web
from redis.exceptions import RedisError

from handoff import channels, outbox
from handoff.accounts import Agent
from handoff.conversation import HUMAN_STATES, Conversation
from handoff.customer_text import has_lone_surrogate, holds_lone_surrogate
from handoff.service import appkeys as app_keys
from handoff.service.api.access import handed_off, read_caller
from handoff.service.api.errors import ApiError, error_body

logger = logging.getLogger(__name__)

SEND, ACCEPTED, REFUSED = "message.send", "message.accepted", "message.refused"
MAX_CLIENT_ID = 64
MAX_CONVERSATION_ID = 256


def checked(body: Dict[str, Any], app: web.Application) -> Tuple[str, Optional[str]]:
    """The message's text (stripped) and client id, or the error a client must fix."""
    text, client_id = body.get("text"), body.get("client_id")
    if not isinstance(text, str) or (client_id is not None and not _valid_client_id(client_id)):
        raise ApiError("bad_request")
    if not text.strip():
        raise ApiError("empty_message")
    if len(text) > app[app_keys.SETTINGS].max_message_chars:
        raise ApiError("message_too_long")
    return text.strip(), client_id


async def accept(app: web.Application, agent: Agent, record: Conversation, text: str,
                 client_id: Optional[str]) -> outbox.OutboxMessage:
    """Puts the message in the outbox if the agent has the conversation and can reply.

    `record` is one the agent API knows (`access.handed_off`).
    """
    if record.agent != agent.username or record.state not in HUMAN_STATES:
        raise ApiError("not_yours")
    redis, keys = app[app_keys.REDIS], app[app_keys.KEYS]
    if not (await channels.reach(redis, keys, record.id, time.time(),
                                 record.channel))["can_reply"]:
        raise ApiError("customer_unreachable")
    message = await outbox.accept(redis, keys, record.id, agent.username, agent.name, text,
                                  client_id)
    if record.first_reply_at is None:
        await app[app_keys.STORE].first_reply(record.id, time.time())
    return message


def accepted(message: outbox.OutboxMessage) -> Dict[str, Any]:
    """The `message` of an accepted send, as the route and the socket answer it."""
    return {"id": message.id, "client_id": message.client_id, "status": "accepted"}


async def from_socket(app: web.Application, username: str, session_key: str,
                      frame: Dict[str, Any], french: bool) -> Dict[str, Any]:
    """The answer frame to a console's `message.send`.

    The socket's session is read again with each message: signing out (or an expired session)
    stops the sending at once, as it does on the HTTP routes. Errors are in the frame's
    `language` (the console's), else in the one the socket's request asked for (`french`).
    """
    if frame.get("language") in ("en", "fr"):
        french = frame["language"] == "fr"
    client_id, cid = frame.get("client_id"), frame.get("conversation_id")
    valid_cid = isinstance(cid, str) and 0 < len(cid) <= MAX_CONVERSATION_ID \
        and not has_lone_surrogate(cid)
    # Echoed only when they are what they should be: the console matches answers by them.
    answer: Dict[str, Any] = {"client_id": client_id if _valid_client_id(client_id) else None,
                              "conversation_id": cid if valid_cid else None}
    try:
        # As the route's `access.json_body`: text that cannot be stored, anywhere in the frame.
        if not valid_cid or holds_lone_surrogate(frame):
            raise ApiError("bad_request")
        text, client_id = checked(frame, app)
        caller = await read_caller(app, username, cid, session_key)
        if caller.session_agent != username or caller.agent is None:
            raise ApiError("unauthenticated")
        if caller.retry_after is not None:
            raise ApiError("too_many_requests", caller.retry_after)
        assert caller.record is not None
        message = await accept(app, caller.agent, handed_off(caller.record), text, client_id)
    except ApiError as exc:
        return {"type": REFUSED, **answer,
                "error": error_body(exc.code, french, exc.retry_after),
                **({"retry_after": exc.retry_after} if exc.retry_after is not None else {})}
    except RedisError as exc:
        logger.warning("api.store_unavailable path=ws error=%r", exc)
        return {"type": REFUSED, **answer, "error": error_body("store_unavailable", french)}
    return {"type": ACCEPTED, **answer, "message": accepted(message)}


def _valid_client_id(client_id: Any) -> bool:
    return isinstance(client_id, str) and 0 < len(client_id) <= MAX_CLIENT_ID \
        and not has_lone_surrogate(client_id)
