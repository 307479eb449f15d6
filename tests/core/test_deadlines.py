"""Due dates: working days across 调休, natural days, hours, pauses, extensions,
unknown years, and the days on which the two public holiday sources differ."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import json
from pathlib import Path

import pytest

from tests.shared_data import shared_data
from tongban.core.deadlines import Pause, due_at, working_days_left
from tongban.core.workdays import (
    CalendarDay,
    CalendarYear,
    UnknownCalendarYear,
    WorkCalendar,
    load_calendar,
    package_calendar,
)

CST = dt.timezone(dt.timedelta(hours=8))
CAL = package_calendar()


def at(y, m, d, h=10, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=CST)


def day_of(due):
    return due.astimezone(CST).date()


# (start, value, unit, expected local due date, why)
TABLE = [
    (
        at(2024, 9, 27),
        5,
        "working_day",
        dt.date(2024, 10, 10),
        "国庆: 9-29 (Sun) make-up counts, 10-1..7 skipped",
    ),
    (at(2024, 9, 28), 1, "working_day", dt.date(2024, 9, 29), "a make-up Sunday is a working day"),
    (
        at(2024, 10, 1),
        3,
        "working_day",
        dt.date(2024, 10, 10),
        "start on a holiday: first day is 10-8",
    ),
    (at(2024, 10, 10), 2, "working_day", dt.date(2024, 10, 12), "10-12 (Sat) make-up counts"),
    (
        at(2025, 1, 24),
        2,
        "working_day",
        dt.date(2025, 1, 27),
        "春节 2025: 1-26 (Sun) make-up counts",
    ),
    (
        at(2025, 1, 27),
        20,
        "working_day",
        dt.date(2025, 3, 3),
        "1-28..2-4 skipped, 2-8 (Sat) counts",
    ),
    (at(2024, 11, 4), 10, "working_day", dt.date(2024, 11, 18), "two ordinary weeks"),
    (
        at(2024, 9, 20),
        11,
        "natural_day",
        dt.date(2024, 10, 8),
        "ends on 10-1 (holiday): moved to the next working day",
    ),
    (
        at(2024, 11, 1),
        1,
        "natural_day",
        dt.date(2024, 11, 4),
        "ends on a Saturday: moved to Monday",
    ),
    (
        at(2024, 10, 11),
        1,
        "natural_day",
        dt.date(2024, 10, 12),
        "ends on a make-up Saturday: stays",
    ),
    (at(2024, 10, 8, 15), 0, "working_day", dt.date(2024, 10, 8), "即办: end of the start day"),
    (
        dt.datetime(2024, 10, 10, 16, 30, tzinfo=dt.UTC),
        1,
        "working_day",
        dt.date(2024, 10, 12),
        "16:30 UTC is 00:30 on 10-11 in Shanghai: the start day is 10-11",
    ),
]


@pytest.mark.parametrize(
    ("start", "value", "unit", "expected", "why"), TABLE, ids=[t[4] for t in TABLE]
)
def test_due_dates(start, value, unit, expected, why):
    due = due_at(start, value, unit, CAL)
    assert day_of(due) == expected, why
    assert due.astimezone(CST).time() == dt.time(23, 59, 59, 999999)
    assert due.tzinfo == dt.UTC


def test_hours_are_wall_clock_even_on_holidays():
    assert due_at(at(2024, 10, 1, 9), 24, "hour", CAL) == at(2024, 10, 2, 9).astimezone(dt.UTC)
    paused = [Pause(at(2024, 10, 1, 12), at(2024, 10, 1, 15))]
    assert due_at(at(2024, 10, 1, 9), 24, "hour", CAL, pauses=paused) == at(
        2024, 10, 2, 12
    ).astimezone(dt.UTC)


def test_pauses_skip_every_day_they_touch():
    pause = Pause(
        at(2024, 11, 6, 10), at(2024, 11, 8, 16)
    )  # Wed..Fri: three working days not counted
    assert day_of(due_at(at(2024, 11, 4), 10, "working_day", CAL, pauses=[pause])) == dt.date(
        2024, 11, 21
    )
    assert day_of(due_at(at(2024, 11, 4), 3, "natural_day", CAL, pauses=[pause])) == dt.date(
        2024, 11, 11
    )


def test_an_open_pause_has_no_due_date():
    assert (
        due_at(at(2024, 11, 4), 10, "working_day", CAL, pauses=[Pause(at(2024, 11, 5), None)])
        is None
    )


def test_extension_adds_days_in_the_limits_unit():
    assert day_of(due_at(at(2024, 11, 4), 10, "working_day", CAL, extension=10)) == dt.date(
        2024, 12, 2
    )


def test_bad_arguments():
    with pytest.raises(ValueError):
        due_at(dt.datetime(2024, 1, 1), 1, "working_day", CAL)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError):
        due_at(at(2024, 1, 2), 1, "fortnight", CAL)
    with pytest.raises(ValueError):
        due_at(at(2024, 1, 2), -1, "working_day", CAL)


def test_unknown_year_is_an_explicit_error():
    with pytest.raises(UnknownCalendarYear) as e:
        due_at(at(2026, 12, 28), 5, "working_day", CAL)  # runs into 2027
    assert e.value.code == "calendar_year_unknown" and e.value.year == 2027
    assert "2027" in e.value.message and "国务院" in e.value.message


def test_working_days_left():
    due = due_at(at(2024, 9, 27), 5, "working_day", CAL)  # 10-10
    assert working_days_left(at(2024, 9, 30), due, CAL) == 3  # 10-8, 10-9, 10-10
    assert working_days_left(at(2024, 10, 10, 9), due, CAL) == 0
    assert working_days_left(at(2024, 10, 11, 9), due, CAL) == -1


@pytest.mark.asyncio
async def test_a_year_loaded_by_an_administrator_extends_the_calendar(session):
    session.add(CalendarYear(year=2027, source="国办发明电〔2026〕测试号"))
    session.add(CalendarDay(day=dt.date(2027, 1, 1), is_workday=False, name="元旦"))
    await session.flush()
    cal = await load_calendar(session, fresh=True)
    assert day_of(due_at(at(2026, 12, 28), 5, "working_day", cal)) == dt.date(2027, 1, 5)
    with pytest.raises(UnknownCalendarYear):
        cal.is_workday(dt.date(2028, 1, 3))


# --- the two public sources ---------------------------------------------------------


def _holiday_cn() -> WorkCalendar:
    root = shared_data("holidays_holiday_cn")
    special, years = {}, set()
    for f in sorted(glob.glob(str(root / "20*.json"))):
        data = json.loads(Path(f).read_text(encoding="utf-8"))
        if data["days"]:
            years.add(data["year"])
        for d in data["days"]:
            day = dt.date.fromisoformat(d["date"])
            special[day] = not d["isOffDay"]
    return WorkCalendar(years=frozenset(years), special=special)


def _disputed_days() -> list[dt.date]:
    """Days the chinesecalendar table names as holidays and holiday-cn does not list."""
    root = shared_data("holidays_holiday_cn")
    listed = set()
    for f in glob.glob(str(root / "20*.json")):
        listed |= {d["date"] for d in json.loads(Path(f).read_text(encoding="utf-8"))["days"]}
    path = shared_data("holidays_chinesecalendar", "china_holidays_workdays.csv")
    out = []
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["date"] >= "2007" and row["date"] not in listed:
            out.append(dt.date.fromisoformat(row["date"]))
    return out


def test_sources_agree_on_every_working_day_2007_2026():
    other = _holiday_cn()
    d, differ = dt.date(2007, 1, 1), []
    while d <= dt.date(2026, 12, 31):
        if CAL.is_workday(d) != other.is_workday(d):
            differ.append(d)
        d += dt.timedelta(days=1)
    assert differ == []


def test_the_disputed_days_are_weekend_rest_days_in_both():
    """The sources disagree only on whether some weekend days belong to a holiday
    period: 2014-04-06, 2019-04-06/07, 2019-06-08/09, 2019-09-14/15 and
    2023-12-30/31. The State Council notices place them inside the break
    (e.g. 2019: "清明节：4月5日至7日放假调休，共3天"; 2024 元旦: "12月30日至1月1日
    放假调休，共3天"), so chinesecalendar's names are right; either way they are
    rest days, so no working-day count and no natural-day end (moved to the
    next working day) changes. Decided: follow the notice; counting is equal."""
    disputed = _disputed_days()
    assert {d.isoformat() for d in disputed} == {
        "2014-04-06",
        "2019-04-06",
        "2019-04-07",
        "2019-06-08",
        "2019-06-09",
        "2019-09-14",
        "2019-09-15",
        "2023-12-30",
        "2023-12-31",
    }
    other = _holiday_cn()
    for d in disputed:
        assert d.weekday() >= 5
        assert not CAL.is_workday(d) and not other.is_workday(d)
        start = dt.datetime.combine(d - dt.timedelta(days=1), dt.time(10), tzinfo=CST)
        for unit in ("working_day", "natural_day"):
            assert due_at(start, 1, unit, CAL) == due_at(start, 1, unit, other)
    assert day_of(due_at(at(2019, 4, 5), 1, "natural_day", CAL)) == dt.date(2019, 4, 8)
