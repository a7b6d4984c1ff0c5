"""A small read-only SQLite store of orders for the order-status action.

The database file (``actions/data/orders.db``, gitignored) is built from
``actions/data/orders.sql`` on first use. Building is atomic (written to a
temporary file, then renamed), so several action-server processes starting at
once never see a half-built database. ``ORDERS_DB_PATH`` overrides the path.
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
        # Read-only: the action server never writes orders.
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def get(self, order_number: object) -> Optional[Order]:
        """The order with this number, or ``None`` (also for malformed numbers)."""
        number = normalise_order_number(order_number)
        if number is None:
            return None
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT order_number, status, carrier, expected_delivery,"
                " customer_email, placed_on FROM orders WHERE order_number = ?",
                (number,),
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        return Order(
            order_number=row[0],
            status=row[1],
            carrier=row[2],
            expected_delivery=date.fromisoformat(row[3]) if row[3] else None,
            customer_email=row[4],
            placed_on=date.fromisoformat(row[5]),
        )
