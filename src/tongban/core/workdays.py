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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Boolean, Date, SmallInteger, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base
from tongban.core.errors import AppError


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


# --- the calendar deadline arithmetic reads -------------------------------------------


class UnknownCalendarYear(AppError):
    """A working-day calculation reached a year whose holidays nobody has loaded."""

    code = "calendar_year_unknown"
    status = 409

    def __init__(self, year: int) -> None:
        super().__init__(
            f"{year} 年的节假日安排尚未录入，无法按工作日计算期限。"
            f"请平台管理员依据国务院办公厅发布的 {year} 年部分节假日安排通知录入后重试。",
            details={"year": year},
        )
        self.year = year


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days (法定工作日), for the years it knows.

    ``special`` holds only the days that break the Monday–Friday rule: holidays
    on weekdays (False) and make-up working days on weekends (True). Any other
    day of a known year is a working day exactly when it is Monday–Friday. A
    day of an unknown year raises ``UnknownCalendarYear`` — never a guess.
    """

    years: frozenset[int]
    special: Mapping[dt.date, bool] = field(default_factory=dict)
    names: Mapping[dt.date, str] = field(default_factory=dict)

    def is_workday(self, day: dt.date) -> bool:
        if day.year not in self.years:
            raise UnknownCalendarYear(day.year)
        got = self.special.get(day)
        return got if got is not None else day.weekday() < 5

    def next_workday(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the first one after it."""
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def add_workdays(
        self, day: dt.date, n: int, *, skip: Callable[[dt.date], bool] | None = None
    ) -> dt.date:
        """The n-th working day after ``day`` (``day`` itself not counted); days
        for which ``skip`` is true are not counted either."""
        d = day
        while n > 0:
            d += dt.timedelta(days=1)
            if self.is_workday(d) and not (skip and skip(d)):
                n -= 1
        return d

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.workdays_between(end, start)
        count, d = 0, start
        while d < end:
            d += dt.timedelta(days=1)
            count += self.is_workday(d)
        return count


@lru_cache(maxsize=1)
def package_calendar() -> WorkCalendar:
    """The chinesecalendar package's days (2004–2026)."""
    from chinese_calendar import constants

    special: dict[dt.date, bool] = {}
    names: dict[dt.date, str] = {}
    for d, name in constants.holidays.items():
        if d.weekday() < 5:
            special[d] = False
        names[d] = str(name)
    for d, name in constants.workdays.items():
        if d.weekday() >= 5:
            special[d] = True
        names.setdefault(d, str(name))
    return WorkCalendar(years=package_years(), special=special, names=names)


_cached: tuple[float, WorkCalendar] | None = None
CACHE_SECONDS = 60.0


async def load_calendar(session: AsyncSession, *, fresh: bool = False) -> WorkCalendar:
    """The package's years, with every year an administrator loaded laid over it
    (a loaded year replaces the package's days for that year). Cached for a minute."""
    global _cached
    import time

    if not fresh and _cached and time.monotonic() - _cached[0] < CACHE_SECONDS:
        return _cached[1]
    base = package_calendar()
    loaded = set((await session.execute(select(CalendarYear.year))).scalars())
    if not loaded:
        cal = base
    else:
        special = {d: v for d, v in base.special.items() if d.year not in loaded}
        names = {d: v for d, v in base.names.items() if d.year not in loaded}
        rows = (await session.execute(select(CalendarDay))).scalars().all()
        for r in rows:
            if r.day.year in loaded:
                if r.is_workday != (r.day.weekday() < 5):
                    special[r.day] = r.is_workday
                names[r.day] = r.name
        cal = WorkCalendar(years=frozenset(base.years | loaded), special=special, names=names)
    _cached = (time.monotonic(), cal)
    return cal


def forget_cached_calendar() -> None:
    global _cached
    _cached = None
