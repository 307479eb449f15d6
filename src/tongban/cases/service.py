"""Case rules: submit (idempotent), every lifecycle transition, deadlines.

Each transition: lock the case, check the table (``lifecycle.TRANSITIONS``),
the actor's role and scope and the step, apply, recompute the due date, write
the trail (服务轨迹), the audit log and an event, notify the applicant — one
transaction (the edge commits).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, make_transient_to_detached

from tongban.cases import lifecycle
from tongban.cases.models import (
    Case,
    CaseCounter,
    CaseMaterial,
    CasePause,
    CaseTrail,
    CorrectionNotice,
    Notification,
)
from tongban.catalogue import forms
from tongban.catalogue.models import Implementation, ImplementationVersion
from tongban.core import audit, scope
from tongban.core.clock import local, now
from tongban.core.db import driver_bind_processor, lock_for_update
from tongban.core.deadlines import Pause, due_at
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.outbox import (
    OutboxDelivery,
    OutboxEvent,
    handlers_for,
    record_deliveries_sync,
    record_events_sync,
)
from tongban.core.settings import get_settings
from tongban.core.workdays import load_calendar
from tongban.identity.access import Actor, can_act_for_enterprise
from tongban.identity.models import Account, Enterprise, Person

ACCEPT_WINDOW_DAYS = 5  # 行政许可法 第三十二条: accept, refuse or notify within 5 days
MAX_EXTENSION_DAYS = 10  # 第四十二条: +10 days with the agency head's approval
INTAKE_WIDE_ROLES = frozenset({"clerk"})  # 综合窗口 accepts for every department of its region


# --- scope --------------------------------------------------------------------------


def staff_sees(actor: Actor, case: Case) -> bool:
    if actor.kind != "staff" or not scope.is_within(case.region_code, actor.region_code):
        return False
    if actor.region_wide or actor.roles & INTAKE_WIDE_ROLES:
        return True
    return actor.department_id == case.department_id


def applicant_sees(actor: Actor, case: Case) -> bool:
    return actor.kind == "person" and (
        case.applicant_person_id == actor.person_id or case.submitted_by == actor.account_id
    )


def scope_key(actor: Actor) -> tuple[Any, ...]:
    """Everything ``scope_cases`` reads of the actor (it must stay complete): a
    statement scoped for one actor is valid for any actor with the same key."""
    return (
        actor.kind,
        actor.account_id,
        actor.person_id,
        actor.region_code,
        actor.department_id,
        actor.roles,
    )


def scope_cases(actor: Actor, stmt: Any) -> Any:
    """WHERE clauses for lists: the same rule as ``staff_sees``/``applicant_sees``.
    Reads only what ``scope_key`` lists."""
    from sqlalchemy import false, or_

    if actor.kind == "person":
        return stmt.where(
            or_(Case.applicant_person_id == actor.person_id, Case.submitted_by == actor.account_id)
        )
    if actor.kind != "staff":
        return stmt.where(false())
    stmt = stmt.where(scope.in_subtree(Case.region_code, actor.region_code))
    if actor.region_wide or actor.roles & INTAKE_WIDE_ROLES:
        return stmt
    return stmt.where(Case.department_id == actor.department_id)


async def get_case(
    session: AsyncSession, actor: Actor, case_id: int, *, lock: bool = False
) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    case = (
        (await lock_for_update(session, stmt)) if lock else (await session.execute(stmt))
    ).scalar_one_or_none()
    if case is None or not (staff_sees(actor, case) or applicant_sees(actor, case)):
        raise NotFound("办件不存在，或您无权查看", code="case_not_found")
    return case


# --- numbers, notifications, trail ------------------------------------------------------
#
# The writes of a submission or a transition are prebuilt Core statements run
# in one ``run_sync`` on the session's connection (one greenlet switch, no
# unit-of-work bookkeeping): the same rows as ORM objects would give, at a
# fraction of the CPU. The hot rows (the case-number counter of a region and
# day, the audit chain head of a region) are taken as late as possible, since
# their row locks last until the commit.

_CASE = Case.__table__
# The columns a trail row is written with besides its case (every statement that inserts one).
TRAIL_COLUMNS = (
    "action",
    "from_state",
    "to_state",
    "step_name",
    "actor_ref",
    "actor_name",
    "comment",
    "data",
    "at",
    "region_code",
)


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


_prebuilt: dict[tuple[str, str], Any] = {}


def _stmt(dialect: str, name: str) -> Any:
    """A prebuilt statement for this dialect (built once, then cached by SQLAlchemy's compiled cache)."""
    got = _prebuilt.get((dialect, name))
    if got is None:
        got = _prebuilt[(dialect, name)] = _BUILDERS[name](dialect)
    return got


_lanes = itertools.count()


def next_lane() -> int:
    """The lane of PostgreSQL's next case submission in this process: the
    lanes in turn (``case_serial``; ``core.audit``)."""
    return next(_lanes) % audit.SUBMIT_LANES


def case_serial(value: int, lane: int, dialect: str) -> int:
    """The sequence number of a case number from its counter's ``value``. A
    region's day has a counter per lane of the audit chain (PostgreSQL's
    submissions spread over ``audit.SUBMIT_LANES``, each locking its lane's
    counter and head, not the region's; SQLite's one writer has one lane):
    lane k's n-th number is the k-th of the n-th round of lanes. Unique, near
    the order of filing, not dense (a gap wherever a lane is behind)."""
    lanes = audit.SUBMIT_LANES if dialect == "postgresql" else 1
    return (value - 1) * lanes + lane + 1


def _counter_stmt(dialect: str) -> Any:
    """The day's counter of the region, lane 0."""
    t = CaseCounter.__table__
    return (
        _upsert(dialect)(t)
        .values(region6=bindparam("b_region6"), day=bindparam("b_day"), lane=0, value=1)
        .on_conflict_do_update(
            index_elements=[t.c.region6, t.c.day, t.c.lane], set_={"value": t.c.value + 1}
        )
        .returning(t.c.value)
    )


def _notify_stmt(dialect: str) -> Any:
    """The inbox message for every person account of the applicant, and for the
    submitter's account when it is a person's (not a window clerk's)."""
    t = Notification.__table__
    accounts = (
        select(
            Account.id,
            bindparam("b_case_id", type_=t.c.case_id.type),
            bindparam("b_title", type_=t.c.title.type),
            bindparam("b_body", type_=t.c.body.type),
            bindparam("b_at", type_=t.c.created_at.type),
        )
        .where(
            Account.kind == "person",
            or_(
                Account.id == bindparam("b_submitted_by"),
                Account.person_id == bindparam("b_person_id"),
            ),
        )
        .order_by(Account.id)
    )
    return insert(t).from_select(["account_id", "case_id", "title", "body", "created_at"], accounts)


def _trail_stmt(dialect: str) -> Any:
    return insert(CaseTrail.__table__)


def _submit_probe_stmt(dialect: str) -> Any:
    """What ``submit`` checks, in one read: the implementation, its published
    version, the applicant's name and a case already filed with the key."""
    return (
        select(
            Implementation.id,
            Implementation.status,
            Implementation.published_version_id,
            Implementation.region_code,
            Implementation.department_id,
            Implementation.name,
            ImplementationVersion.id,
            ImplementationVersion.content_hash,
            select(Person.name).where(Person.id == bindparam("person_id")).scalar_subquery(),
            select(Case.id)
            .where(
                Case.submitted_by == bindparam("account_id"),
                Case.idempotency_key == bindparam("key"),
            )
            .scalar_subquery(),
        )
        .outerjoin(
            ImplementationVersion, ImplementationVersion.id == Implementation.published_version_id
        )
        .where(Implementation.id == bindparam("implementation_id"))
    )


def _version_stmt(dialect: str) -> Any:
    return select(ImplementationVersion.fields, ImplementationVersion.form).where(
        ImplementationVersion.id == bindparam("id")
    )


def _pg_filed() -> tuple[Any, Any]:
    """PostgreSQL: the CTEs that take the number from the day's counter of the
    region's lane (``b_lane``; one row: its value) and file the case (its id
    and number; no row when the submitter used the key meanwhile)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    counter_t = CaseCounter.__table__
    lane = bindparam("b_lane", type_=counter_t.c.lane.type)
    counter = (
        pg_insert(counter_t)
        .values(region6=bindparam("b_region6"), day=bindparam("b_day"), lane=lane, value=1)
        .on_conflict_do_update(
            index_elements=[counter_t.c.region6, counter_t.c.day, counter_t.c.lane],
            set_={"value": counter_t.c.value + 1},
        )
        .returning(counter_t.c.value)
        .cte("counter")
    )
    # case_number(region6, day, serial), the serial as case_serial computes it
    serial = (counter.c.value - 1) * audit.SUBMIT_LANES + cast(lane, Integer) + 1
    text_serial = cast(serial, Text)
    number = bindparam("b_prefix", type_=Text) + sql_case(
        (serial < 1000000, func.lpad(text_serial, 6, "0")), else_=text_serial
    )
    cols = [c.name for c in _CASE.columns if c.name not in ("id", "number")]
    return counter, (
        pg_insert(_CASE)
        .from_select(
            [*cols, "number"],
            select(*(bindparam(f"b_{c}", type_=_CASE.c[c].type) for c in cols), number).select_from(
                counter
            ),
        )
        .on_conflict_do_nothing(index_elements=[_CASE.c.submitted_by, _CASE.c.idempotency_key])
        .returning(_CASE.c.id, _CASE.c.number)
        .cte("filed")
    )


def _pg_file_stmt(dialect: str) -> Any:
    """PostgreSQL, one statement: the number from the counter of the region's
    lane (``b_lane``), the case (unless the submitter used the key meanwhile)
    and the audit head of that lane claimed — the hot rows are taken here,
    two round trips before the commit. Returns (case id, number, audit seq,
    previous hash), or no row."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    _counter, filed = _pg_filed()
    head_t = audit.AuditChainHead.__table__
    head = (
        pg_insert(head_t)
        .from_select(
            ["region_code", "lane", "seq", "hash"],
            select(
                bindparam("b_region_code", type_=head_t.c.region_code.type),
                bindparam("b_lane", type_=head_t.c.lane.type),
                literal(1),
                literal(audit.GENESIS),
            ).select_from(filed),
        )
        .on_conflict_do_update(
            index_elements=[head_t.c.region_code, head_t.c.lane], set_={"seq": head_t.c.seq + 1}
        )
        .returning(head_t.c.seq, head_t.c.hash)
        .cte("head")
    )
    return select(filed.c.id, filed.c.number, head.c.seq, head.c.hash).select_from(
        filed.join(head, true())
    )


def _pg_record_stmt(dialect: str) -> Any:
    """PostgreSQL, one statement after ``_pg_file_stmt``: the trail, the
    notification, the two events, the audit entry and the head's hash.
    Returns the events' (id, name)."""
    trail_t, events_t = CaseTrail.__table__, OutboxEvent.__table__
    entry_t, head_t = audit.AuditEntry.__table__, audit.AuditChainHead.__table__
    trail = (
        insert(trail_t)
        .values(
            {c: bindparam(f"t_{c}", type_=trail_t.c[c].type) for c in ("case_id", *TRAIL_COLUMNS)}
        )
        .cte("trail")
    )
    notified = _notify_stmt(dialect).cte("notified")
    event_cols = ("name", "payload", "created_at", "region_code")
    rows = union_all(
        *(
            select(*(bindparam(f"e{i}_{c}", type_=events_t.c[c].type) for c in event_cols))
            for i in (1, 2)
        )
    )
    events = (  # in this order (a multi-row VALUES would not be cached by SQLAlchemy)
        insert(events_t)
        .from_select(list(event_cols), rows)
        .returning(events_t.c.id, events_t.c.name)
        .cte("events")
    )
    cols = audit.ENTRY_COLUMNS
    entry = (
        insert(entry_t)
        .values({c: bindparam(f"a_{c}", type_=entry_t.c[c].type) for c in cols})
        .cte("entry")
    )
    head = (
        update(head_t)
        .where(
            head_t.c.region_code == bindparam("a_region_code"),
            head_t.c.lane == bindparam("a_lane"),
        )
        .values(hash=bindparam("a_hash"))
        .cte("head_hash")
    )
    return (
        select(events.c.id, events.c.name)
        .add_cte(trail, notified, entry, head)
        .order_by(events.c.id)
    )


def _pg_submit_stmt(dialect: str) -> Any:
    """PostgreSQL, the whole submission in one statement, run on its own
    (autocommit): ``_pg_file_stmt`` and ``_pg_record_stmt`` in one, with the
    audit entry's hash computed by the database from the head of the lane
    (``b_lane``) it locks (``audit.entry_hash_parts``: the canonical bytes
    around the sequence number, the previous hash and the case id). The hot
    rows (the day's counter and the audit head of the region's lane) are
    then locked only while PostgreSQL runs the statement and flushes its
    commit — with the two statements in a transaction they stayed locked
    across two round trips and the client's turns of its event loop, and the
    submissions of a region queued on them (measured: 10 of 12 backends
    waiting on a row lock at 32 clients; with one counter and one head per
    region, still 40 % of the statement's time).

    Anything but the plain case fails the whole statement, so nothing is
    written: the submitter used the key meanwhile (no case filed: the audit
    entry's ``target_id`` is NULL) or the region has no chain head yet (the
    entry's ``seq`` is NULL) — both NOT NULL violations; the caller then takes
    the two statements in a transaction (``cases.submit_hot``). The events'
    payloads are written as SQLAlchemy's JSON type writes them
    (``json.dumps``), the id and number spliced in (``pg_submit_params``).
    Returns (case id, number)."""
    from sqlalchemy import LargeBinary
    from sqlalchemy.types import JSON as SA_JSON

    counter, filed = _pg_filed()
    trail_t, events_t = CaseTrail.__table__, OutboxEvent.__table__
    entry_t, head_t = audit.AuditEntry.__table__, audit.AuditChainHead.__table__
    region = bindparam("b_region_code", type_=head_t.c.region_code.type)
    lane = bindparam("b_lane", type_=head_t.c.lane.type)
    prev = (
        select(head_t.c.region_code, head_t.c.lane, head_t.c.seq, head_t.c.hash)
        .select_from(head_t.join(filed, true()))
        .where(head_t.c.region_code == region, head_t.c.lane == lane)
        .with_for_update(of=head_t)
        .cte("prev")
    )
    binary = LargeBinary()
    case_id = cast(filed.c.id, Text)
    canonical = bindparam("h_pre", type_=binary)
    for part in (
        func.convert_to(
            cast(prev.c.seq + 1, Text) + literal(',"') + prev.c.hash + literal('",'), "UTF8"
        ),
        bindparam("h_mid", type_=binary),
        func.convert_to(case_id, "UTF8"),
        bindparam("h_post", type_=binary),
    ):
        canonical = canonical.op("||", return_type=binary)(part)
    head = (
        update(head_t)
        .where(head_t.c.region_code == prev.c.region_code, head_t.c.lane == prev.c.lane)
        .values(seq=prev.c.seq + 1, hash=func.encode(func.sha256(canonical), "hex"))
        .returning(head_t.c.seq, head_t.c.hash, prev.c.hash.label("prev_hash"))
        .cte("head")
    )
    entry = (
        insert(entry_t)
        .from_select(
            list(audit.ENTRY_COLUMNS),
            select(
                region,
                lane,
                head.c.seq,
                head.c.prev_hash,
                head.c.hash,
                bindparam("t_actor_ref", type_=entry_t.c.actor.type),
                literal("case.submit"),
                literal("case"),
                case_id,
                bindparam("t_at", type_=entry_t.c.at.type),
                bindparam("a_details", type_=entry_t.c.details.type),
            ).select_from(
                # the counter's one row, always: no case or no head → NULLs → the statement fails
                counter.outerjoin(filed, true()).outerjoin(head, true())
            ),
        )
        .cte("entry")
    )
    trail = (
        insert(trail_t)
        .from_select(
            ["case_id", *TRAIL_COLUMNS],
            select(
                filed.c.id,
                *(bindparam(f"t_{c}", type_=trail_t.c[c].type) for c in TRAIL_COLUMNS),
            ),
        )
        .cte("trail")
    )
    t = Notification.__table__
    notified = (
        insert(t)
        .from_select(
            ["account_id", "case_id", "title", "body", "created_at"],
            select(
                Account.id,
                filed.c.id,
                bindparam("n_title", type_=t.c.title.type),
                bindparam("n_body_pre", type_=Text)
                + filed.c.number
                + bindparam("n_body_post", type_=Text),
                bindparam("t_at", type_=t.c.created_at.type),
            )
            .where(
                Account.kind == "person",
                or_(
                    Account.id == bindparam("b_submitted_by"),
                    Account.person_id == bindparam("b_applicant_person_id"),
                ),
            )
            .order_by(Account.id),
        )
        .cte("notified")
    )
    json_t = SA_JSON()
    e1 = cast(
        bindparam("e1_pre", type_=Text)
        + case_id
        + bindparam("e1_mid", type_=Text)
        + filed.c.number
        + bindparam("e1_post", type_=Text),
        json_t,
    )
    e2 = cast(bindparam("e2_pre", type_=Text) + case_id + bindparam("e2_post", type_=Text), json_t)
    at, ev_region = bindparam("t_at", type_=events_t.c.created_at.type), region
    events = (
        insert(events_t)
        .from_select(
            ["name", "payload", "created_at", "region_code"],
            union_all(
                select(literal("case.submit"), e1, at, ev_region).select_from(filed),
                select(literal("case.notified"), e2, at, ev_region).select_from(filed),
            ),
        )
        .cte("events")
    )
    return select(filed.c.id, filed.c.number).add_cte(entry, trail, notified, events)


_BUILDERS = {
    "pg_submit": _pg_submit_stmt,
    "pg_file": _pg_file_stmt,
    "pg_record": _pg_record_stmt,
    "counter": _counter_stmt,
    "notify": _notify_stmt,
    "trail": _trail_stmt,
    "submit_probe": _submit_probe_stmt,
    "version": _version_stmt,
}


def _next_number(conn: Any, region_code: str, at: dt.datetime) -> str:
    region6, day = region_code[:6], local(at).strftime("%Y%m%d")
    value = conn.execute(
        _stmt(conn.dialect.name, "counter"), {"b_region6": region6, "b_day": day}
    ).scalar_one()
    return case_number(region6, day, case_serial(value, 0, conn.dialect.name))


def case_number(region6: str, day: str, serial: int) -> str:
    """``<region 6>-<yyyymmdd>-<serial, 6 digits at least>`` (``_pg_filed`` writes it in SQL)."""
    return f"{region6}-{day}-{serial:06d}"


async def next_number(session: AsyncSession, region_code: str, at: dt.datetime) -> str:
    """办件编号 ``<region 6>-<yyyymmdd>-<6-digit sequence>`` (local date), e.g. 370102-20261121-000042."""
    return await session.run_sync(lambda s: _next_number(s.connection(), region_code, at))


def _notify_sync(
    s: Session,
    case: Case,
    title: str,
    body: str,
    *,
    event: tuple[str, dict[str, Any]] | None = None,
) -> None:
    conn = s.connection()
    conn.execute(
        _stmt(conn.dialect.name, "notify"),
        {
            "b_case_id": case.id,
            "b_title": title,
            "b_body": body,
            "b_at": now(),
            "b_submitted_by": case.submitted_by,
            "b_person_id": case.applicant_person_id,
        },
    )
    events = [event] if event else []
    events.append(("case.notified", {"case_id": case.id, "title": title}))
    record_events_sync(s, events, region_code=case.region_code)


TITLE_MAX = 200  # notification.title


def fit_title(title: str) -> str:
    """A notification title that fits its column: an item name may take all
    of its own 200 characters, so the name is shortened with an ellipsis."""
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


async def notify(session: AsyncSession, case: Case, title: str, body: str = "") -> None:
    """In-app inbox for the applicant's account; SMS/email go out from the event."""
    await session.run_sync(_notify_sync, case, fit_title(title), body)


def _trail_sync(
    s: Session,
    case: Case,
    actor: Actor,
    action: str,
    from_state: str,
    *,
    step: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
    title: str,
    body: str,
) -> None:
    """The trail row, the applicant's notification, the events ``case.<action>``
    and ``case.notified`` (in that order), then the audit entry — last, as it
    locks the region's chain head until the commit."""
    s.flush()  # the case's own changes first
    conn = s.connection()
    conn.execute(
        _stmt(conn.dialect.name, "trail"),
        {
            "case_id": case.id,
            "action": action,
            "from_state": from_state,
            "to_state": case.state,
            "step_name": step,
            "actor_ref": actor.ref,
            "actor_name": actor.display_name,
            "comment": comment,
            "data": data or {},
            "at": now(),
            "region_code": case.region_code,
        },
    )
    _notify_sync(
        s,
        case,
        title,
        body,
        event=(f"case.{action}", {"case_id": case.id, "number": case.number, "state": case.state}),
    )
    audit.record_sync(
        s,
        actor=actor.ref,
        action=f"case.{action}",
        target_type="case",
        target_id=case.id,
        region_code=case.region_code,
        details={"from": from_state, "to": case.state, "step": step},
    )


async def _trail(
    session: AsyncSession,
    case: Case,
    actor: Actor,
    action: str,
    from_state: str,
    *,
    step: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
    title: str,
    body: str = "",
) -> None:
    """Trail, notification, events and audit of one step: one transaction, one greenlet."""
    await session.run_sync(
        _trail_sync,
        case,
        actor,
        action,
        from_state,
        step=step,
        comment=comment,
        data=data,
        title=title,
        body=body,
    )


# --- submit --------------------------------------------------------------------------


def review_steps(fields: dict[str, Any]) -> list[dict[str, Any]]:
    if fields.get("case_type") == "1" or fields.get("promised_limit", {}).get("value") == 0:
        return [dict(s) for s in lifecycle.INSTANT_STEPS]
    steps = [
        {"name": s["name"], "role": s.get("role") or "approver", "limit": s.get("limit")}
        for s in fields.get("steps") or []
        if s.get("role") in ("approver", "clerk")
    ]
    return steps or [dict(s) for s in lifecycle.DEFAULT_STEPS]


# A published version's document never changes (the database refuses it), so
# its fields and form are kept decoded, keyed by the content hash (the same
# hash is the same document, whichever database it came from). Read-only:
# callers must not modify them.
_VERSION_CACHE: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
_VERSION_CACHE_MAX = 512


async def _version_doc(
    session: AsyncSession, version_id: int, content_hash: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    got = _VERSION_CACHE.get(content_hash)
    if got is None:
        conn = await session.connection()
        fields, form = (
            await conn.execute(_stmt(conn.dialect.name, "version"), {"id": version_id})
        ).one()
        if len(_VERSION_CACHE) >= _VERSION_CACHE_MAX:
            _VERSION_CACHE.clear()
        got = _VERSION_CACHE[content_hash] = (fields, form)
    return got


async def submit(
    session: AsyncSession,
    actor: Actor,
    *,
    implementation_id: int,
    form_data: dict[str, Any],
    idempotency_key: str,
    channel: str = "pc",
    enterprise_id: int | None = None,
    applicant_person_id: int | None = None,
    materials: list[dict[str, Any]] | None = None,
    trail_data: dict[str, Any] | None = None,
) -> tuple[Case, bool]:
    """File an application. Returns ``(case, created)``; the same key again returns the same case.

    ``trail_data``: kept in the submission's trail row (服务轨迹), e.g. the
    authorised use of wallet licences that replace materials (licences.reuse).

    Two reads (the probe below and the session's own) and, for a new case, one
    batch of writes: the counter, the case, its materials, the trail, the
    notification, the two events and the audit entry.
    """
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 80:
        raise ValidationFailed(
            "幂等键（Idempotency-Key）应为 8–80 个字符", code="idempotency_key_invalid"
        )
    if actor.account_id is None:
        raise PermissionDenied("请先登录", code="not_authenticated")
    # The applicant: the signed-in person, or the person a window clerk files for.
    candidate = actor.person_id if actor.kind == "person" else applicant_person_id
    conn = await session.connection()
    probe = (
        await conn.execute(
            _stmt(conn.dialect.name, "submit_probe"),
            {
                "implementation_id": implementation_id,
                "person_id": candidate,
                "account_id": actor.account_id,
                "key": key,
            },
        )
    ).one_or_none()
    existing_id = (
        probe[9]
        if probe is not None
        else (
            await session.execute(
                select(Case.id).where(
                    Case.submitted_by == actor.account_id, Case.idempotency_key == key
                )
            )
        ).scalar_one_or_none()
    )
    if existing_id is not None:
        existing = await session.get(Case, existing_id)
        assert existing is not None
        if existing.implementation_id != implementation_id:
            raise Conflict("该幂等键已用于另一项申请", code="idempotency_key_reused")
        return existing, False
    if channel not in lifecycle.CHANNELS:
        raise ValidationFailed("申报渠道无效", code="channel_invalid")
    if actor.kind == "person":
        if channel == "window":
            raise ValidationFailed("窗口渠道只能由窗口工作人员代为申报", code="channel_invalid")
        person_id = actor.person_id
    elif actor.kind == "staff" and "clerk" in actor.roles:
        if channel != "window" or applicant_person_id is None:
            raise ValidationFailed("窗口代办须选择窗口渠道并指明申请人", code="applicant_required")
        person_id = applicant_person_id
    else:
        raise PermissionDenied("只有申请人或窗口工作人员可以提交申请", code="submit_forbidden")
    person_name = (
        probe[8]
        if probe is not None and person_id
        else (
            (
                await session.execute(select(Person.name).where(Person.id == person_id))
            ).scalar_one_or_none()
            if person_id
            else None
        )
    )
    if person_name is None:
        raise NotFound("申请人不存在", code="person_not_found")
    if probe is None or probe.status != "published" or probe.published_version_id is None:
        raise NotFound("该事项未发布或已停用", code="implementation_not_found")
    _impl_id, _status, _pv, impl_region, department_id, impl_name, version_id, content_hash = probe[
        :8
    ]
    if actor.kind == "staff" and not scope.is_within(impl_region, actor.region_code):
        raise NotFound("该事项未发布或已停用", code="implementation_not_found")
    assert version_id is not None
    fields, version_form = await _version_doc(session, version_id, content_hash)
    applicant_name = person_name
    if enterprise_id is not None:
        ent = await session.get(Enterprise, enterprise_id)
        probe_actor = (
            actor
            if actor.kind == "person"
            else Actor(
                kind="person",
                account_id=None,
                display_name="",
                region_code="",
                via="system",
                person_id=person_id,
            )
        )
        if ent is None or not await can_act_for_enterprise(session, probe_actor, enterprise_id):
            raise PermissionDenied("您未获该企业授权办理此事项", code="enterprise_not_authorised")
        applicant_name = ent.name
    form = version_form or forms.default_form()
    clean, errors = forms.validate_submission(form, form_data or {})
    if errors:
        raise ValidationFailed("申请表填写有误，请修改后提交", code="form_invalid", details=errors)
    values = new_case_values(
        actor,
        await load_calendar(session),
        fields,
        clean,
        implementation_id=implementation_id,
        version_id=version_id,
        department_id=department_id,
        region_code=impl_region,
        item_name=impl_name,
        person_id=person_id,
        enterprise_id=enterprise_id,
        applicant_name=applicant_name,
        channel=channel,
        key=key,
    )
    case = await session.run_sync(_file, actor, values, materials or [], trail_data)
    if case is None:
        # a concurrent retry with the same key won the race: answer with its case
        again = (
            await session.execute(
                select(Case).where(
                    Case.submitted_by == actor.account_id, Case.idempotency_key == key
                )
            )
        ).scalar_one_or_none()
        if again is None:
            raise Conflict("提交冲突，请稍后重试", code="submit_conflict")
        return again, False
    return case, True


def new_case_values(
    actor: Actor,
    cal: Any,
    fields: dict[str, Any],
    clean: dict[str, Any],
    *,
    implementation_id: int,
    version_id: int,
    department_id: int | None,
    region_code: str,
    item_name: str,
    person_id: int | None,
    enterprise_id: int | None,
    applicant_name: str,
    channel: str,
    key: str,
) -> dict[str, Any]:
    """Every column of a new case but its id and number, as ``submit`` files it
    (also the hot route, ``cases.submit_hot``)."""
    at = now()
    limit = fields["promised_limit"]
    steps = review_steps(fields)
    return {
        "implementation_id": implementation_id,
        "implementation_version_id": version_id,
        "department_id": department_id,
        "region_code": region_code,
        "item_name": item_name,
        "applicant_person_id": person_id,
        "applicant_enterprise_id": enterprise_id,
        "applicant_name": applicant_name,
        "submitted_by": actor.account_id,
        "channel": channel,
        "idempotency_key": key,
        "state": "submitted",
        "step_index": 0,
        "current_step": "",
        "at_last_step": False,
        "steps": steps,
        "form_data": clean,
        "limit_value": int(limit["value"]),
        "limit_unit": limit["unit"],
        "extension_days": 0,
        "correction_round": 0,
        "submitted_at": at,
        "accept_due_at": due_at(
            at, ACCEPT_WINDOW_DAYS, "working_day", cal, tz=get_settings().timezone
        ),
        "accepted_at": None,
        "due_at": None,
        "step_started_at": None,
        "concluded_at": None,
        "delivered_at": None,
        "outcome": None,
        "outcome_reason": "",
        "delivery_method": None,
        "tracking_number": None,
        "alert": "",
        "created_at": at,
        "updated_at": at,
    }


def _file(
    s: Session,
    actor: Actor,
    values: dict[str, Any],
    materials: list[dict[str, Any]],
    trail_data: dict[str, Any] | None = None,
) -> Case | None:
    """The writes of a new case, in one greenlet: the case number (the day's
    counter of the region), the case (unless the submitter used the key
    meanwhile: then None), its materials, the trail row (with ``trail_data``),
    the applicant's inbox message (``_notify_stmt``), the events
    ``case.submit`` and ``case.notified`` and the audit entry — the rows
    ``_trail_sync`` and ``notify`` write for a transition. Written per
    database for speed (the hottest write, bench/run.py submit);
    tests/cases/test_lifecycle.py checks both against the same expectations."""
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        return _file_pg(s, conn, actor, values, materials, trail_data or {})
    return _file_sqlite(s, conn, actor, values, materials, trail_data or {})


def _persistent_case(s: Session, case_id: int, values: dict[str, Any]) -> Case:
    """The case as inserted, persistent in the session without a re-read: an
    instance filled the way the ORM fills one it loads (every column in its
    dict, no history), then attached under its identity — 9 µs against 65
    through the constructor's 36 instrumented assignments. Changes made to it
    later are tracked as on any loaded case."""
    case = Case.__mapper__.class_manager.new_instance()
    case.__dict__.update(values, id=case_id)
    make_transient_to_detached(case)
    s.add(case)
    return case


class _RawInsert:
    """An INSERT written out for a SQLite driver cursor, binding values with
    SQLAlchemy's own processors (stored exactly as through Core)."""

    def __init__(self, dialect: Any, table: Any, cols: list[str], tail: str = "") -> None:
        # names from the table metadata, values bound: nothing from a request is spliced in
        self.sql = f'INSERT INTO "{table.name}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))}){tail}'  # noqa: S608
        self.cols = cols
        self.procs = [driver_bind_processor(table.c[c].type, dialect) for c in cols]

    def params(self, row: dict[str, Any]) -> list[Any]:
        return [p(row[c]) if p else row[c] for c, p in zip(self.cols, self.procs, strict=True)]


_raw: dict[str, dict[str, Any]] = {}


def _sqlite_statements(dialect: Any) -> dict[str, Any]:
    got = _raw.get(dialect.name)
    if got is None:
        event_cols = ["name", "payload", "created_at", "region_code"]
        got = _raw[dialect.name] = {
            "counter": (
                "INSERT INTO case_counter (region6, day, lane, value) VALUES (?, ?, 0, 1) "
                "ON CONFLICT (region6, day, lane) DO UPDATE SET value = case_counter.value + 1 RETURNING value"
            ),
            "case": _RawInsert(
                dialect,
                _CASE,
                [c.name for c in _CASE.columns if c.name != "id"],
                " ON CONFLICT (submitted_by, idempotency_key) DO NOTHING RETURNING id",
            ),
            "material": _RawInsert(
                dialect,
                CaseMaterial.__table__,
                ["case_id", "name", "file_sha256", "replaced_by", "round", "uploaded_at"],
            ),
            "trail": _RawInsert(
                dialect,
                CaseTrail.__table__,
                ["case_id", *TRAIL_COLUMNS],
            ),
            # as _notify_stmt: every person account of the applicant, and the submitter's when a person's
            "notify": (
                "INSERT INTO notification (account_id, case_id, title, body, created_at) SELECT id, ?, ?, ?, ? FROM account "
                "WHERE kind = 'person' AND (id = ? OR person_id = ?) ORDER BY id"
            ),
            "notify_at": driver_bind_processor(Notification.__table__.c.created_at.type, dialect),
            "event": _RawInsert(dialect, OutboxEvent.__table__, event_cols, " RETURNING id"),
            "delivery": _RawInsert(
                dialect,
                OutboxDelivery.__table__,
                ["event_id", "handler", "status", "attempts", "available_at", "region_code"],
            ),
        }
    return got


def _file_sqlite(
    s: Session,
    conn: Any,
    actor: Actor,
    values: dict[str, Any],
    materials: list[dict[str, Any]],
    trail_data: dict[str, Any],
) -> Case | None:
    """``_file`` on SQLite: the same rows, written on the driver cursor of the
    session's connection (inside its transaction; the first write takes the
    database's write lock, as every write through the session does) — ~12 µs
    a statement instead of ~80 through SQLAlchemy's execution layer."""
    case_id = write_sqlite(
        conn.connection.dbapi_connection.cursor(),
        conn.dialect,
        actor,
        values,
        materials,
        trail_data,
    )
    return None if case_id is None else _persistent_case(s, case_id, values)


def write_sqlite(
    cur: Any,
    dialect: Any,
    actor: Actor,
    values: dict[str, Any],
    materials: list[dict[str, Any]],
    trail_data: dict[str, Any],
) -> int | None:
    """The rows of a new case on a SQLite cursor inside a write transaction
    (the session's, or the hot route's own: ``cases.submit_hot``): the number,
    the case (None when the submitter used the key meanwhile), its materials,
    the trail, the inbox, the two events and their deliveries, the audit
    entry. Sets ``values["number"]``; returns the case id."""
    raw = _sqlite_statements(dialect)
    at = values["submitted_at"]
    region6, day = values["region_code"][:6], local(at).strftime("%Y%m%d")
    value = cur.execute(raw["counter"], (region6, day)).fetchone()[0]
    values["number"] = number = case_number(region6, day, case_serial(value, 0, "sqlite"))
    row = cur.execute(raw["case"].sql, raw["case"].params(values)).fetchone()
    if row is None:
        return None
    case_id = row[0]
    now_ = now()
    if materials:
        ins = raw["material"]
        cur.executemany(
            ins.sql,
            [
                ins.params(
                    {
                        "case_id": case_id,
                        "name": m["name"],
                        "file_sha256": m.get("sha256"),
                        "replaced_by": m.get("replaced_by"),
                        "round": 0,
                        "uploaded_at": now_,
                    }
                )
                for m in materials
            ],
        )
    region, state = values["region_code"], values["state"]
    title, body = (
        fit_title(f"您的申请已提交：{values['item_name']}"),
        f"办件编号 {number}，请留意受理结果。",
    )
    ins = raw["trail"]
    cur.execute(
        ins.sql,
        ins.params(
            {
                "case_id": case_id,
                "action": "submit",
                "from_state": "",
                "to_state": state,
                "step_name": "",
                "actor_ref": actor.ref,
                "actor_name": actor.display_name,
                "comment": lifecycle.CHANNELS[values["channel"]],
                "data": trail_data,
                "at": now_,
                "region_code": region,
            }
        ),
    )
    cur.execute(
        raw["notify"],
        (
            case_id,
            title,
            body,
            raw["notify_at"](now_),
            values["submitted_by"],
            values["applicant_person_id"],
        ),
    )
    ins = raw["event"]
    events = []
    for name, payload in (
        ("case.submit", {"case_id": case_id, "number": number, "state": state}),
        ("case.notified", {"case_id": case_id, "title": title}),
    ):
        row = {"name": name, "payload": payload, "created_at": now_, "region_code": region}
        events.append((cur.execute(ins.sql, ins.params(row)).fetchone()[0], name))
    # as outbox.record_deliveries_sync: one row per subscribed handler, the column defaults written out
    ins = raw["delivery"]
    deliveries = [
        ins.params(
            {
                "event_id": event_id,
                "handler": reg.name,
                "status": "pending",
                "attempts": 0,
                "available_at": now_,
                "region_code": region,
            }
        )
        for event_id, name in events
        for reg in handlers_for(name)
    ]
    if deliveries:
        cur.executemany(ins.sql, deliveries)
    audit.record_sqlite_cursor(
        cur,
        dialect,
        actor=actor.ref,
        action="case.submit",
        target_type="case",
        target_id=case_id,
        region_code=region,
        details={"from": "", "to": state, "step": ""},
    )
    return case_id


def _file_pg(
    s: Session,
    conn: Any,
    actor: Actor,
    values: dict[str, Any],
    materials: list[dict[str, Any]],
    trail_data: dict[str, Any],
) -> Case | None:
    """``_file`` on PostgreSQL in two statements (see ``_pg_file_stmt``): the
    same rows as the statement-per-row path, but the hot rows (the day's
    counter of the region, the region's audit head) stay locked for two round
    trips instead of eight."""
    lane = next_lane()
    row = conn.execute(
        _stmt("postgresql", "pg_file"), pg_file_params(values, lane=lane)
    ).one_or_none()
    if row is None:
        return None
    case_id, number, seq, prev = row
    values["number"] = number
    case = _persistent_case(s, case_id, values)
    if materials:
        conn.execute(
            insert(CaseMaterial.__table__),
            [
                {
                    "case_id": case_id,
                    "name": m["name"],
                    "file_sha256": m.get("sha256"),
                    "replaced_by": m.get("replaced_by"),
                    "round": 0,
                }
                for m in materials
            ],
        )
    now_ = now()
    record = pg_record_params(actor, values, case_id, seq, prev, trail_data, now_, lane=lane)
    events = [tuple(r) for r in conn.execute(_stmt("postgresql", "pg_record"), record)]
    record_deliveries_sync(s, events, region_code=case.region_code, at=now_)
    return case


def pg_file_params(values: dict[str, Any], *, lane: int = 0) -> dict[str, Any]:
    """The parameters of ``_pg_file_stmt`` for a new case's ``values``, its
    number and audit entry from ``lane``."""
    region6, day = values["region_code"][:6], local(values["submitted_at"]).strftime("%Y%m%d")
    params = {f"b_{k}": v for k, v in values.items()}
    params.update(b_region6=region6, b_day=day, b_prefix=f"{region6}-{day}-", b_lane=lane)
    return params


def pg_submit_params(
    actor: Actor, values: dict[str, Any], now_: Any, *, lane: int
) -> dict[str, Any]:
    """The parameters of ``_pg_submit_stmt`` for a new case's ``values``, its
    number and audit entry from ``lane``: those
    of ``pg_file_params`` and ``pg_record_params``, with what depends on the
    case's id and number (the inbox body, the events' payloads, the audit
    entry's canonical bytes) cut where the statement splices them in."""
    import json

    region, ref, state = values["region_code"], actor.ref, values["state"]
    title = fit_title(f"您的申请已提交：{values['item_name']}")
    details = {"from": "", "to": state, "step": ""}
    params = pg_file_params(values, lane=lane)
    # cut at sentinels (json.dumps writes them "\u0000", "\u0001"), which come first: dicts keep their order
    e1_pre, rest = json.dumps({"case_id": "\0", "number": "\1", "state": state}).split(
        '"\\u0000"', 1
    )
    e1_mid, e1_post = rest.split('"\\u0001"', 1)
    e1_mid += '"'
    e1_post = '"' + e1_post
    e2_pre, e2_post = json.dumps({"case_id": "\0", "title": title}).split('"\\u0000"', 1)
    h_pre, h_mid, h_post = audit.entry_hash_parts(
        region_code=region,
        lane=lane,
        actor=ref,
        action="case.submit",
        target_type="case",
        at=now_,
        details=details,
    )
    params.update(
        t_action="submit",
        t_from_state="",
        t_to_state=state,
        t_step_name="",
        t_actor_ref=ref,
        t_actor_name=actor.display_name,
        t_comment=lifecycle.CHANNELS[values["channel"]],
        t_data={},
        t_at=now_,
        t_region_code=region,
        a_details=details,
        h_pre=h_pre,
        h_mid=h_mid,
        h_post=h_post,
        n_title=title,
        n_body_pre="办件编号 ",
        n_body_post="，请留意受理结果。",
        e1_pre=e1_pre,
        e1_mid=e1_mid,
        e1_post=e1_post,
        e2_pre=e2_pre,
        e2_post=e2_post,
    )
    return params


def pg_record_params(
    actor: Actor,
    values: dict[str, Any],
    case_id: int,
    seq: int,
    prev: str,
    trail_data: dict[str, Any],
    now_: Any,
    *,
    lane: int = 0,
) -> dict[str, Any]:
    """The parameters of ``_pg_record_stmt`` once the case is filed (its id,
    ``values["number"]``) and the audit head of the region's ``lane`` claimed
    (seq, previous hash)."""
    region, ref, number, state = values["region_code"], actor.ref, values["number"], values["state"]
    title, body = (
        fit_title(f"您的申请已提交：{values['item_name']}"),
        f"办件编号 {number}，请留意受理结果。",
    )
    details = {"from": "", "to": state, "step": ""}
    entry = {
        "region_code": region,
        "lane": lane,
        "seq": seq,
        "prev_hash": prev,
        "actor": ref,
        "action": "case.submit",
        "target_type": "case",
        "target_id": str(case_id),
        "at": now_,
        "details": details,
    }
    entry["hash"] = audit.entry_hash(**entry)
    record = {f"a_{k}": v for k, v in entry.items()}
    record.update(
        {
            "t_case_id": case_id,
            "t_action": "submit",
            "t_from_state": "",
            "t_to_state": state,
            "t_step_name": "",
            "t_actor_ref": ref,
            "t_actor_name": actor.display_name,
            "t_comment": lifecycle.CHANNELS[values["channel"]],
            "t_data": trail_data,
            "t_at": now_,
            "t_region_code": region,
            "b_case_id": case_id,
            "b_title": title,
            "b_body": body,
            "b_at": now_,
            "b_submitted_by": values["submitted_by"],
            "b_person_id": values["applicant_person_id"],
            "e1_name": "case.submit",
            "e1_payload": {"case_id": case_id, "number": number, "state": state},
            "e2_name": "case.notified",
            "e2_payload": {"case_id": case_id, "title": title},
        }
    )
    for i in (1, 2):
        record[f"e{i}_created_at"], record[f"e{i}_region_code"] = now_, region
    return record


# --- transitions -----------------------------------------------------------------------


def _set_step(case: Case, index: int) -> None:
    case.step_index = index
    case.current_step = case.steps[index]["name"] if index < len(case.steps) else ""
    case.at_last_step = index >= len(case.steps) - 1


def _current_step(case: Case) -> dict[str, Any] | None:
    return (
        case.steps[case.step_index]
        if case.state in ("reviewing", "suspended") and case.step_index < len(case.steps)
        else None
    )


def actions_for(
    case: Case, actor: Actor, *, hide_futile: bool = True
) -> list[lifecycle.Transition]:
    """What ``actor`` may do to ``case`` now. ``hide_futile``: leave out what is
    certain to be refused (a return from the first step, an extension past the
    legal maximum); ``transition`` asks without it, so that such a request is
    answered with the rule's own message rather than "not allowed"."""
    applicant = applicant_sees(actor, case) and actor.kind == "person"
    if not applicant and not staff_sees(actor, case):
        return []
    return lifecycle.allowed_actions(
        case.state,
        step=_current_step(case),
        is_last_step=case.step_index >= len(case.steps) - 1,
        roles=actor.roles,
        applicant=applicant,
        is_first_step=hide_futile and case.step_index == 0,
        can_extend=not hide_futile or case.extension_days < MAX_EXTENSION_DAYS,
    )


async def _pauses(session: AsyncSession, case_id: int) -> list[Pause]:
    rows = (
        await session.execute(
            select(CasePause).where(CasePause.case_id == case_id).order_by(CasePause.id)
        )
    ).scalars()
    return [Pause(r.started_at, r.ended_at) for r in rows]


async def _recompute_due(session: AsyncSession, case: Case) -> None:
    if case.accepted_at is None:
        return
    cal = await load_calendar(session)
    case.due_at = due_at(
        case.accepted_at,
        case.limit_value,
        case.limit_unit,
        cal,
        pauses=await _pauses(session, case.id),
        extension=case.extension_days,
        tz=get_settings().timezone,
    )


def _reason(data: dict[str, Any], *, min_len: int = 2) -> str:
    reason = str(data.get("reason") or "").strip()
    if len(reason) < min_len:
        raise ValidationFailed(
            "请填写理由",
            code="reason_required",
            details=[{"field": "reason", "message": "请填写理由"}],
        )
    return reason


async def decide_instantly(session: AsyncSession, case_id: int, *, rule: str) -> Case:
    """秒批 (无人干预自动审批): a case that a configured rule approves without
    a person — accepted, every review step passed, granted and delivered
    electronically, each through ``transition`` like any other, by the
    system acting in the case's own department with the roles its steps
    name. The trail and the audit log show 系统秒批 and the rule. The
    decision's event issues the licence as for any approval."""
    found = await session.get(Case, case_id)
    if found is None:
        raise NotFound("办件不存在", code="case_not_found")
    roles = {"clerk", "approver"} | {str(st.get("role") or "approver") for st in found.steps or []}
    auto = Actor(
        kind="staff", account_id=None, display_name="系统秒批", region_code=found.region_code,
        via="system", department_id=found.department_id, roles=frozenset(roles),
    )  # fmt: skip
    note = {"comment": f"秒批：{rule}"}
    case = await transition(session, auto, case_id, "accept", note)
    while not case.at_last_step:
        case = await transition(session, auto, case_id, "pass_step", note)
    case = await transition(
        session, auto, case_id, "decide",
        {"outcome": "grant", "reason": f"符合秒批规则（{rule}），系统自动准予。"},
    )  # fmt: skip
    return await transition(session, auto, case_id, "deliver", {"method": "electronic"})


async def transition(
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    action: str,
    data: dict[str, Any] | None = None,
) -> Case:
    data = data or {}
    t = lifecycle.TRANSITIONS.get(action)
    if t is None:
        raise ValidationFailed("未知的办理操作", code="unknown_action")
    case = await get_case(session, actor, case_id, lock=True)
    if case.state not in t.sources:
        raise Conflict(
            f"办件当前状态为「{lifecycle.STATES[case.state]}」，不能执行「{t.label}」",
            code="invalid_state",
            details={"state": case.state, "action": action},
        )
    if t not in actions_for(case, actor, hide_futile=False):
        raise PermissionDenied(f"您不能对该办件执行「{t.label}」", code="action_forbidden")
    from_state, at = case.state, now()
    step = _current_step(case)
    step_name = step["name"] if step else ""
    comment = str(data.get("comment") or "")[:2000]
    extra: dict[str, Any] = {}
    title = f"您的办件{t.label}：{case.item_name}"

    if action == "accept":
        case.state, case.accepted_at, case.step_started_at = "reviewing", at, at
        _set_step(case, 0)
        await _recompute_due(session, case)
        title = f"您的申请已受理：{case.item_name}"
    elif action == "reject":
        reason = _reason(data)
        case.state, case.outcome, case.concluded_at = "rejected", "6", at
        case.outcome_reason = f"{reason}\n{lifecycle.RIGHTS_NOTICE}"
        comment = reason
        title = f"您的申请不予受理：{case.item_name}"
    elif action == "request_correction":
        extra = await _correction(session, actor, case, data)
        case.state = "correction"
        title = f"请补齐补正材料：{case.item_name}"
    elif action == "resubmit":
        await _resubmit(session, case, data)
        case.state = "submitted"
    elif action == "pass_step":
        _set_step(case, case.step_index + 1)
        case.step_started_at = at
        extra = {"next_step": case.steps[case.step_index]["name"]}
    elif action == "return_step":
        comment = _reason(data)
        if case.step_index == 0:
            raise Conflict("已是第一个环节，不能再退回", code="first_step")
        _set_step(case, case.step_index - 1)
        case.step_started_at = at
    elif action == "decide":
        outcome = data.get("outcome")
        if outcome not in ("grant", "deny"):
            raise ValidationFailed("请选择决定结果：准予或不予", code="outcome_required")
        reason = str(data.get("reason") or "").strip()
        if outcome == "deny":
            reason = _reason(data)
            case.outcome_reason = f"{reason}\n{lifecycle.RIGHTS_NOTICE}"
        else:
            case.outcome_reason = reason or "符合法定条件、标准，准予许可。"
        case.outcome = "0" if outcome == "grant" else "1"
        case.state, case.concluded_at = "concluded", at
        comment = case.outcome_reason
        extra = {"outcome": lifecycle.OUTCOMES[case.outcome]}
        title = f"您的办件已办结（{lifecycle.OUTCOMES[case.outcome]}）：{case.item_name}"
    elif action == "suspend":
        kind = data.get("kind")
        if kind not in lifecycle.SPECIAL_PROCEDURES:
            raise ValidationFailed("请选择特别程序种类", code="procedure_required")
        reason = _reason(data)
        session.add(CasePause(case_id=case.id, kind=kind, reason=reason, started_at=at))
        case.state, case.due_at = "suspended", None
        comment, extra = reason, {"kind": lifecycle.SPECIAL_PROCEDURES[kind]}
        title = f"您的办件进入{lifecycle.SPECIAL_PROCEDURES[kind]}程序，期间不计入办理时限：{case.item_name}"
    elif action == "resume":
        pause = (
            await session.execute(
                select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None))
            )
        ).scalar_one()
        pause.ended_at, pause.result = at, str(data.get("result") or "")[:2000]
        await session.flush()
        case.state = "reviewing"
        await _recompute_due(session, case)
    elif action == "extend":
        reason = _reason(data)
        try:
            days = int(data.get("days", 0))
        except (TypeError, ValueError):
            days = 0
        if days < 1 or case.extension_days + days > MAX_EXTENSION_DAYS:
            raise ValidationFailed(
                f"延长期限应为 1 至 {MAX_EXTENSION_DAYS - case.extension_days} 个工作日（法定最多延长 {MAX_EXTENSION_DAYS} 日）",
                code="extension_invalid",
            )
        case.extension_days += days
        await _recompute_due(session, case)
        comment, extra = reason, {"days": days}
        title = f"您的办件经批准延长 {days} 个工作日：{case.item_name}"
    elif action == "deliver":
        method = data.get("method")
        if method not in lifecycle.DELIVERY_METHODS:
            raise ValidationFailed("请选择送达方式", code="delivery_method_required")
        if method == "post":
            tracking = str(data.get("tracking_number") or "").strip()
            if not 6 <= len(tracking) <= 40:
                raise ValidationFailed("邮寄送达须填写快递单号", code="tracking_required")
            case.tracking_number = tracking
        case.delivery_method, case.state, case.delivered_at = method, "delivered", at
        extra = {"method": lifecycle.DELIVERY_METHODS[method]}
        title = f"您的办件结果已{lifecycle.DELIVERY_METHODS[method]}：{case.item_name}"
    elif action == "withdraw":
        comment = _reason(data)
        await _end_open_pause(session, case, at)
        case.state, case.outcome, case.concluded_at = "withdrawn", "5", at
    elif action == "void":
        comment = _reason(data)
        await _end_open_pause(session, case, at)
        case.state, case.outcome, case.concluded_at = "voided", "2", at
    case.updated_at = at
    if case.state not in lifecycle.OPEN_STATES:
        case.alert = ""
    title = fit_title(title)
    await _trail(
        session,
        case,
        actor,
        action,
        from_state,
        step=step_name,
        comment=comment,
        data=extra,
        title=title,
        body=comment,
    )
    return case


