"""The platform's clock: aware datetimes only, UTC in storage, a zone for people.

Tests freeze time with ``freeze(dt)``; code asks ``now()`` and never calls
``datetime.now()`` itself (ruff's DTZ rules keep it so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from zoneinfo import ZoneInfo

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


@lru_cache(maxsize=8)
def zone(name: str = "Asia/Shanghai") -> ZoneInfo:
    return ZoneInfo(name)


def local(value: dt.datetime, tz: str = "Asia/Shanghai") -> dt.datetime:
    """The same instant in the deployment's zone (for display and working days)."""
    return value.astimezone(zone(tz))


def today(tz: str = "Asia/Shanghai") -> dt.date:
    return local(now(), tz).date()


@contextmanager
def freeze(at: dt.datetime) -> Iterator[None]:
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    old, _frozen = _frozen, at.astimezone(dt.UTC)
    try:
        yield
    finally:
        _frozen = old
