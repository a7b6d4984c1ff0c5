"""Agent API routes of the miner (issue 8), for supervisors.

What customers ask that the bot can't answer yet, grouped and ranked, and a group's draft NLU
intent and FAQ answer.

See docs/agent-api.md. The mining itself is `handoff.service.insights.miner` (run off the event
loop by
`handoff.service.insights.miner.jobs`); everything these routes return is masked (`handoff.pii`).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Mapping, Tuple

from aiohttp import web

from handoff.service import appkeys as app_keys
from handoff.service.api.access import current_supervisor
from handoff.service.api.errors import ApiError
from handoff.service.insights.miner.jobs import Job, MinerBusy, MinerJobs, Question
from handoff.service.insights.periods import Period, parse_period

if TYPE_CHECKING:
    from handoff.service.insights.miner.grouping import Group

MINER = web.AppKey("miner", MinerJobs)
LANGUAGES = ("fr", "en")
SORTS = ("volume", "handling")
EXAMPLES = 10  # masked messages shown per group (the export has them all)
REPLIES = 3  # agents' most frequent replies shown per group
DEFAULT_WAIT = 2.0  # seconds a request waits for the analysis before answering "running"
MAX_WAIT = 10.0
# Without dates, the last 30 days (today included): what customers ask now, not gaps that a
# retraining months ago may have filled; and the analysis's cap on messages then rarely cuts
# a period the page did not choose.
DEFAULT_DAYS = 30
MAX_ANSWER = 1000  # characters of a proposed answer
# The checkout whose assistant a proposed change is checked against (this service's own).
DESIGNER_ROOT = Path(__file__).resolve().parents[3]  # the repository (domain.yml, data/)


def setup(app: web.Application) -> None:
    """Registers the routes and the miner's jobs (made with the app's Redis, stopped with it)."""
    app.router.add_get("/api/miner/groups", groups)
    app.router.add_get("/api/miner/groups/{group}/export", export)
    app.router.add_get("/api/miner/groups/{group}/change", change)
    app.cleanup_ctx.append(_miner)


async def _miner(app: web.Application):
    app[MINER] = MinerJobs(app[app_keys.REDIS], app[app_keys.KEYS])
    yield
    await app[MINER].close()


async def groups(request: web.Request) -> web.Response:
    """The groups of the question asked, ranked; `202` with the progress while analysing."""
    await current_supervisor(request)
    asked, period = question(request.query, time.time())
    sort = _sort(request)
    job = await _job(request, asked)
    if job.running:
        return web.json_response(_progress(job, period), status=202)
    from handoff.service.insights.miner.grouping import rank  # loaded by the analysis already

    found, unplaced = await request.app[MINER].groups(job)
    assert job.mining is not None and job.finished_at is not None
    return web.json_response({
        "status": "ready", "mining_id": job.id, "computed_at": job.finished_at,
        "conversations_read": job.conversations, "messages": job.messages,
        "truncated": job.truncated, "sort": sort, "language": asked.language,
        "period": period.public(),
        "groups": [_group_json(g) for g in rank(found, sort)],
        "ungrouped": len(job.mining.ungrouped), "candidate_faq": unplaced,
    })


async def export(request: web.Request) -> web.Response:
    """A group as a draft NLU intent (Rasa YAML) with its draft FAQ answer, as a download."""
    found = await _draft(request)
    if isinstance(found, web.Response):
        return found
    group, intent, text = found
    filename = re.sub(r"[^a-z0-9_]+", "_", (intent or group.intent_name).lower()).strip("_")
    return web.Response(text=text, content_type="application/x-yaml", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename or "draft"}.yml"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


async def change(request: web.Request) -> web.Response:
    """A group accepted as an intent: the change to the assistant and the designer's check.

    The patch (domain.yml, data/, tests/stories/, teams.yml) comes only when the check passes;
    nothing is written here: the patch goes to a bot designer's pull request
    (docs/bot-designers.md, `python -m designer adopt`).
    """
    answers = {lang: request.query.get(f"answer_{lang}", "").strip() for lang in LANGUAGES}
    team = request.query.get("team") or None
    if any(len(a) > MAX_ANSWER for a in answers.values()) or (team and len(team) > 100):
        raise ApiError("bad_request")
    found = await _draft(request)
    if isinstance(found, web.Response):
        return found
    group, intent, text = found
    from designer.adopt import AdoptError, propose  # the designer's tools: YAML only, no Rasa

    try:
        result = await asyncio.get_running_loop().run_in_executor(
            None, lambda: propose(DESIGNER_ROOT, text, intent or group.intent_name, team,
                                  answers))
    except AdoptError as exc:
        raise ApiError(exc.code) from exc
    return web.json_response(result, headers={"Cache-Control": "no-store"})


async def _draft(request: web.Request) -> "Tuple[Group, str, str] | web.Response":
    """The group named in the path, the intent name asked and the group's draft."""
    await current_supervisor(request)
    asked, period = question(request.query, time.time())
    intent = request.query.get("intent", "")
    if len(intent) > 100:
        raise ApiError("bad_intent")
    job = await _job(request, asked)
    if job.running:
        return web.json_response(_progress(job, period), status=202)
    mining_id = request.query.get("mining_id")
    if mining_id and mining_id != job.id:
        raise ApiError("groups_changed")
    found, _ = await request.app[MINER].groups(job)
    group = next((g for g in found if g.id == request.match_info["group"]), None)
    if group is None:
        raise ApiError("unknown_group")
    try:
        text = await request.app[MINER].draft([group], intent)
    except ValueError as exc:  # an intent name without letters or digits
        raise ApiError("bad_intent") from exc
    return group, intent, text


