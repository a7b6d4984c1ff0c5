"""Working on a conversation through the agent API: notes, canned responses, transfer, presence."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import rasa_tracker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def test_note_transfer_canned_and_presence(stack, agents, customer_factory):
    marie, paul = agents["marie"], agents["paul"]
    await paul.connect_ws()
    customer = await customer_factory()
    cid = customer.session_id
    await customer.say("I need to speak to someone please, a real person")
    await customer.reply()
    status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200, body
    await customer.reply(lambda m: m.get("notice") == "agent_joined")

    # An internal note: other agents cannot read it, the customer never gets it.
    status, body = await marie.post(f"/api/conversations/{cid}/notes",
                                    {"text": "Long-time customer, be generous"})
    assert status == 201
    status, body = await paul.get(f"/api/conversations/{cid}/notes")
    assert status == 404
    status, body = await marie.post(f"/api/conversations/{cid}/notes", {"text": " "})
    assert status == 400 and body["error"]["code"] == "empty_message"

    status, body = await marie.get("/api/canned?q=rembourse")
    assert status == 200 and [c["id"] for c in body["canned"]] == ["refund", "returns"]
    assert body["canned"][0]["text"]["fr"].startswith("J'ai lancé")

    # Transfer to Paul with a note: he is told first, the customer is told who joined.
    status, body = await marie.post(f"/api/conversations/{cid}/transfer",
                                    {"to": "nobody", "note": ""})
    assert status == 400 and body["error"]["code"] == "unknown_agent"
    status, body = await marie.post(f"/api/conversations/{cid}/transfer",
                                    {"to": "paul", "note": "Refund question, over to you"})
    assert status == 200 and body["conversation"]["state"] == "transferred"
    frame = await paul.frame(lambda f: f["type"] == "note" and f["conversation_id"] == cid)
    assert frame["note"]["text"] == "Marie → Paul: Refund question, over to you"
    joined = await customer.reply(lambda m: m.get("notice") == "agent_joined")
    assert joined["text"].startswith("Paul from our team")
    status, body = await marie.post(f"/api/conversations/{cid}/messages", {"text": "hi"})
    assert status == 409 and body["error"]["code"] == "not_yours"
    status, body = await paul.get(f"/api/conversations/{cid}")
    assert status == 200
    assert [n["text"] for n in body["conversation"]["notes"]] == [
        "Long-time customer, be generous", "Marie → Paul: Refund question, over to you"]
    status, body = await paul.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200 and body["conversation"]["state"] == "assigned"
    status, _ = await paul.post(f"/api/conversations/{cid}/messages",
                                {"text": "Paul here, I'll sort out the refund."})
    assert status == 202
    got = await customer.reply(lambda m: m.get("agent"))
    assert got["agent"] == "Paul"

    tracker = await rasa_tracker(stack, cid)
    texts = [e.get("text") or "" for e in tracker["events"]]
    assert not any("generous" in t or "over to you" in t for t in texts)
    assert not any("generous" in (m.get("text") or "") for m in customer.history)

    # Typing indicators both ways.
    await customer.sio.emit("user_typing", {"session_id": cid, "typing": True})
    frame = await paul.frame(lambda f: f["type"] == "typing")
    assert frame == {"type": "typing", "conversation_id": cid, "typing": True}
    status, _ = await paul.post(f"/api/conversations/{cid}/typing", {"typing": True})
    assert status == 200
    assert await wait_for(customer.typing, lambda d: True) == {"typing": True, "agent": "Paul"}
    status, body = await marie.post(f"/api/conversations/{cid}/typing", {"typing": True})
    assert status == 409 and body["error"]["code"] == "not_yours"
    # A customer cannot pretend to type in someone else's conversation.
    await customer.sio.emit("user_typing", {"session_id": "someone-else", "typing": True})

    # Presence (Sam's, so that other tests' agents keep theirs).
    sam = agents["sam"]
    status, body = await sam.post("/api/me/presence", {"status": "away"})
    assert status == 200 and body["agent"]["presence"] == "away"
    status, body = await paul.get("/api/agents")
    by_name = {a["username"]: a for a in body["agents"]}
    assert by_name["sam"]["presence"] == "away" and by_name["paul"]["load"] >= 1
    status, body = await sam.post("/api/me/presence", {"status": "asleep"})
    assert status == 400 and body["error"]["code"] == "bad_request"
    status, body = await sam.post("/api/me/presence", {"status": "online"})
    assert status == 200 and body["agent"]["presence"] == "online"


async def test_a_supervisor_reassigns(stack, agents, customer_factory):
    marie, paul, sam = agents["marie"], agents["paul"], agents["sam"]
    customer = await customer_factory()
    cid = customer.session_id
    await customer.say("agent please")
    await customer.reply()
    status, body = await marie.post(f"/api/conversations/{cid}/reassign", {"to": "paul"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await sam.post(f"/api/conversations/{cid}/reassign",
                                  {"to": "marie", "note": "VIP"})
    assert status == 200 and body["conversation"]["state"] == "assigned"
    assert body["conversation"]["agent"] == "marie"
    await customer.reply(lambda m: m.get("notice") == "agent_joined")
    status, body = await sam.post(f"/api/conversations/{cid}/reassign", {"to": "paul"})
    assert status == 200 and body["conversation"]["state"] == "transferred"
    status, body = await sam.get("/api/supervisor/conversations")
    assert status == 200
    held = {c["id"]: c for c in body["conversations"]}[cid]
    assert (held["state"], held["agent"], held["agent_name"]) == ("transferred", "paul", "Paul")
    assert held["ticket"]["reason"] == "asked"
    status, _ = await marie.get("/api/supervisor/conversations")
    assert status == 403
    status, body = await paul.get(f"/api/conversations/{cid}")
    assert [n["text"] for n in body["conversation"]["notes"]] == ["Sam → Marie: VIP",
                                                                  "Sam → Paul"]


async def test_transfer_to_a_team(stack, agents, customer_factory):
    marie, paul, sam = agents["marie"], agents["paul"], agents["sam"]
    for agent in agents.values():
        await agent.connect_ws()
    customer = await customer_factory()
    cid = customer.session_id
    await customer.say("Je voudrais parler à un conseiller s'il vous plaît")
    await customer.reply()
    status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200, body
    status, body = await marie.get("/api/teams")
    assert status == 200
    billing = {t["id"]: t for t in body["teams"]}["billing"]
    assert billing["label"]["fr"] == "Facturation et paiements" and billing["members"] >= 1

    status, body = await marie.post(f"/api/conversations/{cid}/transfer", {"team": "legal"})
    assert status == 400 and body["error"]["code"] == "unknown_team"
    status, body = await marie.post(f"/api/conversations/{cid}/transfer",
                                    {"team": "billing", "note": "Double charge on 10234"},
                                    headers={"Accept-Language": "fr-FR"})
    assert status == 200, body
    assert body["conversation"]["state"] == "queued"
    assert body["conversation"]["team"] == "billing"

    # Paul (billing) and Sam (supervisor) see it in their queue, with the note; Marie does not.
    frame = await paul.frame(lambda f: f["type"] == "ticket.queued"
                             and f["ticket"]["conversation_id"] == cid
                             and f["ticket"]["team"] == "billing")
    assert frame["ticket"]["reason"] == "asked"
    for agent in (paul, sam):
        status, body = await agent.get("/api/queue")
        assert cid in [t["conversation_id"] for t in body["tickets"]]
    status, body = await marie.get("/api/queue")
    assert cid not in [t["conversation_id"] for t in body["tickets"]]
    status, body = await paul.get(f"/api/conversations/{cid}/notes")
    assert body["notes"][-1]["text"] == "Marie → Facturation et paiements: Double charge on 10234"
    told = await customer.reply(lambda m: m.get("notice") == "transferred_to_team")
    assert "Facturation et paiements" in told["text"] and "Marie" in told["text"]

    status, body = await marie.post(f"/api/conversations/{cid}/claim", {})
    assert status == 403 and body["error"]["code"] == "other_team"
    status, body = await marie.get(f"/api/conversations/{cid}")
    assert status == 404
    status, body = await paul.post(f"/api/conversations/{cid}/claim", {})
    assert status == 200 and body["conversation"]["agent"] == "paul"
    await paul.frame(lambda f: f["type"] == "conversation.state" and f["conversation_id"] == cid
                     and f["state"] == "assigned")
    # State frames go to the agents concerned and to supervisors, not to the whole floor:
    # once a later frame for everyone has reached Marie, she has had no word of Paul's claim.
    await sam.post("/api/me/presence", {"status": "online"})
    await marie.frame(lambda f: f["type"] == "agent.presence" and f["agent"] == "sam")
    assert not [f for f in marie.all_frames if f["type"] == "conversation.state"
                and f["conversation_id"] == cid and f["state"] == "assigned"
                and f["agent"] == "paul"]
    assert [f for f in sam.all_frames if f["type"] == "conversation.state"
            and f["conversation_id"] == cid and f["agent"] == "paul"]
    status, _ = await paul.post(f"/api/conversations/{cid}/close", {"resolution": "resolved"})
    assert status == 200
