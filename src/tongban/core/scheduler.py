"""Scheduled jobs (定时任务) and the leader lease that lets one worker run them.

Domains register jobs with ``@scheduled(name, every=...)`` (deadline sweeps,
reminders, proactive-service rules). Any number of workers may run; only the
holder of the ``scheduler`` lease (one ``SchedulerLease`` row) runs jobs:

- the lease is taken when the row is absent or expired, by a conditional
  ``UPDATE`` (or an ``INSERT`` when no row exists; a concurrent insert loses
  on the primary key and retries), renewed every third of its length while
  held, and released on a clean stop so another worker takes over at once;
- a job starts only through a conditional ``UPDATE`` of its ``JobRun`` row
  ("started before the threshold"), so even two leaders overlapping at a lease
  edge cannot both start the same run, and a new leader does not repeat a job
  before its interval.

Leases compare times from ``core.clock``: the machines running workers must
keep their clocks in sync (NTP); a worker stops starting jobs a third of a
lease before its own lease ends, which absorbs small skews.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core.clock import now, zone
from tongban.core.db import session_scope
from tongban.core.logging import redact
from tongban.core.outbox import JobRun, SchedulerLease
from tongban.core.settings import Settings

log = logging.getLogger("tongban.scheduler")

LEADER_LEASE = "scheduler"
ERROR_MAX_CHARS = 1000

JobFn = Callable[[AsyncSession], Awaitable[None]]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(
    r"^\s*(?:(?P<hourly>hourly)\s+:?(?P<hm>\d{1,2})"
    r"|(?P<day>daily|mon|tue|wed|thu|fri|sat|sun)\s+(?P<h>\d{1,2}):(?P<m>\d{2}))\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Schedule:
    """When a job is due: a fixed interval, or wall-clock points in the deployment's zone.

    Specs: ``timedelta`` (every interval since the last start), ``"hourly :15"``,
    ``"daily 02:30"``, ``"mon 03:00"`` (weekly). A wall-clock job that missed its
    point (no leader, or a new job) runs once as soon as a leader sees it, not
    once per missed point.
    """

    interval: dt.timedelta | None = None
    weekday: int | None = None  # 0 = Monday; None with hour set = daily
    hour: int | None = None  # None = hourly
    minute: int = 0

    @classmethod
    def parse(cls, every: dt.timedelta | str) -> Schedule:
        if isinstance(every, dt.timedelta):
            if every <= dt.timedelta(0):
                raise ValueError("scheduled job interval must be positive")
            return cls(interval=every)
        m = _SPEC.match(every)
        if not m:
            raise ValueError(
                f"unknown schedule {every!r}: use a timedelta, 'hourly :MM', 'daily HH:MM' or 'mon HH:MM'"
            )
        if m["hourly"]:
            minute = int(m["hm"])
            if minute > 59:
                raise ValueError(f"minute out of range in {every!r}")
            return cls(minute=minute)
        hour, minute = int(m["h"]), int(m["m"])
        if hour > 23 or minute > 59:
            raise ValueError(f"time out of range in {every!r}")
        day = m["day"].lower()
        return cls(
            weekday=None if day == "daily" else _WEEKDAYS.index(day), hour=hour, minute=minute
        )

    def threshold(self, at: dt.datetime, tz: str) -> dt.datetime:
        """The job is due at ``at`` if it last started at or before this instant."""
        if self.interval is not None:
            return at - self.interval
        return self.last_point(at, tz) - dt.timedelta(microseconds=1)

    def last_point(self, at: dt.datetime, tz: str) -> dt.datetime:
        """The latest scheduled wall-clock point at or before ``at``."""
        local = at.astimezone(zone(tz))
        if self.hour is None:
            point = local.replace(minute=self.minute, second=0, microsecond=0)
            if point > local:
                point -= dt.timedelta(hours=1)
            return point.astimezone(dt.UTC)
        point = local.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is None:
            if point > local:
                point -= dt.timedelta(days=1)
        else:
            point -= dt.timedelta(days=(point.weekday() - self.weekday) % 7)
            if point > local:
                point -= dt.timedelta(days=7)
        # Aware arithmetic with one ZoneInfo is wall-clock arithmetic: the offset
        # is recomputed for the result, so this stays right across DST changes.
        return point.astimezone(dt.UTC)


@dataclass(frozen=True)
class Job:
    name: str
    fn: JobFn
    schedule: Schedule


_jobs: dict[str, Job] = {}


def _qualname(fn: JobFn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def scheduled(name: str, *, every: dt.timedelta | str) -> Callable[[JobFn], JobFn]:
    """Register ``fn(session)`` as a job run by the leader worker, in one transaction per run.

    The worker commits the session when ``fn`` returns and rolls it back when it
    raises (the error is kept in ``JobRun.last_error``). A sweep over many rows
    should record events or work in bounded chunks: on SQLite one long write
    transaction holds the database's write lock.
    """
    if len(name) > 80:
        raise ValueError("job name longer than 80 characters")
    schedule = Schedule.parse(every)

    def deco(fn: JobFn) -> JobFn:
        old = _jobs.get(name)
        if old is not None and _qualname(old.fn) != _qualname(fn):
            raise ValueError(f"scheduled job {name!r} registered twice")
        _jobs[name] = Job(name, fn, schedule)
        return fn

    return deco


def registered_jobs() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def unregister(name: str) -> None:
    """Remove a job from the registry (tests)."""
    _jobs.pop(name, None)


def describe_error(exc: BaseException) -> str:
    """Exception type and message, masked and truncated, for storing beside a job or delivery."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = redact(text)
    if len(text) > ERROR_MAX_CHARS:
        text = text[: ERROR_MAX_CHARS - 1] + "…"
    return text


