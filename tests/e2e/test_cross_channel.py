"""One customer across channels (issue 5): the agent moves a conversation from the web chat to
Messenger and back with a one-time link; the customer continues in the same conversation, with
its history, and the agent sees their earlier conversations on every channel.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.conftest import PAGE_ID, Customer, MessengerCustomer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CODE = re.compile(r"HF-[A-Z0-9]{8}")


def _psid() -> str:
    return str(uuid.uuid4().int)[:16]


def _texts(graph, psid):
    return [m["message"].get("text", "") for m in graph.messages(psid)]


async def test_web_to_messenger_and_earlier_conversations(stack, graph, agents, customer_factory):
    marie = agents["marie"]
    await marie.connect_ws()
    # This person once wrote to the page on Messenger, and was helped.
    messenger = MessengerCustomer(stack, _psid())
    await messenger.say("I want to talk to a human")
    await graph.wait_for(lambda _: len(graph.messages(messenger.psid)) >= 1)
    status, _ = await marie.post(f"/api/conversations/{messenger.psid}/claim", {})
    assert status == 200
    status, _ = await marie.post(f"/api/conversations/{messenger.psid}/close", {})
    assert status == 200

    # Today they are on the website.
    web = await customer_factory()
    cid = web.session_id
    await web.say("where is my order 10234?")
    await web.reply()
    await web.say("I want to talk to a person")
    await web.reply()
    status, _ = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200
    status, body = await marie.get(f"/api/conversations/{cid}")
    assert body["conversation"]["earlier"] == []  # not linked yet: nothing to show

    status, body = await marie.post(f"/api/conversations/{cid}/move", {"to": "web"})
    assert status == 409 and body["error"]["code"] == "same_channel"
    status, body = await marie.post(f"/api/conversations/{cid}/move", {"to": "messenger"})
    assert status == 200, body
    assert body["link"] == f"https://m.me/{PAGE_ID}?ref={body['code']}"
    told = await web.reply(lambda m: m.get("notice") == "continue_on_messenger")
    assert body["link"] in told["text"]

    # They open the m.me link: Messenger sends the referral; they are told, and continue there.
    assert await messenger.post(messenger.event(referral=body["code"])) == 200
    await graph.wait_for(lambda _: any("we continue here" in t
                                       for t in _texts(graph, messenger.psid)))
    await messenger.say("Hello, it's me on Messenger now")
    frame = await marie.frame(lambda f: f["type"] == "message" and f["conversation_id"] == cid
                              and f["turn"]["text"] == "Hello, it's me on Messenger now")
    assert frame["turn"]["kind"] == "customer"

    # Marie answers in the same conversation; the reply goes to Messenger, not the web page.
    status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                 {"text": "Great, I have everything here."})
    assert status == 202
    await graph.wait_for(lambda _: "Great, I have everything here." in
                         _texts(graph, messenger.psid))
    assert not [m for m in web.history if m.get("text") == "Great, I have everything here."]

    # The context now shows the customer's earlier conversation on Messenger, and the channel.
    status, body = await marie.get(f"/api/conversations/{cid}")
    conversation = body["conversation"]
    assert conversation["reach"]["channel"] == "messenger"
    assert [e["channel"] for e in conversation["earlier"]] == ["messenger"]
    assert "Hello, it's me on Messenger now" in [t["text"] for t in conversation["transcript"]]

    # A code works once.
    stranger = MessengerCustomer(stack, _psid())
    assert await stranger.post(stranger.event(referral=body_code(told["text"]))) == 200
    await graph.wait_for(lambda _: any("expired or was already used" in t
                                       for t in _texts(graph, stranger.psid)))
    status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
    assert status == 200


def body_code(text: str) -> str:
    found = CODE.search(text)
    assert found, text
    return found.group(0)


async def test_messenger_to_web_with_the_history(stack, graph, agents):
    marie = agents["marie"]
    await marie.connect_ws()
    messenger = MessengerCustomer(stack, _psid())
    await messenger.say("I want to talk to a human")
    await graph.wait_for(lambda _: len(graph.messages(messenger.psid)) >= 1)
    cid = messenger.psid
    status, _ = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200
    status, body = await marie.post(f"/api/conversations/{cid}/move", {"to": "web"})
    assert status == 200, body
    assert body["link"].endswith(f"/chat?link={body['code']}")
    await graph.wait_for(lambda _: any(body["link"] in t for t in _texts(graph, cid)))

    # The link opens the chat page: the same conversation, with what was said on Messenger.
    web = Customer(stack.rasa_url)
    try:
        await web.connect(link=body["code"])
        assert web.session_id == cid
        await web.reply(lambda m: "suggests we continue in the chat" in m.get("text", ""))
        assert [e["text"] for e in web.echoes] == ["I want to talk to a human"]
        await web.say("Hello from the website")
        await marie.frame(lambda f: f["type"] == "message" and f["conversation_id"] == cid
                          and f["turn"]["text"] == "Hello from the website")
        sent_to_messenger = len(graph.messages(cid))
        status, _ = await marie.post(f"/api/conversations/{cid}/messages",
                                     {"text": "Welcome to the website"})
        assert status == 202
        got = await web.reply(lambda m: m.get("text") == "Welcome to the website")
        assert got["agent"] == "Marie"
        assert len(graph.messages(cid)) == sent_to_messenger  # nothing more on Messenger

        # The same link cannot open it a second time.
        again = Customer(stack.rasa_url)
        try:
            await again.connect(link=body["code"])
            assert again.session_id != cid
        finally:
            await again.close()
    finally:
        await web.close()
    status, _ = await marie.post(f"/api/conversations/{cid}/close", {})
    assert status == 200
