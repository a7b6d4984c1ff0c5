"""The shop's orders: a small SQLite store, the system of record of the sample shop.

The database file (``handoff/orders/data/orders.db``, gitignored) is built from
``handoff/orders/orders.sql`` on first use. Building is atomic (written to a temporary file,
then renamed), so several processes starting at once never see a half-built database.
``ORDERS_DB_PATH`` overrides the path (each test stack has its own copy).

Reads use a read-only connection. Every change (``write``) is one immediate transaction that
checks the order, changes it and journals the request in ``order_actions``: an order that ships
(or is cancelled by another process) in between is never changed, and a request id seen before
returns what it did the first time, changing nothing (a double click, a retried action).
The rules of what may be changed are the desk's (``handoff/orders/desk.py``), which both the
bot's actions and the agents' console call. Delete the ``.db`` file to get the samples back.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SQL_PATH = PACKAGE_DIR / "orders.sql"
DEFAULT_DB_PATH = PACKAGE_DIR / "data" / "orders.db"

ORDER_NUMBER_RE = re.compile(r"^\d{5}$")

STATUSES = ("processing", "shipped", "delivered", "cancelled")
KINDS = ("cancel", "change_address", "refund", "voucher")
# Only orders still in the warehouse can be cancelled or re-addressed.
CHANGEABLE_STATUS = "processing"
MAX_ADDRESS_LENGTH = 300
_COLUMNS = (
    "order_number, status, carrier, expected_delivery, customer_email, placed_on,"
    " delivery_address, total_cents, currency,"
    " (SELECT COALESCE(SUM(amount_cents), 0) FROM order_actions a"
    "  WHERE a.order_number = orders.order_number AND a.kind = 'refund' AND a.done = 1)"
)
_ACTIONS_TABLE = """
CREATE TABLE IF NOT EXISTS order_actions (
    request_id TEXT PRIMARY KEY, order_number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('cancel', 'change_address', 'refund', 'voucher')),
    amount_cents INTEGER, detail TEXT, actor TEXT NOT NULL, done INTEGER NOT NULL,
    reason TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_actions_by_order ON order_actions (order_number);
"""
# Columns added since the first sample store, with their definition for older files.
_ADDED_COLUMNS = (
    ("delivery_address", "TEXT"),
    ("total_cents", "INTEGER NOT NULL DEFAULT 0"),
    ("currency", "TEXT NOT NULL DEFAULT 'EUR'"),
)


class OrderStoreUnavailable(Exception):
    """The store could not be read or written (file missing, unreadable, locked too long)."""


class RequestReused(ValueError):
    """A request id already used for another change (another kind or order)."""


def normalise_order_number(value: object) -> Optional[str]:
    """``"10234"``, ``" 10234 "``, ``10234`` or ``"#10234"`` -> ``"10234"``; else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lstrip("#").strip()
    return text if ORDER_NUMBER_RE.match(text) else None


@dataclass(frozen=True)
class Order:
    """One row of the ``orders`` table, with what was refunded of it so far."""

    order_number: str
    status: str
    carrier: Optional[str]
    expected_delivery: Optional[date]
    customer_email: str
    placed_on: date
    delivery_address: Optional[str] = None
    total_cents: int = 0
    currency: str = "EUR"
    refunded_cents: int = 0

    @property
    def changeable(self) -> bool:
        """Whether the order can still be cancelled or re-addressed."""
        return self.status == CHANGEABLE_STATUS

    @property
    def refundable_cents(self) -> int:
        """What may still be refunded: what was paid, less the refunds made."""
        return max(0, self.total_cents - self.refunded_cents)


@dataclass(frozen=True)
class Change:
    """One change asked of an order (a row of ``order_actions`` before it is written)."""

    request_id: str
    kind: str
    order_number: str
    actor: str
    amount_cents: Optional[int] = None
    detail: Optional[str] = None


@dataclass(frozen=True)
class WriteResult:
    """Outcome of ``write``.

    ``done`` is True when the change was made. ``order`` is the order as it is now (after the
    change when done; as found, which says why not, otherwise), or ``None`` when there is no
    such order; ``reason`` says why not. ``replayed``: the request id was seen before, and this
    is what it did then (nothing was changed now).
    """

    done: bool
    order: Optional[Order]
    reason: Optional[str] = None
    replayed: bool = False
    change: Optional[Change] = None


# A rule of the desk: given the order as found in the transaction, the SQL that changes it
# (assignments and parameters; empty for a change that only journals, as a voucher) or why not.
Rule = Callable[[Order], Union[Tuple[str, tuple], str]]


