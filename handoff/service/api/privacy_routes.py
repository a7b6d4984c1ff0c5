"""Supervisors' routes for customers' data requests (GDPR access, portability, erasure).

Identities travel in JSON bodies, never in the address: an e-mail address or a Messenger id in
a URL would end up in access logs. See docs/privacy.md and docs/agent-api.md.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from aiohttp import web

from handoff.privacy import audit
from handoff.privacy.desk import Desk
from handoff.privacy.export import render_html
from handoff.privacy.finder import BadQuery, Query
from handoff.privacy.retention import Retention
from handoff.rasa_api import RasaUnavailable
from handoff.service import appkeys as app_keys
from handoff.service.api.access import current_supervisor, json_body
from handoff.service.api.errors import ApiError


def add_routes(app: web.Application) -> None:
    """Registers the routes."""
    app.router.add_post("/api/privacy/find", find)
    app.router.add_post("/api/privacy/export", export)
    app.router.add_post("/api/privacy/erase", erase)
    app.router.add_get("/api/privacy/audit", audit_log)


def _desk(request: web.Request) -> Desk:
    return Desk(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                Retention.from_settings(request.app[app_keys.SETTINGS]))


def _request(body: Dict[str, Any]) -> Tuple[Query, str]:
    """The identity and the reference a request names, or `bad_identity` / `bad_request`."""
    try:
        query = Query.of(body.get("kind"), body.get("value"))
    except BadQuery as exc:
        raise ApiError("bad_identity") from exc
    reference = audit.valid_reference(body.get("reference"), query.value)
    if reference is None:
        raise ApiError("bad_request")
    return query, reference


async def find(request: web.Request) -> web.Response:
    """What the store holds that names this customer (kinds and ids)."""
    await current_supervisor(request)
    query, _ = _request(await json_body(request))
    customer = await _desk(request).find(query)
    return web.json_response({"customer": customer.public()},
                             headers={"Cache-Control": "no-store"})


async def export(request: web.Request) -> web.Response:
    """Everything held about the customer: JSON, or the readable page (`format: html`)."""
    supervisor = await current_supervisor(request)
    body = await json_body(request)
    query, reference = _request(body)
    form, language = body.get("format", "json"), body.get("language", "en")
    if form not in ("json", "html") or language not in ("en", "fr"):
        raise ApiError("bad_request")
    document = await _desk(request).export(query, supervisor.username, reference)
    headers = {"Cache-Control": "no-store",
               "Content-Disposition": f'attachment; filename="customer-data.{form}"'}
    if form == "html":
        return web.Response(text=render_html(document, language), content_type="text/html",
                            headers=headers)
    return web.json_response(document, headers=headers)


async def erase(request: web.Request) -> web.Response:
    """Erases the customer everywhere; their live conversations are closed first, them told.

    The body must say `"confirm": true`: an erasure cannot be undone.
    """
    supervisor = await current_supervisor(request)
    body = await json_body(request)
    query, reference = _request(body)
    if body.get("confirm") is not True:
        raise ApiError("confirm_erasure")
    try:
        erased = await _desk(request).erase(query, supervisor.username,
                                            request.app[app_keys.GIVEBACK], reference)
    except RasaUnavailable as exc:
        raise ApiError("rasa_unavailable") from exc
    return web.json_response(erased.public())


async def audit_log(request: web.Request) -> web.Response:
    """The latest data requests and retention passes: what, who, when, counts."""
    await current_supervisor(request)
    return web.json_response({"entries": await audit.entries(request.app[app_keys.REDIS],
                                                            request.app[app_keys.KEYS])},
                             headers={"Cache-Control": "no-store"})
