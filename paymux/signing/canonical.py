"""The "sorted k=v joined with &" string most schemes sign, and how values become text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def value_text(value: Any) -> str:
    """A parameter value as the merchant's own code would print it.

    JSON numbers sign as written (100 → "100"), booleans as JavaScript prints
    them, strings as they are.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return ""
    raise TypeError(f"cannot sign a value of type {type(value).__name__}")


def sorted_pairs(
    params: Mapping[str, Any], *, exclude: Iterable[str] = (), drop_empty: bool
) -> str:
    """`k1=v1&k2=v2…` over the parameters sorted by name (plain byte order, like TreeMap/ksort).

    With `drop_empty`, parameters whose value is None or "" are left out.
    Every signed request passes through here, so strings (nearly every value)
    skip `value_text`.
    """
    skip = frozenset(exclude)
    parts = []
    for key, value in sorted(params.items()):
        if key in skip or (drop_empty and (value is None or value == "")):
            continue
        parts.append(key + "=" + (value if type(value) is str else value_text(value)))
    return "&".join(parts)
