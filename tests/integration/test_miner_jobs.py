"""The console's miner jobs (`handoff.service.insights.miner.jobs`) on trackers saved by Rasa's own
store:
questions by language and period, progress, the kept result, good answers marked afterwards,
the cap on messages, and the period parsing of the API."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from rasa.shared.core.trackers import DialogueStateTracker

from handoff.keys import Keys
from handoff.service.api.errors import ApiError
from handoff.service.api.miner_routes import question
from handoff.service.insights.knowledge import GoodAnswers, question_for
from handoff.service.insights.miner.jobs import MinerJobs, Question
from handoff.transcript import turns_from_events
from tests.integration.test_miner_redis import _handed_off, _save_with_rasa

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EN = ["Do you sell gift cards?", "Can I buy a gift card online?", "gift card balance please",
      "is there a gift card for 50 euros", "my gift card was declined, write to ann@shop.example"]
FR = ["Vous vendez des cartes cadeaux ?", "Je peux acheter une carte cadeau en ligne ?",
      "le solde de ma carte cadeau svp", "une carte cadeau de 50 euros existe ?"]
DAY = datetime.datetime(2024, 5, 2, 12, tzinfo=datetime.timezone.utc).timestamp()


async def _saved(redis_server) -> None:
    trackers = [_handed_off(f"en-{n}", q, "Yes: shop.example/gift-cards", "en", DAY + 100 * n)
                for n, q in enumerate(EN)]
    trackers += [_handed_off(f"fr-{n}", q, "Oui : shop.example/cartes", "fr",
                             DAY + 86400 + 100 * n) for n, q in enumerate(FR)]
    await _save_with_rasa(redis_server, trackers)


async def _finished(jobs: MinerJobs, question: Question, **kw):
    job = await jobs.job(question, **kw)
    for _ in range(600):  # bounded: 60 s
        if not job.running:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the analysis did not finish")


async def test_jobs_answer_by_language_and_period_and_keep_the_result(redis, redis_server
                                                                      ) -> None:
    await _saved(redis_server)
    jobs = MinerJobs(redis, Keys())
    try:
        job = await jobs.job(Question(), wait=0)
        assert job.running and job.stage == "reading"  # answered at once, the page polls
        job = await _finished(jobs, Question())
        assert job.stage == "done" and job.messages == 2 * (len(EN) + len(FR))
        assert job.conversations == len(EN) + len(FR)
        assert (await jobs.job(Question())).id == job.id  # kept
        assert (await jobs.job(Question(), refresh=True)).id != job.id

        english = await _finished(jobs, Question(language="en"))
        groups, unplaced = await jobs.groups(english)
        assert {g.language for g in groups} == {"en"} and unplaced == []
        texts = [m for g in groups for m in g.messages]
        assert "my gift card was declined, write to [email]" in texts
        assert not any("ann@shop.example" in t for t in texts)

        french_day = await _finished(jobs, question({"from": "2024-05-03", "to": "2024-05-03"},
                                                    DAY)[0])
        assert french_day.messages == 2 * len(FR)
        assert {g.language for g in (await jobs.groups(french_day))[0]} == {"fr"}
    finally:
        await jobs.close()


async def test_a_reply_marked_later_is_attached_without_mining_again(redis, redis_server
                                                                     ) -> None:
    await _saved(redis_server)
    jobs = MinerJobs(redis, Keys())
    try:
        job = await _finished(jobs, Question(language="en"))
        groups, _ = await jobs.groups(job)
        assert all(g.good_answers == [] for g in groups)
        tracker: DialogueStateTracker = _handed_off("en-0", EN[0], "Yes: shop.example/gift-cards",
                                                    "en", DAY)
        turns = turns_from_events([e.as_dict() for e in tracker.events])
        question, answer = question_for(turns, next(t["id"] for t in turns
                                                    if t["kind"] == "agent"))
        await GoodAnswers(redis, Keys()).mark("en-0", question, answer, marked_by="sam")
        again = await jobs.job(Question(language="en"))
        assert again.id == job.id
        groups, _ = await jobs.groups(again)
        marked = [p for g in groups for p in g.good_answers]
        assert [(p["question"], p["answer"]) for p in marked] == [
            ("Do you sell gift cards? (again)", "Yes: shop.example/gift-cards")]
        draft = await jobs.draft([g for g in groups if g.good_answers])
        assert "Yes: shop.example/gift-cards" in draft and "ann@shop.example" not in draft
    finally:
        await jobs.close()


async def test_only_the_latest_messages_of_a_language_are_analysed(redis, redis_server) -> None:
    await _saved(redis_server)
    jobs = MinerJobs(redis, Keys(), max_messages=4)
    try:
        job = await _finished(jobs, Question())
        assert job.truncated and job.messages == 8
    finally:
        await jobs.close()


def test_questions_read_days_in_the_consoles_time_zone_and_refuse_bad_ones() -> None:
    asked, period = question({"from": "2024-05-02", "to": "2024-05-02"}, DAY)
    assert (asked.since, asked.until) == (period.start, period.end)
    assert asked.until - asked.since == 86400 and asked.since == datetime.datetime(
        2024, 5, 2, tzinfo=datetime.timezone.utc).timestamp()
    paris, shown = question({"from": "2024-05-02", "tz": "Europe/Paris", "language": "fr"}, DAY)
    assert (paris.language, paris.since, paris.until) == ("fr", asked.since - 7200,
                                                          asked.until - 7200)
    assert (shown.asked_from, shown.asked_to, shown.tz.key) == ("2024-05-02", "2024-05-02",
                                                                "Europe/Paris")
    # Without dates: the last 30 days, today included.
    everything, period = question({}, DAY)
    assert (period.asked_from, period.asked_to) == ("2024-04-03", "2024-05-02")
    assert (everything.language, everything.since, everything.until) == (
        None, asked.since - 29 * 86400, asked.until)
    for bad, code in [({"from": "2024-5-2"}, "bad_date"), ({"from": "2024-02-30"}, "bad_date"),
                      ({"from": "2024-05-03", "to": "2024-05-02"}, "bad_range"),
                      ({"tz": "120"}, "bad_timezone"), ({"tz": "east"}, "bad_timezone"),
                      ({"language": "de"}, "bad_language")]:
        with pytest.raises(ApiError) as caught:
            question(bad, DAY)
        assert caught.value.code == code, bad


async def test_a_kept_result_is_dropped_once_a_customer_is_erased(redis, redis_server) -> None:
    await _saved(redis_server)
    jobs = MinerJobs(redis, Keys())
    try:
        job = await _finished(jobs, Question(language="en"))
        assert (await jobs.job(Question(language="en"))).id == job.id  # kept
        await redis.delete("hfv1:tracker:en-0")  # an erasure (handoff.privacy.erase) ...
        await redis.incr(Keys().data_removed)  # ... says so to every process's cache
        again = await _finished(jobs, Question(language="en"))
        assert again.id != job.id and again.conversations == len(EN) + len(FR) - 1
        shown = [m for g in again.mining.groups for m in g.messages] + again.mining.ungrouped
        assert EN[0] in [m for g in job.mining.groups for m in g.messages] + job.mining.ungrouped
        assert EN[0] not in shown
    finally:
        await jobs.close()
