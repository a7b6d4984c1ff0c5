"""An agent's message sent on the console's WebSocket (`message.send`, issue 13): the same door
as `POST …/messages` (`handoff.service.api.sending`), answered by a frame.

On the service's real application and a real Redis, without Rasa: what the outbox holds is
what the delivery worker will send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from typing import Any, AsyncIterator, Dict, List, Tuple

import aiohttp
import pytest

from handoff.accounts import AccountStore
from handoff.ratelimit import AGENT_API
from handoff.service.api.ws import MAX_FRAME
from tests.conftest import PASSWORD
from tests.hostile import SEED, mutate, value
from tests.integration.service import Agent, agents, running_service, settings_for
from tests.integration.test_conversation_store import _ticket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
async def marie_has_c1(store, redis, keys) -> str:
    """`c1` claimed by Marie; Paul is another agent; `c2` was never handed off."""
    accounts = AccountStore(redis, keys)
    await accounts.create("marie", "Marie", PASSWORD)
    await accounts.create("paul", "Paul", PASSWORD)
    await store.enqueue(_ticket("c1"))
    await store.claim("c1", "marie", "Marie")
    return "c1"


class Console:
    """A signed-in browser's console socket: sends `message.send`, reads the answers."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.ws: Any = None

    async def open(self, **headers: str) -> "Console":
        self.ws = await self.agent.http.ws_connect(self.agent.server.make_url("/api/ws"),
                                                   headers=headers)
        assert (await self.ws.receive_json(timeout=10))["type"] == "hello"
        return self

    async def send(self, **frame: Any) -> Dict[str, Any]:
        await self.ws.send_json({"type": "message.send", **frame})
        return await self.answer()

    async def answer(self) -> Dict[str, Any]:
        while True:
            frame = await self.ws.receive_json(timeout=10)
            if frame["type"] in ("message.accepted", "message.refused"):
                return frame


@contextlib.asynccontextmanager
async def console_of(redis_server: Any, username: str) -> AsyncIterator[Tuple[Agent, Console]]:
    """A service on the test Redis and `username` signed in with their console's socket open."""
    async with running_service(settings_for(redis_server)) as server, \
            agents(server, 1) as (agent,):
        assert (await agent.login(username, PASSWORD))[0] == 200
        yield agent, await Console(agent).open()


async def _outbox(redis, keys) -> List[Dict[str, str]]:
    return [fields for _, fields in await redis.xrange(keys.outbox_stream)]


async def test_a_message_on_the_socket_is_accepted_once_whichever_way_it_is_sent_again(
        redis_server, redis, keys, store, marie_has_c1):
    async with console_of(redis_server, "marie") as (marie, console):
        first = await console.send(conversation_id="c1", text="  Hello, I'm Marie  ",
                                   client_id="m-1")
        assert first["type"] == "message.accepted", first
        assert (first["client_id"], first["conversation_id"]) == ("m-1", "c1")
        again = await console.send(conversation_id="c1", text="Hello, I'm Marie",
                                   client_id="m-1")
        status, posted = await marie.post("/api/conversations/c1/messages",
                                          {"text": "Hello, I'm Marie", "client_id": "m-1"})
        assert status == 202
        assert first["message"]["id"] == again["message"]["id"] == posted["message"]["id"]
        outbox = await _outbox(redis, keys)
        assert [(m["text"], m["agent"], m["client_id"]) for m in outbox] == \
            [("Hello, I'm Marie", "marie", "m-1")]
        # The first reply is timed, as by the route.
        assert (await store.get("c1")).first_reply_at is not None


async def test_messages_on_one_socket_reach_the_outbox_in_the_order_sent(
        redis_server, redis, keys, marie_has_c1):
    async with console_of(redis_server, "marie") as (marie, console):
        texts = [f"part {n}" for n in range(20)]
        for n, text in enumerate(texts):  # all sent before any answer is read
            await console.ws.send_json({"type": "message.send", "conversation_id": "c1",
                                        "text": text, "client_id": f"m-{n}"})
        answers = [await console.answer() for _ in texts]
        assert [a["client_id"] for a in answers] == [f"m-{n}" for n in range(20)]
        assert {a["type"] for a in answers} == {"message.accepted"}
        assert [m["text"] for m in await _outbox(redis, keys)] == texts


