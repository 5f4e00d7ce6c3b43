"""A small shop saga: an orchestrator takes an order by debiting a wallet, then taking stock, and
credits the wallet back when the stock is short. Three services from one file (``--role``), each with
its own SQLite file; the orchestrator finds the others at ``WALLET_URL`` and ``STOCK_URL``.

    python shop.py --role wallet --port 8101 --data /tmp/w
    python shop.py --role stock --port 8102 --data /tmp/s
    WALLET_URL=http://127.0.0.1:8101 STOCK_URL=http://127.0.0.1:8102 \\
        python shop.py --role orchestrator --port 8100 --data /tmp/o

Every call carries an ``Idempotency-Key`` (order id + step + kind) and is retried until it answers.
The wallet and the stock answer a replayed key with the first answer, except under
``--variant broken``, where the wallet credits every credit it is sent: a retried refund pays twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from flask import Flask, jsonify, request

INITIAL_STOCK = 50
CALL_TIMEOUT_S = 1.0
CALL_ATTEMPTS = 20

LEDGER = """CREATE TABLE IF NOT EXISTS ledger (id TEXT PRIMARY KEY, saga_id TEXT, step INTEGER, kind TEXT,
    idempotency_key TEXT, item TEXT, amount INTEGER, reference TEXT, created_at REAL, answer TEXT)"""
ORDERS = """CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, key TEXT UNIQUE, reference TEXT,
    status TEXT, steps_done TEXT, compensations_done TEXT, created_at REAL, request TEXT)"""


class Store:
    """One SQLite file, one writer at a time (the server is threaded)."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute(LEDGER)
        self.db.execute(ORDERS)

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.db.execute(sql, args).fetchall()]

    def run(self, sql: str, *args: Any) -> None:
        with self.lock:
            self.db.execute(sql, args)


def participant(app: Flask, store: Store, role: str, dedupe_compensation: bool) -> None:
    """The wallet (debit / credit: a customer's charged balance) or the stock (take / put back)."""
    forward, compensation = ("debit", "credit") if role == "wallet" else ("take", "put")

    def level(item: str) -> int:
        rows = store.rows("SELECT kind, amount FROM ledger WHERE item = ?", item)
        net = sum(r["amount"] if r["kind"] == forward else -r["amount"] for r in rows)
        return net if role == "wallet" else INITIAL_STOCK - net

    def apply(kind: str, dedupe: bool) -> Any:
        body = request.get_json()
        key = request.headers.get("Idempotency-Key")
        with store.lock:  # one decision at a time: a replay must see the first call's row
            if dedupe and key:
                seen = store.db.execute("SELECT answer FROM ledger WHERE idempotency_key = ?",
                                        (key,)).fetchone()
                if seen:
                    return jsonify(json.loads(seen["answer"]))
            if kind == compensation:
                done = store.db.execute("SELECT 1 FROM ledger WHERE saga_id = ? AND kind = ?",
                                        (body["saga_id"], forward)).fetchone()
                if not done:
                    return jsonify({"undone": False})  # nothing was done: nothing to undo
            if role == "stock" and kind == forward and level(body["item"]) < body["amount"]:
                return jsonify({"error": "out of stock"}), 409
            answer = {"id": uuid.uuid4().hex, "kind": kind}
            store.run("INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", answer["id"],
                      body["saga_id"], body["step"], kind, key, body["item"], body["amount"],
                      body["reference"], time.time(), json.dumps(answer))
        return jsonify(answer)

    app.post(f"/{forward}", endpoint=forward)(lambda: apply(forward, True))
    app.post(f"/{compensation}", endpoint=compensation)(lambda: apply(compensation, dedupe_compensation))

    @app.get("/levels")
    def levels() -> Any:
        items = [r["item"] for r in store.rows("SELECT DISTINCT item FROM ledger")]
        return jsonify([{"item": item, "level": level(item)} for item in items])

    @app.get("/effects")
    def effects() -> Any:
        return jsonify(store.rows("SELECT id, reference FROM ledger WHERE kind = ?", forward))


def call(client: httpx.Client, url: str, body: dict[str, Any], key: str) -> httpx.Response:
    """POST until the participant answers (timeouts, lost answers and 5xx are retried, same key)."""
    for _ in range(CALL_ATTEMPTS):
        try:
            response = client.post(url, json=body, headers={"Idempotency-Key": key}, timeout=CALL_TIMEOUT_S)
            if response.status_code < 500:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def orchestrator(app: Flask, store: Store) -> None:
    wallet, stock = os.environ["WALLET_URL"], os.environ["STOCK_URL"]
    client = httpx.Client()

    def save(order: dict[str, Any]) -> None:
        store.run("UPDATE orders SET status = ?, steps_done = ?, compensations_done = ? WHERE id = ?",
                  order["status"], order["steps_done"], order["compensations_done"], order["id"])

    @app.post("/orders")
    def create() -> Any:
        body = request.get_json()
        key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
        order = {"id": uuid.uuid4().hex, "status": "pending", "steps_done": "", "compensations_done": ""}
        try:
            store.run("INSERT INTO orders VALUES (?, ?, ?, 'pending', '', '', ?, ?)", order["id"], key,
                      body["reference"], time.time(), json.dumps(body))
        except sqlite3.IntegrityError:  # a replay: the first answer, or 409 while it is still running
            first = store.rows("SELECT * FROM orders WHERE key = ?", key)[0]
            return jsonify(first), 200 if first["status"] == "done" else 409
        step = {"saga_id": order["id"], "reference": body["reference"]}
        charge = {**step, "step": 1, "item": body["customer"], "amount": body["amount"]}
        call(client, f"{wallet}/debit", charge, f"{order['id']}:1:debit")
        order["steps_done"] = "1"
        save(order)
        goods = {**step, "step": 2, "item": body["sku"], "amount": body["quantity"]}
        taken = call(client, f"{stock}/take", goods, f"{order['id']}:2:take")
        if taken.status_code == 409:
            call(client, f"{wallet}/credit", charge, f"{order['id']}:1:credit")
            order.update(status="compensated", compensations_done="1")
            save(order)
            return jsonify(order), 409
        order.update(status="done", steps_done="1,2")
        save(order)
        return jsonify(order), 201

    @app.get("/orders")
    def orders() -> Any:
        rows = store.rows("SELECT * FROM orders ORDER BY created_at")
        return jsonify({"orders": [{**row, "request": json.loads(row.pop("request"))} for row in rows]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["orchestrator", "wallet", "stock"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--variant", choices=["safe", "broken"], default="safe")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    app = Flask(f"shop-{args.role}")
    store = Store(args.data / f"{args.role}.db")
    app.get("/health", endpoint="health")(lambda: "ok")
    if args.role == "orchestrator":
        orchestrator(app, store)
    else:
        participant(app, store, args.role, dedupe_compensation=args.variant == "safe")
    app.run("127.0.0.1", args.port, threaded=True)


if __name__ == "__main__":
    main()
