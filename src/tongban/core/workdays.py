"""Official working-day calendar: which years are known.

The ``chinesecalendar`` package carries the State Council's holiday notices
for 2004–2026; later years are loaded by an administrator from the new notice
into ``calendar_day`` (one row per holiday or make-up working day) and marked
complete in ``calendar_year``. A year that is in neither is unknown, and
deadline arithmetic must refuse it (the cases capability builds the
calculator on this table).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy import Boolean, Date, SmallInteger, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base


class CalendarYear(Base):
    """A year whose holidays and make-up days an administrator has loaded in full."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))  # e.g. 国办发明电〔2026〕N号
    loaded_at: Mapped[dt.datetime] = mapped_column(default=now)


class CalendarDay(Base):
    """A day that differs from the Monday–Friday rule: a holiday on a weekday
    or a make-up working day (调休) on a weekend."""

    __tablename__ = "calendar_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(40), default="")


@lru_cache(maxsize=1)
def package_years() -> frozenset[int]:
    """Years the chinesecalendar package covers (from its own tables)."""
    from chinese_calendar import constants

    years = {d.year for d in constants.holidays} | {d.year for d in constants.workdays}
    return frozenset(years)


async def known_years(session: AsyncSession) -> set[int]:
    loaded = set((await session.execute(select(CalendarYear.year))).scalars())
    return set(package_years()) | loaded
