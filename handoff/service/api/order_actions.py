"""Agents acting on a customer's orders from the console: the flow around the desk.

The business rules are the desk's (`handoff/orders/desk.py`, the bot's too); this module adds
what belongs to the console: which orders are the customer's, the team's limits and the
supervisor's approval above them, and the record. Every action done (or asked of a supervisor,
or refused by one) is told to the customer in their language by a notice
(`handoff.announce.Announcer`, the live path's outbox while a person has the conversation)
whose metadata carries the action (who, what, result): that `bot` event is the conversation's
record of it, in the Rasa tracker like every turn, and the console shows it.

A request is run once per request id: `Keys.order_requests` holds `running` before the order
store is touched (Redis away: nothing changed) and the outcome once told; the store itself
journals the id, so a request run again after a crash changes the order once and is told once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from aiohttp import web

from handoff import push
from handoff.accounts import Agent
from handoff.announce import Announcer
from handoff.conversation import Conversation
from handoff.notices import amount_text, what_text
from handoff.orders import approvals as approvals_module
from handoff.orders.approvals import Approval, Approvals
from handoff.orders.desk import OrderDesk, Outcome, agent_actor
from handoff.orders.store import Order, OrderStoreUnavailable, RequestReused
from handoff.service import appkeys as app_keys
from handoff.service.api.errors import ApiError
from handoff.teams import LIMITED_ACTIONS, limit_for

logger = logging.getLogger(__name__)

RUNNING = "running"
# Why the desk did not do it -> the agent API's error.
REASON_ERRORS = {"unknown_order": "order_unknown", "not_changeable": "order_not_changeable",
                 "over_refundable": "over_refundable"}
NOTICES = {"cancel": "order_cancelled", "change_address": "order_address_changed",
           "refund": "order_refunded", "voucher": "order_voucher"}


@dataclass(frozen=True)
class Ask:
    """What the agent asked: an action on one order, with its own request id."""

    kind: str
    order_number: str
    request_id: str
    amount_cents: Optional[int] = None
    address: Optional[str] = None


def desk_of(request: web.Request) -> OrderDesk:
    """The desk on the service's order store."""
    return request.app[app_keys.ORDERS]


async def in_thread(function: Any, *args: Any) -> Any:
    """SQLite off the event loop; a store that cannot be opened is `orders_unavailable`."""
    try:
        return await asyncio.to_thread(function, *args)
    except OrderStoreUnavailable as exc:
        logger.warning("orders.unavailable error=%s", exc)
        raise ApiError("orders_unavailable") from exc


async def proven_numbers(request: web.Request, record: Conversation) -> List[str]:
    """Orders the customer proved: to the bot (the ticket's `verified_orders`), or to an agent."""
    ticket = await request.app[app_keys.STORE].ticket(record.ticket_id)
    slots = ticket.slots if ticket else {}
    to_bot = slots.get("verified_orders") if isinstance(slots.get("verified_orders"), list) else []
    to_agents = await request.app[app_keys.REDIS].smembers(
        request.app[app_keys.KEYS].proven_orders(record.id))
    return sorted({str(n) for n in to_bot} | set(to_agents))


async def customer_orders(request: web.Request, record: Conversation) -> List[Order]:
    """The customer's orders: those proven and the others of the same customer."""
    numbers = await proven_numbers(request, record)
    return await in_thread(desk_of(request).orders_of_customer, numbers)


def limits_for(request: web.Request, agent: Agent, record: Conversation) -> Dict[str, int]:
    """What this agent grants alone on this conversation (cents); supervisors have no limit."""
    if agent.is_supervisor:
        return {}
    teams = request.app[app_keys.TEAMS]
    return {kind: limit_for(teams, kind, record.team, agent.teams) for kind in LIMITED_ACTIONS}


