"""A small SQLite store of orders for the order actions.

The database file (``actions/data/orders.db``, gitignored) is built from
``actions/data/orders.sql`` on first use. Building is atomic (written to a
temporary file, then renamed), so several action-server processes starting at
once never see a half-built database. ``ORDERS_DB_PATH`` overrides the path.

Reads use a read-only connection. The two writes (``cancel`` and
``change_address``) are single conditional ``UPDATE`` statements inside an
immediate transaction: the status check and the change happen atomically, so
an order that ships (or is cancelled by another process) in between is never
changed. Delete the ``.db`` file to get the sample orders back.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional, Union

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SQL_PATH = DATA_DIR / "orders.sql"
DEFAULT_DB_PATH = DATA_DIR / "orders.db"

ORDER_NUMBER_RE = re.compile(r"^\d{5}$")

STATUSES = ("processing", "shipped", "delivered", "cancelled")
# Only orders still in the warehouse can be cancelled or re-addressed.
CHANGEABLE_STATUS = "processing"
MAX_ADDRESS_LENGTH = 300
_COLUMNS = (
    "order_number, status, carrier, expected_delivery, customer_email, placed_on,"
    " delivery_address"
)


def normalise_order_number(value: object) -> Optional[str]:
    """``"10234"``, ``" 10234 "``, ``10234`` or ``"#10234"`` -> ``"10234"``; else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lstrip("#").strip()
    return text if ORDER_NUMBER_RE.match(text) else None


@dataclass(frozen=True)
class Order:
    """One row of the ``orders`` table."""

    order_number: str
    status: str
    carrier: Optional[str]
    expected_delivery: Optional[date]
    customer_email: str
    placed_on: date
    delivery_address: Optional[str] = None

    @property
    def changeable(self) -> bool:
        """Whether the order can still be cancelled or re-addressed."""
        return self.status == CHANGEABLE_STATUS


@dataclass(frozen=True)
class WriteResult:
    """Outcome of ``cancel``/``change_address``.

    ``done`` is True when the change was made. ``order`` is the order as it is
    now (after the change when done; as found, which says why not, otherwise),
    or ``None`` when there is no such order.
    """

    done: bool
    order: Optional[Order]


class UsesOrderStore:
    """For actions: the order store given (tests pass their own), else one made on first use."""

    def __init__(self, store: Optional["OrderStore"] = None) -> None:
        self._store = store

    @property
    def store(self) -> "OrderStore":
        """The order store."""
        if self._store is None:
            self._store = OrderStore()
        return self._store


class OrderStore:
    """Look up orders by number in an SQLite file built from a SQL script."""

    def __init__(
        self,
        db_path: Union[str, Path, None] = None,
        sql_path: Union[str, Path, None] = None,
    ) -> None:
        env_path = os.environ.get("ORDERS_DB_PATH")
        self.db_path = Path(db_path or env_path or DEFAULT_DB_PATH)
        self.sql_path = Path(sql_path or DEFAULT_SQL_PATH)

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
        path = self.ensure_database()
        self._migrate(path)
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def _connect_rw(self) -> sqlite3.Connection:
        path = self.ensure_database()
        self._migrate(path)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE).
        return sqlite3.connect(str(path), timeout=10, isolation_level=None)

    @staticmethod
    def _migrate(path: Path) -> None:
        """Adds ``delivery_address`` to databases built before it existed."""
        conn = sqlite3.connect(str(path), timeout=10)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(orders)")}
            if "delivery_address" not in columns:
                try:
                    conn.execute("ALTER TABLE orders ADD COLUMN delivery_address TEXT")
                    conn.commit()
                except sqlite3.OperationalError as exc:  # another process was first
                    if "duplicate column" not in str(exc):
                        raise
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
        )

    def get(self, order_number: object) -> Optional[Order]:
        """The order with this number, or ``None`` (also for malformed numbers)."""
        number = normalise_order_number(order_number)
        if number is None:
            return None
        conn = self._connect()
        try:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM orders WHERE order_number = ?", (number,)
            ).fetchone()
        finally:
            conn.close()
        return self._row_to_order(row)

    def _conditional_update(self, number: str, assignments: str, params: tuple) -> WriteResult:
        """``UPDATE ... WHERE status = 'processing'`` and the order as it is after it."""
        conn = self._connect_rw()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    f"UPDATE orders SET {assignments} WHERE order_number = ? AND status = ?",
                    (*params, number, CHANGEABLE_STATUS),
                )
                done = cursor.rowcount == 1
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM orders WHERE order_number = ?", (number,)
                ).fetchone()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return WriteResult(done=done, order=self._row_to_order(row))

    def cancel(self, order_number: object) -> WriteResult:
        """Cancels the order if it is still processing (atomically)."""
        number = normalise_order_number(order_number)
        if number is None:
            return WriteResult(done=False, order=None)
        return self._conditional_update(number, "status = 'cancelled'", ())

    def change_address(self, order_number: object, address: str) -> WriteResult:
        """Sets a new delivery address if the order is still processing (atomically)."""
        number = normalise_order_number(order_number)
        clean = " ".join(str(address or "").split())
        if number is None:
            return WriteResult(done=False, order=None)
        if not clean or len(clean) > MAX_ADDRESS_LENGTH:
            raise ValueError("address must be 1 to 300 characters")
        return self._conditional_update(number, "delivery_address = ?", (clean,))
