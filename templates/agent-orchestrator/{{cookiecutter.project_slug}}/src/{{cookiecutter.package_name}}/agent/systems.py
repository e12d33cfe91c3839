"""The example system the tools act on: {% if cookiecutter.tool_set == "ops" %}deployments{% else %}orders{% endif %} in a SQLite file under data_dir.

It stands in for your {% if cookiecutter.tool_set == "ops" %}cluster API{% else %}order service{% endif %} so the agent does real reads and writes offline; replace
`{{ "Deployments" if cookiecutter.tool_set == "ops" else "Orders" }}` with a client of the real system and keep the tools' signatures.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

APPLIED_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS applied_writes (key TEXT PRIMARY KEY, result TEXT NOT NULL)"
)


class UnknownRecord(LookupError):
    """The tool asked for something the system does not have; the model is told which exist."""


class SqliteSystem:
    """A small table seeded on first use; thread-safe.

    Writes are idempotent by key, as a real system's API should be (Stripe's Idempotency-Key,
    a Kubernetes apply of the same object): the change and the key commit in one transaction,
    and the same key again returns the first result without changing anything. The agent
    sends the thread and tool call id, so a tool re-run after a crash cannot repeat a write.
    """

    def __init__(self, path: Path, schema: str, table: str, seed: list[tuple[Any, ...]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        marks = ", ".join("?" * len(seed[0]))
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(schema)
            self._db.execute(APPLIED_SCHEMA)
            self._db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", seed)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, params).fetchall()]

    def _write_once(self, key: str, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run `apply` (reads and writes through `_rows`/`_execute`) once per key."""
        if not key:
            raise ValueError("a write needs an idempotency key")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one writer across processes too
            try:
                done = self._db.execute(
                    "SELECT result FROM applied_writes WHERE key = ?", (key,)
                ).fetchone()
                if done is not None:
                    self._db.execute("ROLLBACK")
                    return {**json.loads(done["result"]), "replayed": True}
                result = apply()
                self._db.execute(
                    "INSERT INTO applied_writes (key, result) VALUES (?, ?)",
                    (key, json.dumps(result)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return result

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Inside `_write_once` (the lock is held): read without taking it again."""
        return [dict(row) for row in self._db.execute(sql, params).fetchall()]

    def writes(self) -> int:
        """How many writes were applied (replays not counted)."""
        return int(self._rows("SELECT count(*) AS n FROM applied_writes")[0]["n"])

    def close(self) -> None:
        self._db.close()
{%- if cookiecutter.tool_set == "ops" %}


MAX_REPLICAS = 20
# name, status, replicas, version, error rate: the state a fresh data_dir starts from.
SEED = [
    ("checkout", "healthy", 3, "2.4.1", 0.002),
    ("payments", "degraded", 2, "1.9.0", 0.041),
    ("search", "healthy", 4, "3.0.2", 0.001),
    ("notifications", "down", 0, "0.7.5", 1.0),
]
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS deployments (name TEXT PRIMARY KEY, status TEXT NOT NULL,"
    " replicas INTEGER NOT NULL, version TEXT NOT NULL, error_rate REAL NOT NULL)"
)


class Deployments(SqliteSystem):
    """Services, their health and replica counts."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA, "deployments", SEED)

    def names(self) -> list[str]:
        return [row["name"] for row in self._rows("SELECT name FROM deployments ORDER BY name")]

    def get(self, name: str) -> dict[str, Any]:
        return self._get(name, self._rows)

    def _get(self, name: str, rows_of: Callable[..., list[dict[str, Any]]]) -> dict[str, Any]:
        rows = rows_of("SELECT * FROM deployments WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(self.names())
            raise UnknownRecord(f"service={name!r} does not exist; known services: {known}")
        return rows[0]

    def scale(self, name: str, replicas: int, key: str) -> dict[str, Any]:
        """Set the replica count, once per `key`; a service scaled from zero is healthy again."""
        if not 0 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas={replicas} is not allowed: use 0 to {MAX_REPLICAS}")

        def apply() -> dict[str, Any]:
            before = self._get(name, self._query)
            status = "down" if replicas == 0 else ("healthy" if before["replicas"] == 0 else None)
            self._query(
                "UPDATE deployments SET replicas = ?, status = COALESCE(?, status) WHERE name = ?",
                (replicas, status, name),
            )
            return {"replicas_before": before["replicas"], **self._get(name, self._query)}

        return self._write_once(key, apply)


def open_system(path: Path) -> Deployments:
    return Deployments(path)
{%- else %}


# order id, customer, status, total, refunded, currency: what a fresh data_dir starts from.
SEED = [
    ("A-1001", "cust-017", "delivered", 59.90, 0.0, "EUR"),
    ("A-1002", "cust-042", "shipped", 120.00, 0.0, "EUR"),
    ("A-1003", "cust-017", "delivered", 35.50, 10.0, "EUR"),
    ("A-1004", "cust-108", "cancelled", 18.00, 18.0, "EUR"),
]
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, customer TEXT NOT NULL,"
    " status TEXT NOT NULL, total REAL NOT NULL, refunded REAL NOT NULL, currency TEXT NOT NULL)"
)


class Orders(SqliteSystem):
    """Orders, what was paid and what was refunded."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA, "orders", SEED)

    def ids(self) -> list[str]:
        rows = self._rows("SELECT order_id FROM orders ORDER BY order_id")
        return [row["order_id"] for row in rows]

    def get(self, order_id: str) -> dict[str, Any]:
        return self._get(order_id, self._rows)

    def _get(self, order_id: str, rows_of: Callable[..., list[dict[str, Any]]]) -> dict[str, Any]:
        rows = rows_of("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        if not rows:
            known = ", ".join(r["order_id"] for r in rows_of("SELECT order_id FROM orders"))
            raise UnknownRecord(f"order_id={order_id!r} does not exist; known orders: {known}")
        order = rows[0]
        order["refundable"] = round(order["total"] - order["refunded"], 2)
        return order

    def refund(self, order_id: str, amount: float | None, reason: str, key: str) -> dict[str, Any]:
        """Refund `amount` (default: all still refundable) once per `key`, never more than paid."""

        def apply() -> dict[str, Any]:
            order = self._get(order_id, self._query)
            refund = order["refundable"] if amount is None else round(amount, 2)
            if not 0 < refund <= order["refundable"]:
                raise ValueError(
                    f"amount={refund} is not allowed: use more than 0 and at most"
                    f" {order['refundable']} {order['currency']} (still refundable on {order_id})"
                )
            self._query(
                "UPDATE orders SET refunded = ROUND(refunded + ?, 2) WHERE order_id = ?",
                (refund, order_id),
            )
            return {"refunded_now": refund, "reason": reason, **self._get(order_id, self._query)}

        return self._write_once(key, apply)


def open_system(path: Path) -> Orders:
    return Orders(path)
{%- endif %}
