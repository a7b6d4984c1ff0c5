"""Routes of the supervisor dashboard and of the agents' eNPS question (docs/agent-api.md).

The dashboard's figures are for supervisors only; any agent may answer the eNPS question, and
nobody can read an individual answer back.
"""

from __future__ import annotations

import time

from aiohttp import web

from handoff.service import appkeys as app_keys
from handoff.service.api.access import current_agent, current_supervisor, json_body
from handoff.service.api.errors import ApiError
from handoff.service.insights import dashboard, dashboard_now
from handoff.service.insights.enps import MIN_ANSWERS, SCORES, AlreadyAsked, EnpsStore, period_of
from handoff.service.insights.periods import parse_period


def add_routes(app: web.Application) -> None:
    """Registers the routes."""
    app.router.add_get("/api/dashboard", figures)
    app.router.add_get("/api/dashboard.csv", figures_csv)
    app.router.add_get("/api/dashboard/now", right_now)
    app.router.add_get("/api/enps", enps_question)
    app.router.add_post("/api/enps", enps_answer)


async def _figures(request: web.Request) -> dict:
    await current_supervisor(request)
    period = parse_period(request.query, time.time(), dashboard.DEFAULT_DAYS)
    return await dashboard.figures(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                                   period, _targets(request.app))


def _targets(app: web.Application) -> dict:
    return {tid: team.first_reply_sla for tid, team in app[app_keys.TEAMS].items()}


async def right_now(request: web.Request) -> web.Response:
    """The queue and the agents now (`handoff.service.insights.dashboard_now`)."""
    await current_supervisor(request)
    app = request.app
    return web.json_response({"now": await dashboard_now.now(
        app[app_keys.REDIS], app[app_keys.KEYS], app[app_keys.STORE],
        await app[app_keys.ACCOUNTS].all(), _targets(app), time.time())})


async def figures(request: web.Request) -> web.Response:
    """Every figure of the period `?from=&to=&tz=` (`insights.periods`, `insights.dashboard`)."""
    return web.json_response(await _figures(request))


async def figures_csv(request: web.Request) -> web.Response:
    """The same figures as a CSV file, one figure per line."""
    found = await _figures(request)
    name = f"dashboard_{found['period']['from'][:10]}_{found['period']['to'][:10]}.csv"
    return web.Response(text=dashboard.to_csv(found), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})


async def enps_question(request: web.Request) -> web.Response:
    """Whether the console should ask the signed-in agent this period's eNPS question."""
    agent = await current_agent(request)
    now = time.time()
    ask = await EnpsStore(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).should_ask(
        agent.username, now)
    return web.json_response({"period": period_of(now), "ask": ask,
                              "min_answers": MIN_ANSWERS})


async def enps_answer(request: web.Request) -> web.Response:
    """`{"score": 0..10}` answers this period's question; `{"dismiss": true}` declines it."""
    agent = await current_agent(request)
    body = await json_body(request)
    score = body.get("score")
    if body.get("dismiss") is True and score is None:
        score = None
    elif isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise ApiError("bad_score")
    now = time.time()
    try:
        await EnpsStore(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).answer(
            agent.username, score, now)
    except AlreadyAsked as exc:
        raise ApiError("already_answered") from exc
    return web.json_response({"period": period_of(now), "ask": False}, status=201)