async def _job(request: web.Request, asked: Question) -> Job:
    refresh = request.query.get("refresh") in ("1", "true")
    try:
        job = await request.app[MINER].job(asked, refresh=refresh, wait=_wait(request))
    except MinerBusy as exc:
        raise ApiError("miner_busy") from exc
    if job.stage == "failed":
        raise ApiError("mining_failed")
    return job


def _progress(job: Job, period: Period) -> Dict[str, Any]:
    return {"status": "running", "stage": job.stage, "started_at": job.started_at,
            "conversations_read": job.conversations, "messages": job.messages,
            "period": period.public()}


def _group_json(group: Group) -> Dict[str, Any]:
    return {
        "id": group.id, "language": group.language, "intent_name": group.intent_name,
        "volume": group.volume, "conversations": len(group.conversations),
        "handling_time_total": group.handling_time_total,
        "handling_time_median": group.handling_time_median,
        "typical": group.typical, "terms": group.terms, "examples": group.messages[:EXAMPLES],
        "agent_replies": [{"text": text, "count": count}
                          for text, count in group.agent_replies[:REPLIES]],
        "good_answers": group.good_answers,
    }


def question(query: Mapping[str, str], now: float) -> Tuple[Question, Period]:
    """The question of `?language=&from=&to=&tz=` and its period (`insights.periods`)."""
    language = query.get("language") or None
    if language is not None and language not in LANGUAGES:
        raise ApiError("bad_language")
    asked = parse_period(query, now, DEFAULT_DAYS)
    return Question(language, asked.start, asked.end), asked


def _sort(request: web.Request) -> str:
    sort = request.query.get("sort") or "volume"
    if sort not in SORTS:
        raise ApiError("bad_request")
    return sort


def _wait(request: web.Request) -> float:
    raw = request.query.get("wait")
    if raw in (None, ""):
        return DEFAULT_WAIT
    try:
        wait = float(raw)
    except ValueError as exc:
        raise ApiError("bad_request") from exc
    if not 0 <= wait <= MAX_WAIT:
        raise ApiError("bad_request")
    return wait
