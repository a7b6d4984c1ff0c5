"""Moving a conversation to another channel: the agent sends the customer a one-time link.

`POST /api/conversations/{id}/move` `{"to": "messenger" | "web"}`: the customer gets, on the
channel they are on, a link (`m.me/<page>?ref=HF-<code>`, or the chat page with `?link=HF-<code>`)
that brings them to the other channel in the same conversation (`handoff.profiles`).
"""

from __future__ import annotations

from aiohttp import web

from handoff.announce import Announcer
from handoff.channels import MESSENGER, WEB, channel_of, messenger_address
from handoff.profiles import ProfileStore, identity
from handoff.service import appkeys as app_keys
from handoff.service.api.access import current_agent, json_body, owned
from handoff.service.api.errors import ApiError

TARGETS = {"messenger": MESSENGER, "web": WEB}


def add_routes(app: web.Application) -> None:
    """Registers the routes."""
    app.router.add_post("/api/conversations/{id}/move", move)
    app.router.add_get("/api/moves", targets)


def messenger_on(app: web.Application) -> bool:
    """Whether conversations can move to Messenger (a page and its token are set up)."""
    return bool(app[app_keys.SETTINGS].messenger_page_id and app[app_keys.MESSENGER].configured)


async def targets(request: web.Request) -> web.Response:
    """The channels a conversation can move to here: the console hides the others."""
    await current_agent(request)
    return web.json_response({"targets": {"web": True,
                                          "messenger": messenger_on(request.app)}})


async def move(request: web.Request) -> web.Response:
    """Sends the customer a link to continue this conversation on another channel."""
    agent = await current_agent(request)
    cid = request.match_info["id"]
    to = (await json_body(request)).get("to")
    target = TARGETS.get(to) if isinstance(to, str) else None
    if target is None:
        raise ApiError("bad_request")
    await owned(request, cid, agent)
    redis, keys, settings = (request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                             request.app[app_keys.SETTINGS])
    current = await channel_of(redis, keys, cid)
    if current == target:
        raise ApiError("same_channel")
    if target == MESSENGER and not messenger_on(request.app):
        raise ApiError("channel_unavailable")
    address = await messenger_address(redis, keys, cid) if current == MESSENGER else cid
    code = await ProfileStore(redis, keys).issue_code(cid, target, identity(current, address))
    if target == MESSENGER:
        link = f"https://m.me/{settings.messenger_page_id}?ref=HF-{code}"
    else:
        link = f"{settings.public_url}/chat?link=HF-{code}"
    kind = "continue_on_messenger" if target == MESSENGER else "continue_on_web"
    announcer = Announcer(redis, keys, request.app[app_keys.STORE], request.app[app_keys.RASA])
    if not await announcer.send(cid, kind, agent.name, link=link, code=f"HF-{code}"):
        raise ApiError("rasa_unavailable")  # the customer did not get the link: say so
    return web.json_response({"code": f"HF-{code}", "link": link, "to": target})
