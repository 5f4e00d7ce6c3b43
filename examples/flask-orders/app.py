"""A small order service in Flask + SQLAlchemy, the kind a team might really have.

It knows nothing of the idempotency harness. POST /api/orders creates an order from a JSON body
(``client_ref``, ``item``, ``quantity``). With ``ORDERS_IDEMPOTENT=1`` it honours an
``Idempotency-Key`` header: a retry with the same key gets the first order back instead of a new
one (a unique constraint settles two retries racing each other). Without it, it is naive: every
request that arrives creates an order, which is what a lost response plus a client retry turns
into a duplicate.

    python app.py --port 8000 --db orders.db
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Order(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(200))
    item: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    created_at: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_ref": self.client_ref,
            "item": self.item,
            "quantity": self.quantity,
            "created_at": self.created_at,
        }


def create_app(db_path: str, idempotent: bool) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{os.path.abspath(db_path)}"
    # several request threads write to one SQLite file: wait for the lock instead of failing
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 15}}
    db.init_app(app)
    with app.app_context():
        db.create_all()

    @app.get("/health")
    def health() -> Any:
        return {"ok": True}

    @app.post("/api/orders")
    def create_order() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body.get("client_ref") or not body.get("item"):
            return {"error": "client_ref and item are required"}, 400
        key = request.headers.get("Idempotency-Key") if idempotent else None
        if key is not None:
            existing = db.session.scalar(select(Order).where(Order.idempotency_key == key))
            if existing is not None:
                return jsonify(existing.as_json()), 201  # the same answer as the first time
        order = Order(
            client_ref=str(body["client_ref"]),
            item=str(body["item"]),
            quantity=int(body.get("quantity", 1)),
            created_at=datetime.now(UTC).isoformat(),
            idempotency_key=key,
        )
        db.session.add(order)
        try:
            db.session.commit()
        except IntegrityError:  # a retry with this key committed first
            db.session.rollback()
            existing = db.session.scalar(select(Order).where(Order.idempotency_key == key))
            return jsonify(existing.as_json()), 201
        return jsonify(order.as_json()), 201

    @app.get("/api/orders")
    def list_orders() -> Any:
        orders = db.session.scalars(select(Order).order_by(Order.id)).all()
        return {"data": {"items": [order.as_json() for order in orders]}}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--db", default="orders.db")
    args = parser.parse_args()
    idempotent = os.environ.get("ORDERS_IDEMPOTENT") == "1"
    app = create_app(args.db, idempotent)
    print(f"orders: {'idempotent' if idempotent else 'naive'} on {args.host}:{args.port}, db {args.db}")
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