class OrderStore:
    """Orders by number and by customer, in an SQLite file built from a SQL script."""

    def __init__(
        self,
        db_path: Union[str, Path, None] = None,
        sql_path: Union[str, Path, None] = None,
    ) -> None:
        env_path = os.environ.get("ORDERS_DB_PATH")
        self.db_path = Path(db_path or env_path or DEFAULT_DB_PATH)
        self.sql_path = Path(sql_path or DEFAULT_SQL_PATH)
        # Built and brought up to date once per store, by one thread at a time: the handoff
        # service's requests run in worker threads, and a first read racing the first build
        # could open a file another thread is replacing.
        self._ready_lock = threading.Lock()
        self._is_ready = False

    def ensure_database(self) -> Path:
        """Build the database from the SQL script unless it already exists."""
        if self.db_path.exists():
            return self.db_path
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        script = self.sql_path.read_text(encoding="utf-8")
        fd, tmp_name = tempfile.mkstemp(
            prefix=".orders-", suffix=".db", dir=str(self.db_path.parent)
        )
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp_name)
            try:
                conn.executescript(script)
                conn.commit()
            finally:
                conn.close()
            # Atomic: a concurrent builder's identical file may win; either is fine.
            os.replace(tmp_name, self.db_path)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        return self.db_path

    def _connect(self) -> sqlite3.Connection:
        path = self._ready()
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def _connect_rw(self) -> sqlite3.Connection:
        path = self._ready()
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE).
        return sqlite3.connect(str(path), timeout=10, isolation_level=None)

    def _ready(self) -> Path:
        with self._ready_lock:
            if self._is_ready and self.db_path.exists():
                return self.db_path
            try:
                path = self.ensure_database()
                self._migrate(path)
            except (OSError, sqlite3.Error) as exc:
                raise OrderStoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
            self._is_ready = True
            return path

    @staticmethod
    def _migrate(path: Path) -> None:
        """Brings databases built before a column or the journal existed up to date."""
        conn = sqlite3.connect(str(path), timeout=10)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(orders)")}
            for name, definition in _ADDED_COLUMNS:
                if name in columns:
                    continue
                try:
                    conn.execute(f"ALTER TABLE orders ADD COLUMN {name} {definition}")
                    conn.commit()
                except sqlite3.OperationalError as exc:  # another process was first
                    if "duplicate column" not in str(exc):
                        raise
            conn.executescript(_ACTIONS_TABLE)
        finally:
            conn.close()

    @staticmethod
    def _row_to_order(row: Optional[tuple]) -> Optional[Order]:
        if row is None:
            return None
        return Order(
            order_number=row[0],
            status=row[1],
            carrier=row[2],
            expected_delivery=date.fromisoformat(row[3]) if row[3] else None,
            customer_email=row[4],
            placed_on=date.fromisoformat(row[5]),
            delivery_address=row[6],
            total_cents=int(row[7] or 0),
            currency=row[8] or "EUR",
            refunded_cents=int(row[9] or 0),
        )

    def _read(self, sql: str, params: tuple) -> List[tuple]:
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise OrderStoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()

    def get(self, order_number: object) -> Optional[Order]:
        """The order with this number, or ``None`` (also for malformed numbers)."""
        number = normalise_order_number(order_number)
        if number is None:
            return None
        rows = self._read(f"SELECT {_COLUMNS} FROM orders WHERE order_number = ?", (number,))
        return self._row_to_order(rows[0] if rows else None)

    def orders_of(self, email: str) -> List[Order]:
        """Every order placed with this e-mail address (any case), newest first."""
        rows = self._read(f"SELECT {_COLUMNS} FROM orders WHERE lower(customer_email) = ?"
                          " ORDER BY placed_on DESC, order_number DESC", (email.casefold(),))
        return [order for order in map(self._row_to_order, rows) if order is not None]

    def actions_of(self, order_number: str) -> List[Change]:
        """The changes made to an order (done ones), oldest first."""
        rows = self._read("SELECT request_id, kind, order_number, actor, amount_cents, detail"
                          " FROM order_actions WHERE order_number = ? AND done = 1"
                          " ORDER BY at, rowid", (order_number,))
        return [Change(*row) for row in rows]

    def write(self, change: Change, rule: Rule) -> WriteResult:
        """Applies ``rule`` to the order and journals the change, in one transaction.

        A request id already journaled changes nothing and returns what it did then.
        """
        conn = self._connect_rw()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = self._write_in(conn, change, rule)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OrderStoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        return result

    def _write_in(self, conn: sqlite3.Connection, change: Change, rule: Rule) -> WriteResult:
        seen = conn.execute("SELECT kind, order_number, amount_cents, detail, actor, done, reason"
                            " FROM order_actions WHERE request_id = ?",
                            (change.request_id,)).fetchone()
        order = self._order_in(conn, change.order_number)
        if seen is not None:
            if (seen[0], seen[1]) != (change.kind, change.order_number):
                raise RequestReused(change.request_id)
            first = Change(change.request_id, seen[0], seen[1], seen[4], seen[2], seen[3])
            return WriteResult(bool(seen[5]), order, seen[6], replayed=True, change=first)
        verdict = rule(order) if order is not None else "unknown_order"
        reason = verdict if isinstance(verdict, str) else None
        if reason is None and order is not None:
            assignments, params = verdict  # type: ignore[misc]
            if assignments:
                conn.execute(f"UPDATE orders SET {assignments} WHERE order_number = ?",
                             (*params, change.order_number))
            order = self._order_in(conn, change.order_number)
        conn.execute("INSERT INTO order_actions (request_id, order_number, kind, amount_cents,"
                     " detail, actor, done, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (change.request_id, change.order_number, change.kind, change.amount_cents,
                      change.detail, change.actor, int(reason is None), reason,
                      datetime.now(timezone.utc).isoformat()))
        return WriteResult(reason is None, order, reason, change=change)

    def _order_in(self, conn: sqlite3.Connection, number: str) -> Optional[Order]:
        row = conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE order_number = ?",
                           (number,)).fetchone()
        return self._row_to_order(row)
