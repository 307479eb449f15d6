"""Due dates (办结时限) from a start instant, a limit, pauses and extensions.

One pure function, ``due_at``, shared by cases, the hotline and rating
follow-ups. Conventions (documented in docs/deadlines.md, table-tested):

- Days are counted in the deployment's zone (Asia/Shanghai); instants are
  stored in UTC.
- **The start day is not counted** (民法典 第二百零一条: a period in days
  begins the next day). Accepted at any hour of day D, working day 1 is the
  first working day after D.
- A limit ends **at the end of its last day** (23:59:59.999999 local).
- ``working_day`` (行政许可法 第八十二条): only working days of the official
  calendar count; holidays are skipped, make-up working days (调休) count. A
  year the calendar does not know raises ``UnknownCalendarYear``.
- ``natural_day``: every day counts; when the last day is not a working day
  (holiday or weekend) the period ends on the next working day
  (民法典 第二百零三条).
- ``hour``: elapsed hours, wall-clock.
- 即办 (value 0): due at the end of the start day.
- **Pauses** (特别程序, 补齐补正: 行政许可法 第四十五条) stop the clock. For day
  units, every calendar day a pause touches (from its start date to its end
  date, inclusive) is not counted; counting resumes the next day. For hours,
  the paused duration is added. A pause without an end (still running) means
  there is no due date yet: ``None``.
- **Extensions** (延期, 第四十二条) add days (or hours) in the limit's own unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from tongban.core.clock import zone
from tongban.core.workdays import WorkCalendar

UNITS = ("working_day", "natural_day", "hour")
END_OF_DAY = dt.time(23, 59, 59, 999999)


@dataclass(frozen=True, slots=True)
class Pause:
    start: dt.datetime
    end: dt.datetime | None  # None: still paused


def _end_of(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=zone(tz)).astimezone(dt.UTC)


def _paused_days(pauses: Iterable[Pause], tz: str) -> set[dt.date]:
    days: set[dt.date] = set()
    for p in pauses:
        assert p.end is not None
        d = p.start.astimezone(zone(tz)).date()
        last = p.end.astimezone(zone(tz)).date()
        while d <= last:
            days.add(d)
            d += dt.timedelta(days=1)
    return days


def due_at(
    start: dt.datetime,
    value: int,
    unit: str,
    calendar: WorkCalendar,
    *,
    pauses: Iterable[Pause] = (),
    extension: int = 0,
    tz: str = "Asia/Shanghai",
) -> dt.datetime | None:
    """The instant (UTC) a limit of ``value`` ``unit`` started at ``start`` runs out."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    if value < 0 or extension < 0:
        raise ValueError("limits and extensions are not negative")
    pauses = list(pauses)
    if any(p.end is None for p in pauses):
        return None
    total = value + extension
    if unit == "hour":
        paused = sum(((p.end - p.start) for p in pauses if p.end), dt.timedelta())  # type: ignore[operator]
        return (start + dt.timedelta(hours=total) + paused).astimezone(dt.UTC)
    day0 = start.astimezone(zone(tz)).date()
    if total == 0:
        return _end_of(day0, tz)
    skip = _paused_days(pauses, tz)
    if unit == "working_day":
        return _end_of(calendar.add_workdays(day0, total, skip=skip.__contains__), tz)
    d, n = day0, total
    while n > 0:
        d += dt.timedelta(days=1)
        if d not in skip:
            n -= 1
    return _end_of(calendar.next_workday(d), tz)


def working_days_left(
    now: dt.datetime, due: dt.datetime, calendar: WorkCalendar, *, tz: str = "Asia/Shanghai"
) -> int:
    """Working days from today (not counted) to the due day (counted); 0 on the
    due day itself, negative once overdue. The yellow card reads this."""
    today = now.astimezone(zone(tz)).date()
    last = due.astimezone(zone(tz)).date()
    if now > due:
        return -max(1, calendar.workdays_between(last, today))
    return calendar.workdays_between(today, last)