async def act(request: web.Request, agent: Agent, record: Conversation,
              ask: Ask) -> Dict[str, Any]:
    """Runs the action, or asks a supervisor when it is beyond the agent's limit."""
    orders = {o.order_number: o for o in await customer_orders(request, record)}
    if ask.order_number not in orders:
        known = await in_thread(desk_of(request).store.get, ask.order_number)
        raise ApiError("order_not_customers" if known is not None else "order_unknown")
    redis, requests = request.app[app_keys.REDIS], request.app[app_keys.KEYS].order_requests(
        record.id)
    answered = _answered(await redis.hget(requests, ask.request_id))
    if answered is not None:  # a second click: the first one's answer, nothing changed
        return answered
    limit = limits_for(request, agent, record).get(ask.kind)
    if ask.kind == "refund" and (ask.amount_cents or 0) > orders[ask.order_number].refundable_cents:
        # Refused at once rather than after a supervisor's approval (the desk checks it again).
        raise ApiError("over_refundable")
    if limit is not None and (ask.amount_cents or 0) > limit:
        return {"approval": (await _ask_supervisor(request, agent, record, ask)).public()}
    if not await redis.hsetnx(requests, ask.request_id, RUNNING):
        # Seen meanwhile: answered already, or under way (or cut short: run again, it happens
        # once in the store, and only the run that marks it told tells the customer).
        answered = _answered(await redis.hget(requests, ask.request_id))
        if answered is not None:
            return answered
    outcome = await _run(request, ask, f"console:{record.id}:{ask.request_id}",
                         agent_actor(agent.username))
    if await _mark_told(request, record.id, ask.request_id, outcome) and outcome.done:
        await _record(request, record.id, outcome, agent, approved_by=None)
    if not outcome.done:
        raise ApiError(REASON_ERRORS.get(outcome.reason or "", "bad_request"))
    return {"outcome": outcome.public()}


def _answered(told: Optional[str]) -> Optional[Dict[str, Any]]:
    """What a request answered the first time (its error again), or None if it has not been."""
    if told is None or told == RUNNING:
        return None
    first = json.loads(told)
    if not first.get("done"):
        raise ApiError(REASON_ERRORS.get(first.get("reason") or "", "bad_request"))
    return {"outcome": {**first, "replayed": True}}


async def decide(request: web.Request, supervisor: Agent, record: Conversation, aid: str,
                 approve: bool) -> Dict[str, Any]:
    """A supervisor's decision; an approved request is run at once, as its agent asked it."""
    store = Approvals(request.app[app_keys.REDIS], request.app[app_keys.KEYS])
    try:
        approval = await store.decide(record.id, aid, approve, supervisor.username,
                                      supervisor.name)
    except approvals_module.AlreadyDecided as exc:
        raise ApiError("unknown_approval" if exc.status == "missing"
                       else "already_decided") from exc
    if not approve:
        await _tell(request, record.id, "order_approval_refused", approval.requested_by_name,
                    _approval_record(approval, "refused"), approval)
        await _push_approval(request, approval)
        return {"approval": approval.public()}
    ask = Ask(approval.kind, approval.order_number, approval.id, approval.amount_cents)
    actor = f"{agent_actor(approval.requested_by)} approved by {supervisor.username}"
    outcome = await _run(request, ask, f"approval:{approval.id}", actor)
    if await store.finish(approval, outcome.done, outcome.public()) and outcome.done:
        requester = Agent(approval.requested_by, approval.requested_by_name, "agent")
        await _record(request, record.id, outcome, requester, approved_by=supervisor)
    approval = await store.get(record.id, aid) or approval
    await _push_approval(request, approval)
    return {"approval": approval.public(), "outcome": outcome.public()}