@pytest.mark.parametrize("frame, code", [
    ({"conversation_id": "c1", "text": "   ", "client_id": "x"}, "empty_message"),
    ({"conversation_id": "c1", "text": "a" * 4001, "client_id": "x"}, "message_too_long"),
    ({"conversation_id": "c1", "text": 12, "client_id": "x"}, "bad_request"),
    ({"conversation_id": "c1", "text": "hi", "client_id": "x" * 65}, "bad_request"),
    ({"text": "hi", "client_id": "x"}, "bad_request"),
    ({"conversation_id": ["c1"], "text": "hi", "client_id": "x"}, "bad_request"),
    ({"conversation_id": "c2", "text": "hi", "client_id": "x"}, "not_found"),
])
async def test_a_bad_message_is_refused_with_the_routes_error_and_nothing_is_sent(
        redis_server, redis, keys, marie_has_c1, frame, code):
    async with console_of(redis_server, "marie") as (marie, console):
        answer = await console.send(**frame)
        assert answer["type"] == "message.refused"
        assert answer["error"]["code"] == code
        # The answer names the conversation only when the frame named one validly.
        named = frame.get("conversation_id")
        assert answer["conversation_id"] == (named if isinstance(named, str) else None)
        assert answer["error"]["message"]
        # The socket is still there for the next message.
        assert (await console.send(conversation_id="c1", text="ok",
                                   client_id="y"))["type"] == "message.accepted"
        assert [m["text"] for m in await _outbox(redis, keys)] == ["ok"]


@pytest.mark.parametrize("language, words", [("en", "assigned to another agent"),
                                             ("fr", "attribuée à un autre conseiller")])
async def test_another_agents_conversation_is_refused_in_the_consoles_language(
        redis_server, redis, keys, marie_has_c1, language, words):
    async with console_of(redis_server, "paul") as (paul, console):
        answer = await console.send(conversation_id="c1", text="I'm not Marie",
                                    client_id="p-1", language=language)
        assert answer["error"]["code"] == "not_yours"
        assert words in answer["error"]["message"].lower()
        status, body = await paul.post("/api/conversations/c1/messages",
                                       {"text": "I'm not Marie", "client_id": "p-1"},
                                       headers={"Accept-Language": language})
        assert (status, body["error"]) == (409, answer["error"])
        assert await _outbox(redis, keys) == []


async def test_a_socket_stops_sending_once_its_session_is_signed_out_or_its_account_gone(
        redis_server, redis, keys, marie_has_c1):
    async with console_of(redis_server, "marie") as (marie, console):
        assert (await console.send(conversation_id="c1", text="before",
                                   client_id="a"))["type"] == "message.accepted"
        assert (await marie.post("/api/logout"))[0] == 200
        answer = await console.send(conversation_id="c1", text="after sign-out",
                                    client_id="b")
        assert answer["error"]["code"] == "unauthenticated"

        await marie.login("marie", PASSWORD)
        console = await Console(marie).open()
        await redis.delete(keys.agent("marie"))
        answer = await console.send(conversation_id="c1", text="account gone", client_id="c")
        assert answer["error"]["code"] == "unauthenticated"
        assert [m["text"] for m in await _outbox(redis, keys)] == ["before"]


async def test_the_socket_counts_against_the_agents_one_limit(redis_server, redis, keys,
                                                             marie_has_c1):
    async with console_of(redis_server, "marie") as (marie, console):
        # The limit counts in fixed windows: all of this inside one (it takes well under 1 s).
        await asyncio.sleep(AGENT_API.window - time.time() % AGENT_API.window + 0.05)
        answers = []
        for n in range(AGENT_API.limit + 5):
            await console.ws.send_json({"type": "message.send", "conversation_id": "c1",
                                        "text": f"n{n}", "client_id": f"m-{n}"})
        for _ in range(AGENT_API.limit + 5):
            answers.append(await console.answer())
        kinds = [a["type"] for a in answers]
        accepted = kinds.count("message.accepted")
        assert kinds == ["message.accepted"] * AGENT_API.limit + ["message.refused"] * 5
        refused = [a for a in answers if a["type"] == "message.refused"]
        assert {a["error"]["code"] for a in refused} == {"too_many_requests"}
        assert all(a["retry_after"] >= 1 for a in refused)
        status, body = await marie.post("/api/conversations/c1/messages",
                                        {"text": "by post", "client_id": "late"})
        assert status == 429, body
        assert len(await _outbox(redis, keys)) == accepted


