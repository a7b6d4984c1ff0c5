"""The business actions on orders, one implementation for the bot and for agents.

Cancelling, changing the delivery address, refunding and granting a voucher: what is allowed
(the rules), checked and applied by the store in one transaction (``OrderStore.write``), and
journaled there with who asked. The bot's actions (``actions/order_changes.py``, in the action
server) and the agents' console (``handoff/service/api/order_routes.py``, in the handoff
service) both call this module; neither imports the other's framework. Limits per team and
supervisors' approvals are the console's business (``handoff/orders/approvals.py``): the bot
never refunds.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from handoff.orders.store import (
    CHANGEABLE_STATUS,
    KINDS,
    MAX_ADDRESS_LENGTH,
    Change,
    Order,
    OrderStore,
    WriteResult,
    normalise_order_number,
)

# The largest amount one refund or voucher may be, whoever grants it (a typo guard: 10,000.00).
MAX_AMOUNT_CENTS = 1_000_000
MAX_REQUEST_ID = 200


def clean_address(text: Any) -> Optional[str]:
    """A plausible postal address, whitespace tidied, or ``None``.

    It must have a number (street number or postcode), some letters, at least three words, and
    fit in the store. The bot asks again when it is not; the console says so.
    """
    if not isinstance(text, str):
        return None
    clean = " ".join(text.split()).strip(" .")
    if not (8 <= len(clean) <= MAX_ADDRESS_LENGTH):
        return None
    if not any(c.isdigit() for c in clean) or sum(c.isalpha() for c in clean) < 4:
        return None
    if len(clean.replace(",", " ").split()) < 3:
        return None
    return clean


def valid_amount(value: Any) -> Optional[int]:
    """An amount in cents: a positive whole number up to ``MAX_AMOUNT_CENTS``; else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_AMOUNT_CENTS else None


def bot_actor(conversation_id: str) -> str:
    """Who asked, in the journal, when the bot did."""
    return f"bot:{conversation_id}"


def agent_actor(username: str) -> str:
    """Who asked, in the journal, when an agent did."""
    return f"agent:{username}"


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``done``, or ``reason`` why not; the order as it is now.

    Reasons: ``unknown_order``, ``not_changeable`` (the order's status says why),
    ``over_refundable`` (more than what is left of what was paid).
    """

    kind: str
    order_number: str
    done: bool
    order: Optional[Order]
    reason: Optional[str] = None
    amount_cents: Optional[int] = None
    detail: Optional[str] = None
    replayed: bool = False

    def public(self) -> Dict[str, Any]:
        """The JSON shape of the agent API (and of the conversation record's event)."""
        return {"kind": self.kind, "order_number": self.order_number, "done": self.done,
                "reason": self.reason, "amount_cents": self.amount_cents,
                "detail": self.detail, "replayed": self.replayed,
                "status": self.order.status if self.order else None}


class OrderDesk:
    """The business actions on the orders of one store."""

    def __init__(self, store: Optional[OrderStore] = None) -> None:
        self.store = store or OrderStore()

    def orders_of_customer(self, proven: Iterable[str]) -> List[Order]:
        """The orders of the customer who proved these: all placed with their e-mail addresses.

        Proving one order (its number and its e-mail address or postcode) shows the customer's
        other orders too, as the shop's own account page would; nothing is shown before a proof.
        """
        emails = {order.customer_email.casefold()
                  for order in map(self.store.get, proven) if order is not None}
        found = {o.order_number: o for email in emails for o in self.store.orders_of(email)}
        return sorted(found.values(), key=lambda o: (o.placed_on, o.order_number), reverse=True)

    def cancel(self, number: Any, actor: str, request_id: Optional[str] = None) -> Outcome:
        """Cancels the order if it is still processing."""
        return self._run("cancel", number, actor, request_id, _only_changeable(
            lambda order: ("status = 'cancelled'", ())))

    def change_address(self, number: Any, address: Any, actor: str,
                       request_id: Optional[str] = None) -> Outcome:
        """Sets a new delivery address if the order is still processing.

        Raises ``ValueError`` for something that is not an address (``clean_address``).
        """
        clean = clean_address(address)
        if clean is None:
            raise ValueError("not a postal address")
        return self._run("change_address", number, actor, request_id, _only_changeable(
            lambda order: ("delivery_address = ?", (clean,))), detail=clean)

    def refund(self, number: Any, amount_cents: Any, actor: str,
               request_id: Optional[str] = None) -> Outcome:
        """Refunds part or all of what was paid (never more than what is left of it).

        Raises ``ValueError`` for an amount that is not ``valid_amount``.
        """
        amount = _amount(amount_cents)

        def rule(order: Order) -> Any:
            return ("", ()) if amount <= order.refundable_cents else "over_refundable"
        return self._run("refund", number, actor, request_id, rule, amount=amount)

    def voucher(self, number: Any, amount_cents: Any, actor: str,
                request_id: Optional[str] = None) -> Outcome:
        """Grants the order's customer a voucher (its code is in ``detail``).

        Raises ``ValueError`` for an amount that is not ``valid_amount``.
        """
        amount = _amount(amount_cents)
        code = "V-" + secrets.token_hex(4).upper()
        return self._run("voucher", number, actor, request_id, lambda order: ("", ()),
                         amount=amount, detail=code)

    def _run(self, kind: str, number: Any, actor: str, request_id: Optional[str], rule: Any,
             amount: Optional[int] = None, detail: Optional[str] = None) -> Outcome:
        assert kind in KINDS
        clean = normalise_order_number(number)
        if clean is None:
            return Outcome(kind, str(number), False, None, "unknown_order")
        if request_id is not None and not (0 < len(request_id) <= MAX_REQUEST_ID):
            raise ValueError(f"request id of 1 to {MAX_REQUEST_ID} characters")
        change = Change(request_id or uuid.uuid4().hex, kind, clean, actor, amount, detail)
        return _outcome(kind, clean, self.store.write(change, rule))


def _only_changeable(then: Any) -> Any:
    def rule(order: Order) -> Any:
        return then(order) if order.status == CHANGEABLE_STATUS else "not_changeable"
    return rule


def _amount(value: Any) -> int:
    amount = valid_amount(value)
    if amount is None:
        raise ValueError(f"an amount in cents, 1 to {MAX_AMOUNT_CENTS}")
    return amount


def _outcome(kind: str, number: str, result: WriteResult) -> Outcome:
    change = result.change
    return Outcome(kind, number, result.done, result.order, result.reason,
                   change.amount_cents if change else None, change.detail if change else None,
                   result.replayed)