async def _run(request: web.Request, ask: Ask, request_id: str, actor: str) -> Outcome:
    desk = desk_of(request)
    try:
        if ask.kind == "cancel":
            return await in_thread(desk.cancel, ask.order_number, actor, request_id)
        if ask.kind == "change_address":
            return await in_thread(desk.change_address, ask.order_number, ask.address, actor,
                                   request_id)
        method = desk.refund if ask.kind == "refund" else desk.voucher
        return await in_thread(method, ask.order_number, ask.amount_cents, actor, request_id)
    except RequestReused as exc:
        raise ApiError("request_reused") from exc
    except ValueError as exc:
        raise ApiError("bad_address" if ask.kind == "change_address" else "bad_amount") from exc


_MARK_TOLD = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


async def _mark_told(request: web.Request, cid: str, request_id: str, outcome: Outcome) -> bool:
    """Whether this run is the one that tells (a concurrent run of the same request is not)."""
    return bool(await request.app[app_keys.REDIS].eval(
        _MARK_TOLD, 1, request.app[app_keys.KEYS].order_requests(cid), request_id,
        json.dumps(outcome.public(), ensure_ascii=False)))


async def _ask_supervisor(request: web.Request, agent: Agent, record: Conversation,
                          ask: Ask) -> Approval:
    store = Approvals(request.app[app_keys.REDIS], request.app[app_keys.KEYS])
    approval, created = await store.request(record.id, ask.request_id, ask.kind,
                                            ask.order_number, ask.amount_cents or 0,
                                            agent.username, agent.name)
    if created:
        await _tell(request, record.id, "order_approval_requested", agent.name,
                    _approval_record(approval, "requested"), approval)
        await _push_approval(request, approval)
    return approval


async def _record(request: web.Request, cid: str, outcome: Outcome, agent: Agent,
                  approved_by: Optional[Agent]) -> None:
    """Tells the customer what was done; the notice is the record's event of it."""
    order = outcome.order
    currency = order.currency if order else "EUR"
    action = {"kind": outcome.kind, "order_number": outcome.order_number, "result": "done",
              "by": agent.username, "by_name": agent.name,
              "amount_cents": outcome.amount_cents, "detail": outcome.detail,
              "approved_by": approved_by.username if approved_by else None,
              "approved_by_name": approved_by.name if approved_by else None}
    fields: Dict[str, Any] = {"order": outcome.order_number}
    if outcome.amount_cents is not None:
        fields["amount"] = amount_text(outcome.amount_cents, currency)
    if outcome.kind == "change_address":
        fields["address"] = outcome.detail
    if outcome.kind == "voucher":
        fields["code"] = outcome.detail
    await _announcer(request).send(cid, NOTICES[outcome.kind], agent.name,
                                   record_fields={"order_action": action}, **fields)
    await push.to_agents(request.app[app_keys.REDIS], request.app[app_keys.KEYS], {
        "type": "order.action", "conversation_id": cid, "action": action,
        "audience": push.agents(agent.username)})


async def _tell(request: web.Request, cid: str, kind: str, agent_name: str,
                action: Dict[str, Any], approval: Approval) -> None:
    await _announcer(request).send(
        cid, kind, agent_name, record_fields={"order_action": action},
        order=approval.order_number, what=what_text(approval.kind, approval.amount_cents))


def _approval_record(approval: Approval, result: str) -> Dict[str, Any]:
    return {"kind": approval.kind, "order_number": approval.order_number, "result": result,
            "by": approval.requested_by, "by_name": approval.requested_by_name,
            "amount_cents": approval.amount_cents, "approval_id": approval.id,
            "decided_by": approval.decided_by or None,
            "decided_by_name": approval.decided_by_name or None}


async def _push_approval(request: web.Request, approval: Approval) -> None:
    await push.to_agents(request.app[app_keys.REDIS], request.app[app_keys.KEYS], {
        "type": "order.approval", "conversation_id": approval.conversation_id,
        "approval": approval.public(), "audience": push.agents(approval.requested_by)})


def _announcer(request: web.Request) -> Announcer:
    return Announcer(request.app[app_keys.REDIS], request.app[app_keys.KEYS],
                     request.app[app_keys.STORE], request.app[app_keys.RASA])
