"""A ledger row's timestamp as Unix seconds, whatever shape the store keeps it in.

Ledgers keep time as epoch seconds (a REAL column, ``time.time()``), epoch milliseconds (a BIGINT, a
JavaScript ``Date.now()``), ISO-8601 text (``2024-05-01T12:00:00Z``, SQLite's ``CURRENT_TIMESTAMP``
``2024-05-01 12:00:00``) or a driver's ``datetime`` (a Postgres ``timestamptz``). A number above
:data:`MILLISECONDS_ABOVE` is taken as milliseconds: as seconds it would lie in the year 5138, as
milliseconds it is any date after March 1973. A time without a zone is UTC, as databases store it.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

MILLISECONDS_ABOVE = 1e11


def epoch_seconds(value: object) -> float:
    """``value`` as Unix seconds; a ValueError saying what it got when it is no time."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a time, got {value!r}")
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, datetime):
        return _aware(value).timestamp()
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                return _aware(datetime.fromisoformat(text)).timestamp()
            except ValueError:
                raise ValueError(f"expected epoch seconds or an ISO-8601 time, got {value!r}") from None
    else:
        raise ValueError(f"expected a time, got {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"expected a time, got {value!r}")
    return number / 1000.0 if abs(number) > MILLISECONDS_ABOVE else number


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
