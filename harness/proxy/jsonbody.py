"""JSON from a caller (an API body, a ``--config`` file), refused in one line when it is not usable.

Nesting is bounded: Python's parser recurses once per level, so a body of 20,000 ``[`` would
otherwise end in a RecursionError deep inside the server. No Toxiproxy body nests more than a few levels.
"""

from __future__ import annotations

import json

from harness.proxy.apierror import bad_request

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted."""


def parse_json(raw: bytes) -> object:
    """The JSON value of ``raw`` (UTF-8; empty or blank is ``{}``), or a 400 ApiError saying why not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"invalid JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(f"invalid JSON: {exc}") from None
    except RecursionError:
        value = None
        depth = MAX_DEPTH + 1
    else:
        depth = nesting_depth(value, MAX_DEPTH + 1)
    if depth > MAX_DEPTH:
        raise bad_request(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
    return value


def nesting_depth(value: object, stop_at: int) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0), counted up to ``stop_at``."""
    depth = 0
    level: list[object] = [value]
    while level and depth < stop_at:
        children: list[object] = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
            elif isinstance(item, list):
                children.extend(item)
        if not children and not any(isinstance(item, dict | list) for item in level):
            break
        depth += 1
        level = children
    return depth