async def test_a_frame_too_big_for_the_socket_closes_it_and_nothing_is_sent(
        redis_server, redis, keys, marie_has_c1):
    async with console_of(redis_server, "marie") as (marie, console):
        await console.ws.send_json({"type": "message.send", "conversation_id": "c1",
                                    "text": "x" * 40_000, "client_id": "big"})
        message = await console.ws.receive(timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await asyncio.sleep(0.1)
        assert await _outbox(redis, keys) == []


# What the socket may answer a frame with (docs/agent-api.md): `message.send`'s documented
# refusals, and `error bad_json` for a frame that is no JSON. Nothing else, and never silence
# where an answer is owed; a server error would close the socket.
SEND_REFUSALS = {"not_yours", "customer_unreachable", "empty_message", "message_too_long",
                 "bad_request", "not_found", "too_many_requests", "unauthenticated"}
FUZZ_FRAMES = 100  # under the agent API's limit (120 per 10 s): each is judged, none throttled
ANSWERS = ("message.accepted", "message.refused", "error", "pong")


def _hostile_frame(r: random.Random, n: int) -> str:
    """A frame a careless or hostile console sends: mostly a `message.send` gone wrong."""
    roll = r.random()
    if roll < 0.06:
        return r.choice(["{", "not json", "", "[" * 5000 + "]" * 5000, '{"type": "message.send"',
                         "\udcff"])
    if roll < 0.16:
        return json.dumps(value(r))
    good = {"type": "message.send", "conversation_id": "c1", "text": f"hello {n}",
            "client_id": f"f-{n}"}
    return json.dumps(mutate(r, good, changes=r.randint(1, 3)))


def _owed(raw: str) -> List[str]:
    """The answers the socket owes a frame, by type, before the pong of the ping after it."""
    try:
        frame = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return ["error"]
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind == "ping":
        return ["pong"]
    if kind == "message.send":
        return ["message.send"]
    return []


async def test_hostile_frames_get_a_documented_answer_and_only_what_was_accepted_is_sent(
        redis_server, redis, keys, marie_has_c1):
    r = random.Random(SEED)
    print(f"FUZZ_SEED={SEED}")
    accepted: List[str] = []
    async with console_of(redis_server, "marie") as (marie, console):
        sent = 0
        while sent < FUZZ_FRAMES:
            raw = _hostile_frame(r, sent)
            if len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME:
                continue  # closes the socket: test_a_frame_too_big_for_the_socket_closes_it...
            sent += 1
            await console.ws.send_str(raw)
            await console.ws.send_json({"type": "ping"})
            answers = []
            while True:
                got = await console.ws.receive(timeout=10)
                assert got.type == aiohttp.WSMsgType.TEXT, (raw[:200], got)
                frame = json.loads(got.data)
                if frame["type"] in ANSWERS:
                    answers.append(frame)
                if frame["type"] == "pong" and len(answers) > len(_owed(raw)):
                    break
            owed, answers = _owed(raw), answers[:-1]
            assert len(answers) == len(owed), (raw[:200], answers)
            for want, answer in zip(owed, answers, strict=True):
                if want == "message.send":
                    assert answer["type"] in ("message.accepted", "message.refused"), answer
                    if answer["type"] == "message.refused":
                        assert answer["error"]["code"] in SEND_REFUSALS, (raw[:200], answer)
                        assert answer["error"]["message"]
                    else:
                        accepted.append(json.loads(raw)["text"].strip())
                elif want == "error":
                    assert answer == {"type": "error", "code": "bad_json"}, answer
                else:
                    assert answer["type"] == want, answer
        # Some got through, some were refused: the fuzz reached both sides of the door.
        assert accepted and len(accepted) < FUZZ_FRAMES
        outbox = [m["text"] for m in await _outbox(redis, keys)]
        assert outbox == accepted


async def test_a_frame_nested_as_deep_as_json_allows_is_answered(redis_server, redis, keys,
                                                                marie_has_c1):
    """600 levels: json.loads takes them; the check for text that cannot be stored once
    recursed, and crashed the socket's handler, from about 500."""
    deep = "[" * 600 + '"\\udcff"' + "]" * 600
    async with console_of(redis_server, "marie") as (marie, console):
        await console.ws.send_str('{"type": "message.send", "conversation_id": "c1", '
                                  f'"text": "hi", "client_id": "deep", "x": {deep}}}')
        answer = await console.answer()
        assert answer["type"] == "message.refused" and answer["error"]["code"] == "bad_request"
        assert (await console.send(conversation_id="c1", text="ok",
                                   client_id="after"))["type"] == "message.accepted"
        assert [m["text"] for m in await _outbox(redis, keys)] == ["ok"]
