"""Agent API routes for the customer's orders: see them, act on them, approve (docs/agent-api.md).

The flow is `handoff.service.api.order_actions`; the business rules are the desk's
(`handoff/orders/desk.py`), the same code as the bot's actions.
"""

from __future__ import annotations

from typing import Any, Dict

from aiohttp import web

from handoff.accounts import Agent
from handoff.conversation import Conversation
from handoff.orders.approvals import Approvals
from handoff.orders.desk import clean_address, valid_amount
from handoff.orders.proof import FAILURES_PER_ORDER, RedisFailureCount, matches
from handoff.orders.store import KINDS, Order, normalise_order_number
from handoff.service import appkeys as app_keys
from handoff.service.api.access import (
    current_agent,
    current_supervisor,
    json_body,
    may_act,
    visible,
)
from handoff.service.api.errors import ApiError
from handoff.service.api.order_actions import (
    Ask,
    act,
    customer_orders,
    decide,
    desk_of,
    in_thread,
    limits_for,
)

MAX_FACT = 320  # an e-mail address at most
MAX_REQUEST_ID = 64  # the console's id of one confirmed click


def add_routes(app: web.Application) -> None:
    """Registers the routes."""
    app.router.add_get("/api/conversations/{id}/orders", orders)
    app.router.add_post("/api/conversations/{id}/orders/lookup", lookup)
    app.router.add_post("/api/conversations/{id}/orders/{number}/actions", action)
    app.router.add_post("/api/conversations/{id}/approvals/{approval}", approval_decision)
    app.router.add_get("/api/approvals", pending_approvals)


def order_public(order: Order) -> Dict[str, Any]:
    """An order as the console shows it, with the actions its state allows."""
    allowed = []
    if order.changeable:
        allowed += ["cancel", "change_address"]
    if order.refundable_cents > 0:
        allowed.append("refund")
    allowed.append("voucher")
    return {"order_number": order.order_number, "status": order.status,
            "carrier": order.carrier, "placed_on": order.placed_on.isoformat(),
            "expected_delivery": order.expected_delivery.isoformat()
            if order.expected_delivery else None,
            "delivery_address": order.delivery_address, "email": order.customer_email,
            "total_cents": order.total_cents, "refunded_cents": order.refunded_cents,
            "refundable_cents": order.refundable_cents, "currency": order.currency,
            "actions": allowed}


async def _acting(request: web.Request) -> "tuple[Agent, Conversation]":
    agent = await current_agent(request)
    record = await visible(request, agent)
    if not may_act(agent, record):
        raise ApiError("not_yours")
    return agent, record


async def _listing(request: web.Request, agent: Agent, record: Conversation) -> Dict[str, Any]:
    found = await customer_orders(request, record)
    approvals = await Approvals(request.app[app_keys.REDIS],
                                request.app[app_keys.KEYS]).of_conversation(record.id)
    return {"orders": [order_public(o) for o in found],
            "approvals": [a.public() for a in approvals],
            "limits": limits_for(request, agent, record), "can_act": may_act(agent, record)}


async def orders(request: web.Request) -> web.Response:
    """The customer's orders, the conversation's approvals and what this agent may grant."""
    agent = await current_agent(request)
    record = await visible(request, agent)
    return web.json_response(await _listing(request, agent, record))


async def lookup(request: web.Request) -> web.Response:
    """An order the customer proves to the agent: its number and its e-mail or postcode.

    Checked as the bot checks it (`handoff/orders/proof.py`), wrong answers counted with the
    bot's: a stranger cannot guess through the console either. The answer never says whether
    the number or the fact was wrong.
    """
    agent, record = await _acting(request)
    body = await json_body(request)
    number, fact = normalise_order_number(body.get("order_number")), body.get("fact")
    if number is None or not isinstance(fact, str) or not 0 < len(fact) <= MAX_FACT:
        raise ApiError("bad_request")
    failures = RedisFailureCount(request.app[app_keys.REDIS], request.app[app_keys.KEYS])
    if await failures.count(number) >= FAILURES_PER_ORDER:
        raise ApiError("order_proof_locked")
    order = await in_thread(desk_of(request).store.get, number)
    if order is None or not matches(order, fact):
        await failures.add(number)
        raise ApiError("order_proof_failed")
    await request.app[app_keys.REDIS].sadd(
        request.app[app_keys.KEYS].proven_orders(record.id), number)
    return web.json_response(await _listing(request, agent, record))


async def action(request: web.Request) -> web.Response:
    """Cancel, change the address, refund or grant a voucher (`202` when a supervisor must)."""
    agent, record = await _acting(request)
    ask = _ask(request.match_info["number"], await json_body(request))
    result = await act(request, agent, record, ask)
    listing = await _listing(request, agent, record)
    return web.json_response({**result, **listing}, status=202 if "approval" in result else 200)


def _ask(number: str, body: Dict[str, Any]) -> Ask:
    kind, request_id = body.get("kind"), body.get("request_id")
    clean = normalise_order_number(number)
    if kind not in KINDS:
        raise ApiError("unknown_action")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID:
        raise ApiError("bad_request")
    if clean is None:
        raise ApiError("order_unknown")
    if kind in ("refund", "voucher"):
        amount = valid_amount(body.get("amount_cents"))
        if amount is None:
            raise ApiError("bad_amount")
        return Ask(kind, clean, request_id, amount_cents=amount)
    if kind == "change_address":
        address = clean_address(body.get("address"))
        if address is None:
            raise ApiError("bad_address")
        return Ask(kind, clean, request_id, address=address)
    return Ask(kind, clean, request_id)


async def pending_approvals(request: web.Request) -> web.Response:
    """Every request waiting for a supervisor, oldest first (supervisors)."""
    await current_supervisor(request)
    found = await Approvals(request.app[app_keys.REDIS], request.app[app_keys.KEYS]).pending()
    return web.json_response({"approvals": [a.public() for a in found]})


async def approval_decision(request: web.Request) -> web.Response:
    """A supervisor approves (then it runs) or refuses a request: `{"decision": ...}`."""
    supervisor = await current_supervisor(request)
    record = await visible(request, supervisor)
    decision = (await json_body(request)).get("decision")
    if decision not in ("approve", "refuse"):
        raise ApiError("bad_request")
    result = await decide(request, supervisor, record, request.match_info["approval"],
                          decision == "approve")
    return web.json_response(result)