class LeaderLease:
    """One worker's view of a named lease row: acquire, renew, release."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        holder: str,
        seconds: float,
        name: str = LEADER_LEASE,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.holder = holder
        self.seconds = seconds
        self.name = name
        self.held_until: dt.datetime | None = None

    @property
    def margin(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.seconds / 3)

    def is_held(self, at: dt.datetime | None = None) -> bool:
        """True while our lease has more than a third of its length left."""
        at = at or now()
        return self.held_until is not None and at < self.held_until - self.margin

    async def acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it if we hold it."""
        for _ in range(2):
            at = now()
            until = at + dt.timedelta(seconds=self.seconds)
            try:
                async with session_scope(self.sessionmaker) as session:
                    res = await session.execute(
                        update(SchedulerLease)
                        .where(
                            SchedulerLease.name == self.name,
                            or_(
                                SchedulerLease.holder == self.holder,
                                SchedulerLease.expires_at <= at,
                            ),
                        )
                        .values(holder=self.holder, expires_at=until)
                    )
                    if res.rowcount == 1:
                        got = True
                    elif (
                        await session.execute(
                            select(SchedulerLease.name).where(SchedulerLease.name == self.name)
                        )
                    ).first() is not None:
                        got = False
                    else:
                        session.add(
                            SchedulerLease(name=self.name, holder=self.holder, expires_at=until)
                        )
                        await session.flush()
                        got = True
            except IntegrityError:
                # Another worker inserted the row first; look again (it holds a fresh lease).
                continue
            was_held = self.held_until is not None
            self.held_until = until if got else None
            if got and not was_held:
                log.info("scheduler lease acquired", extra={"fields": {"holder": self.holder}})
            elif was_held and not got:
                log.warning("scheduler lease lost", extra={"fields": {"holder": self.holder}})
            return got
        self.held_until = None
        return False

    async def release(self) -> None:
        """Give the lease up (clean stop) so another worker can take it at once."""
        if self.held_until is None:
            return
        self.held_until = None
        async with session_scope(self.sessionmaker) as session:
            await session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=now())
            )
        log.info("scheduler lease released", extra={"fields": {"holder": self.holder}})


async def _start(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: Job,
    *,
    at: dt.datetime,
    threshold: dt.datetime,
) -> bool:
    """Mark the job started if it is still due (atomic: one starter per run)."""
    try:
        async with session_scope(sessionmaker) as session:
            res = await session.execute(
                update(JobRun)
                .where(
                    JobRun.name == job.name,
                    or_(JobRun.last_started_at.is_(None), JobRun.last_started_at <= threshold),
                )
                .values(last_started_at=at)
            )
            if res.rowcount == 1:
                return True
            if (await session.execute(select(JobRun.name).where(JobRun.name == job.name))).first():
                return False
            session.add(JobRun(name=job.name, last_started_at=at))
            await session.flush()
            return True
    except IntegrityError:
        return False  # another leader created the row and started the run


async def run_due_jobs(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    is_leader: Callable[[], bool] = lambda: True,
) -> list[str]:
    """Run every registered job that is due, one after another; return the names run.

    A failing job is recorded in ``JobRun.last_error`` and logged; it never stops
    the others. ``is_leader`` is checked before each start.
    """
    jobs = registered_jobs()
    if not jobs:
        return []
    async with sessionmaker() as session:
        last = dict((await session.execute(select(JobRun.name, JobRun.last_started_at))).all())
    ran: list[str] = []
    for job in jobs:
        if not is_leader():
            break
        at = now()
        threshold = job.schedule.threshold(at, settings.timezone)
        started = last.get(job.name)
        if started is not None and started > threshold:
            continue
        if not await _start(sessionmaker, job, at=at, threshold=threshold):
            continue
        ran.append(job.name)
        error: str | None = None
        try:
            async with session_scope(sessionmaker) as session:
                await job.fn(session)
        except Exception as exc:
            error = describe_error(exc)
            log.exception("scheduled job failed", extra={"fields": {"job": job.name}})
        async with session_scope(sessionmaker) as session:
            await session.execute(
                update(JobRun)
                .where(JobRun.name == job.name, JobRun.last_started_at == at)
                .values(last_finished_at=now(), last_error=error)
            )
    return ran
