"""A probe of the user's own: the stock's levels, read straight from its SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

INITIAL_STOCK = 50


def stock_levels(data_dir: Path) -> list[dict[str, object]]:
    """Every sku's stock now: what it started at, less what was taken, plus what was put back."""
    with sqlite3.connect(f"file:{data_dir / 'stock.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT item, SUM(CASE kind WHEN 'take' THEN -amount ELSE amount END) FROM ledger GROUP BY item"
        ).fetchall()
    return [{"item": item, "level": INITIAL_STOCK + net} for item, net in rows]