async def _end_open_pause(session: AsyncSession, case: Case, at: dt.datetime) -> None:
    await session.execute(
        update(CasePause)
        .where(CasePause.case_id == case.id, CasePause.ended_at.is_(None))
        .values(ended_at=at)
    )


async def _correction(
    session: AsyncSession, actor: Actor, case: Case, data: dict[str, Any]
) -> dict[str, Any]:
    """一次性告知: every item at once; a later notice raising new items needs a supervisor."""
    raw = data.get("items")
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed(
            "一次性告知须列明全部需补齐补正的材料或内容", code="correction_items_required"
        )
    items = []
    for i, it in enumerate(raw):
        if (
            not isinstance(it, dict)
            or it.get("kind") not in ("material", "field")
            or not str(it.get("name") or "").strip()
            or not str(it.get("reason") or "").strip()
        ):
            raise ValidationFailed(
                f"第 {i + 1} 项告知内容不完整：须写明类别、名称和原因",
                code="correction_item_invalid",
            )
        items.append(
            {
                "kind": it["kind"],
                "name": str(it["name"]).strip(),
                "reason": str(it["reason"]).strip(),
            }
        )
    previous = (
        (
            await session.execute(
                select(CorrectionNotice)
                .where(CorrectionNotice.case_id == case.id)
                .order_by(CorrectionNotice.round)
            )
        )
        .scalars()
        .all()
    )
    raised = {it["name"] for n in previous for it in n.items}
    new_items = [it["name"] for it in items if previous and it["name"] not in raised]
    approved_by = None
    if new_items:
        approver_id = data.get("approved_by")
        sup = await session.get(Account, approver_id) if isinstance(approver_id, int) else None
        from tongban.identity.models import AccountRole

        roles = (
            set(
                (
                    await session.execute(
                        select(AccountRole.role).where(AccountRole.account_id == sup.id)
                    )
                ).scalars()
            )
            if sup
            else set()
        )
        if (
            sup is None
            or "supervisor" not in roles
            or not scope.is_within(case.region_code, sup.region_code)
        ):
            raise Conflict(
                "再次告知中包含首次告知未提出的内容（"
                + "、".join(new_items)
                + "），须经电子监察人员批准",
                code="second_notice_needs_approval",
                details={"new_items": new_items},
            )
        approved_by = sup.id
    case.correction_round += 1
    session.add(
        CorrectionNotice(
            case_id=case.id,
            round=case.correction_round,
            items=items,
            new_items=new_items,
            flagged=bool(new_items),
            approved_by=approved_by,
            issued_by=actor.account_id,
        )
    )
    return {"round": case.correction_round, "items": items, "flagged": bool(new_items)}


async def _resubmit(session: AsyncSession, case: Case, data: dict[str, Any]) -> None:
    version = await session.get(ImplementationVersion, case.implementation_version_id)
    assert version is not None
    if "form_data" in data:
        clean, errors = forms.validate_submission(
            version.form or forms.default_form(), data["form_data"] or {}
        )
        if errors:
            raise ValidationFailed(
                "申请表填写有误，请修改后提交", code="form_invalid", details=errors
            )
        case.form_data = clean
    for m in data.get("materials") or []:
        session.add(
            CaseMaterial(
                case_id=case.id,
                name=m["name"],
                file_sha256=m.get("sha256"),
                replaced_by=m.get("replaced_by"),
                round=case.correction_round,
            )
        )
    notice = (
        await session.execute(
            select(CorrectionNotice).where(
                CorrectionNotice.case_id == case.id, CorrectionNotice.round == case.correction_round
            )
        )
    ).scalar_one_or_none()
    if notice is not None:
        notice.answered_at = now()
