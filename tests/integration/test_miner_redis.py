"""The miner reads trackers saved by the project's tracker store (hash-tagged keys) and by Rasa's
own RedisTrackerStore (trackers not yet moved to that layout), and the good-answer store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import UrlRedisTrackerStore
from handoff.keys import Keys
from handoff.service.insights.knowledge import GoodAnswers, question_for
from handoff.service.insights.miner.__main__ import main
from handoff.service.insights.miner.source import read_messages
from handoff.transcript import turns_from_events

pytestmark = pytest.mark.integration

AGENT = {"handoff_agent": "alice", "agent": "Alice"}


def _user(text: str, intent: str, at: float, language: str = "en") -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9},
                       entities=[{"entity": "language", "value": language}], timestamp=at)


def _handed_off(sender: str, question: str, reply: str, language: str, start: float
                ) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_listen", timestamp=start),
        _user(question, "out_of_scope", start + 1, language),
        _user("agent please", "request_human", start + 2, language),
        ConversationPaused(timestamp=start + 3),
        _user(question + " (again)", "out_of_scope", start + 10, language),
        BotUttered(reply, metadata=AGENT, timestamp=start + 20),
        ConversationResumed(timestamp=start + 123),
    ]
    return DialogueStateTracker.from_events(sender, events)


async def _save_with_rasa(redis_server, trackers) -> None:
    store = RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=redis_server.port,
                              key_prefix="hfv1")
    for tracker in trackers:
        await store.save(tracker)


async def test_reads_the_handed_off_messages_of_trackers_rasa_saved(redis, redis_server
                                                                    ) -> None:
    await _save_with_rasa(redis_server, [
        _handed_off("web-1", "Do you sell gift cards?", "Yes, from 10 euros.", "en", 1000.0),
        DialogueStateTracker.from_events("web-3", [
            ActionExecuted("action_listen", timestamp=3000.0),
            _user("where is my order", "order_status", 3001.0)]),
    ])
    ours = UrlRedisTrackerStore(Domain.empty(), host=redis_server.url, key_prefix="hfv1")
    await ours.save(_handed_off("web-2", "Vous vendez des cartes cadeaux ?", "Oui, dès 10 €.",
                                "fr", 2000.0))
    assert await redis.exists("hfv1:tracker:web-1")  # Rasa's own key layout
    assert await redis.exists("hfv1:tracker:{web-2}")  # the project's
    messages = await read_messages(redis, "hfv1")
    assert [(m.conversation_id, m.text, m.language) for m in messages] == [
        ("web-1", "Do you sell gift cards?", "en"),
        ("web-1", "Do you sell gift cards? (again)", "en"),
        ("web-2", "Vous vendez des cartes cadeaux ?", "fr"),
        ("web-2", "Vous vendez des cartes cadeaux ? (again)", "fr"),
    ]
    assert all(m.handling_time == 120.0 for m in messages)
    assert messages[1].agent_reply == "Yes, from 10 euros." and messages[1].agent == "Alice"
    assert [m.text for m in await read_messages(redis, "hfv1", since=1500.0)] == [
        "Vous vendez des cartes cadeaux ?", "Vous vendez des cartes cadeaux ? (again)"]


async def test_good_answers_are_marked_listed_and_unmarked(redis) -> None:
    store = GoodAnswers(redis, Keys())
    tracker = _handed_off("web-9", "Do you sell gift cards?", "Yes, from 10 euros.", "en", 10.0)
    turns = turns_from_events([e.as_dict() for e in tracker.events])
    question, answer = question_for(turns, next(t["id"] for t in turns if t["kind"] == "agent"))
    first = await store.mark("web-9", question, answer, marked_by="bob", at=50.0)
    again = await store.mark("web-9", question, answer, marked_by="bob", at=60.0)
    assert first.id == again.id
    listed = await store.list()
    assert len(listed) == 1 and listed[0].marked_at == 60.0
    assert listed[0].question == "Do you sell gift cards? (again)"
    assert listed[0].answer == "Yes, from 10 euros." and listed[0].agent == "alice"
    stored = json.loads(await redis.hget("hf:v1:knowledge:good-answers", first.id))
    assert stored["conversation_id"] == "web-9"
    assert await store.unmark(first.id) is True
    assert await store.unmark(first.id) is False
    assert await store.list() == []


async def test_command_lists_groups_and_exports_a_draft(redis, redis_server, tmp_path: Path,
                                                        capsys) -> None:
    questions = ["Do you sell gift cards?", "Can I buy a gift card online?",
                 "my gift card is declined, order 12345", "gift card balance please",
                 "is there a gift card for 50 euros"]
    await _save_with_rasa(redis_server, [
        _handed_off(f"web-{n}", q, "Yes: shop.example/gift-cards", "en", 1000.0 * n)
        for n, q in enumerate(questions)])
    tracker = _handed_off("web-0", questions[0], "Yes: shop.example/gift-cards", "en", 0.0)
    turns = turns_from_events([e.as_dict() for e in tracker.events])
    question, answer = question_for(turns, next(t["id"] for t in turns if t["kind"] == "agent"))
    await GoodAnswers(redis, Keys()).mark("web-0", question, answer, marked_by="alice")

    status = await asyncio.to_thread(main, ["groups", "--json", "--redis-url", redis_server.url])
    assert status == 0
    shown = json.loads(capsys.readouterr().out)
    group = shown["groups"][0]
    assert group["volume"] == 10 and "gift" in " ".join(group["terms"])
    assert group["good_answers"][0]["answer"] == "Yes: shop.example/gift-cards"
    assert "12345" not in json.dumps(shown)

    out = tmp_path / "draft.yml"
    status = await asyncio.to_thread(main, ["export", group["id"], "--out", str(out),
                                            "--redis-url", redis_server.url])
    assert status == 0
    draft = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert len(draft["nlu"][0]["examples"].strip().splitlines()) == 10
    assert "[order]" in draft["nlu"][0]["examples"]

    assert await asyncio.to_thread(main, ["export", "99", "--out", str(out),
                                          "--redis-url", redis_server.url]) == 2
    assert "no group 99" in capsys.readouterr().err
