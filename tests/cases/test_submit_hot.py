"""``POST /api/v1/cases`` on the hot route (``cases.submit_hot``) answers as
the FastAPI route (``cases.api.submit``) does: the same JSON for a new case,
the same bytes for every refusal, the same idempotency, and the same rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import bindparam, func, select, text
from starlette.testclient import TestClient

from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item
from tongban.cases import service, submit_hot
from tongban.cases.models import Case, CaseTrail, Notification
from tongban.core import audit
from tongban.core.audit import AuditEntry
from tongban.core.outbox import OutboxDelivery, OutboxEvent
from tongban.identity import service as identity
from tongban.identity.models import ApiClient
from tongban.web import deps

CASES = "/api/v1/cases"


@pytest.fixture
async def world(session) -> dict[str, Any]:
    s = session
    a = await admin(s)
    item = await published_item(s, a, name="公共场所卫生许可", service_objects=["1"])
    impl = await published_impl(s, a, item)
    from tongban.regions.models import Department

    dept = await s.get(Department, impl.department_id)
    person, _ = await builders.citizen(s, username="applicant1")
    other, _ = await builders.citizen(s, username="applicant2")
    await builders.staff(s, roles=["clerk"], dept=dept, username="clerk1")
    await builders.staff(s, roles=["approver"], dept=dept, username="approver1")
    far = await builders.department(s, region=builders.SHIZHONG)
    await builders.staff(
        s, roles=["clerk"], dept=far, region=builders.SHIZHONG, username="clerk_far"
    )
    ent = await builders.enterprise(s, rep=other)
    client_row = ApiClient(name="济南市业务系统", region_code=builders.JINAN)
    s.add(client_row)
    await s.flush()
    token = await identity.create_api_token(s, client=client_row, scopes=["persons:read"])
    await s.commit()
    return {"impl": impl.id, "person": person, "other": other, "enterprise": ent.id, "token": token}


def _form(p: Any) -> dict[str, Any]:
    return {"applicant_name": p.name, "applicant_id_number": p.id_number, "phone": "13800138000"}


def _post(client: TestClient, token: str | None, body: Any, key: str | None, **headers: str):
    h = {**headers}
    if token:
        h["cookie"] = f"{deps.SESSION_COOKIE}={token}"
    if key is not None:
        h["idempotency-key"] = key
    if isinstance(body, bytes):
        return client.post(CASES, content=body, headers={"content-type": "application/json", **h})
    return client.post(CASES, json=body, headers=h)


_VARYING = ("id", "number", "submitted_at", "accept_due_at")


def _same_but_identity(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert set(a) == set(b)
    assert {k: v for k, v in a.items() if k not in _VARYING} == {
        k: v for k, v in b.items() if k not in _VARYING
    }
    for k in ("submitted_at", "accept_due_at"):
        assert (
            dt.datetime.fromisoformat(a[k]).tzinfo is not None
            and dt.datetime.fromisoformat(b[k]).tzinfo is not None
        )


async def _rows(session, case_id: int) -> dict[str, Any]:
    """Everything a submission wrote for one case, ids and times left out."""
    c = (
        await session.execute(
            select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
        )
    ).scalar_one()
    case = {
        k: v
        for k, v in c.__dict__.items()
        if not k.startswith("_")
        and k
        not in (
            "id",
            "number",
            "idempotency_key",
            "submitted_at",
            "accept_due_at",
            "created_at",
            "updated_at",
        )
    }
    trail = [
        (
            t.action,
            t.from_state,
            t.to_state,
            t.step_name,
            t.actor_ref,
            t.actor_name,
            t.comment,
            t.data,
            t.region_code,
        )
        for t in (
            await session.execute(select(CaseTrail).where(CaseTrail.case_id == case_id))
        ).scalars()
    ]
    inbox = [
        (n.account_id, n.title, n.body.replace(c.number, "N"))
        for n in (
            await session.execute(
                select(Notification)
                .where(Notification.case_id == case_id)
                .order_by(Notification.id)
            )
        ).scalars()
    ]
    events = []
    for e in (await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars():
        if e.payload.get("case_id") == case_id:
            handlers = (
                await session.execute(
                    select(
                        OutboxDelivery.handler,
                        OutboxDelivery.status,
                        OutboxDelivery.attempts,
                        OutboxDelivery.region_code,
                        OutboxDelivery.available_at == e.created_at,
                    )
                    .where(OutboxDelivery.event_id == e.id)
                    .order_by(OutboxDelivery.id)
                )
            ).all()
            payload = {
                k: ("ID" if k == "case_id" else "N" if k == "number" else v)
                for k, v in e.payload.items()
            }
            events.append((e.name, payload, e.region_code, [tuple(h) for h in handlers]))
    entries = [
        (a.action, a.actor, a.target_type, a.region_code, a.details)
        for a in (
            await session.execute(
                select(AuditEntry).where(
                    AuditEntry.target_type == "case", AuditEntry.target_id == str(case_id)
                )
            )
        ).scalars()
    ]
    return {"case": case, "trail": trail, "inbox": inbox, "events": events, "audit": entries}


async def test_a_new_case_as_the_fastapi_route(
    world, client, general, session, monkeypatch
) -> None:
    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}

    async def not_here(request: Any) -> None:
        raise AssertionError("the plain submission takes the driver path")

    monkeypatch.setattr(submit_hot, "general", not_here)
    hot = _post(client, token, body, "hot-00000001")
    monkeypatch.undo()
    ref = _post(general, token, body, "ref-00000001")
    assert hot.status_code == ref.status_code == 201, (hot.text, ref.text)
    assert hot.headers["content-type"] == ref.headers["content-type"] == "application/json"
    a, b = hot.json(), ref.json()
    _same_but_identity(a, b)
    # two numbers of the region's day (on PostgreSQL from two of its lanes: service.case_serial)
    assert a["number"] != b["number"] and a["number"][:-6] == b["number"][:-6]
    hot_rows, ref_rows = await _rows(session, a["id"]), await _rows(session, b["id"])
    assert hot_rows == ref_rows
    assert hot_rows["events"] and hot_rows["trail"] and hot_rows["inbox"] and hot_rows["audit"]
    stored = (
        await session.execute(
            select(Case.number, Case.idempotency_key, Case.form_data).where(Case.id == a["id"])
        )
    ).one()
    assert tuple(stored) == (a["number"], "hot-00000001", _form(world["person"]))
    report = await audit.verify(session)
    assert report.ok, report.problems


# Every datetime column a submission writes at the time of submission: (table,
# column, the condition on the case id)
_DATETIMES = (
    ("case", "submitted_at", "id = :k"),
    ("case", "created_at", "id = :k"),
    ("case", "updated_at", "id = :k"),
    ("case_trail", "at", "case_id = :k"),
    ("notification", "created_at", "case_id = :k"),
    ("audit_entry", "at", "target_type = 'case' AND target_id = :k"),
)


async def test_datetimes_stored_as_sqlalchemy_binds_them(world, client, general, session) -> None:
    """The rows written on the driver cursor hold the very values SQLAlchemy
    binds — on SQLite the same text, microseconds written when they are 0
    (a time on the whole second was stored without them: a range bound at
    that second as SQLAlchemy writes it missed the row)."""
    from tongban.core.clock import freeze
    from tongban.core.db import UTCDateTime

    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    at = dt.datetime(2026, 3, 10, 2, 0, 0, tzinfo=dt.UTC)  # on the second
    with freeze(at):
        ids = [
            _post(c, token, body, f"whole-second-{n}").json()["id"]
            for n, c in enumerate((client, general))
        ]
    expected = (
        await session.execute(text("SELECT :v").bindparams(bindparam("v", at, type_=UTCDateTime())))
    ).scalar_one()
    sqlite = session.bind.dialect.name == "sqlite"
    assert expected == ("2026-03-10 02:00:00.000000" if sqlite else at)
    for case_id in ids:
        for table, column, where in _DATETIMES:
            stored = (
                (
                    await session.execute(
                        text(f'SELECT {column} FROM "{table}" WHERE {where}'),  # noqa: S608 - constants
                        {"k": str(case_id) if table == "audit_entry" else case_id},
                    )
                )
                .scalars()
                .all()
            )
            assert stored and set(stored) == {expected}, (table, column, stored)
        due = (
            await session.execute(
                text('SELECT accept_due_at FROM "case" WHERE id = :k'), {"k": case_id}
            )
        ).scalar_one()
        assert not sqlite or len(due) == len(expected), due


async def test_sqlite_writes_go_through_one_connection(
    world, client, general, app, session, monkeypatch
) -> None:
    """On SQLite the driver path writes every submission on one connection of
    the engine held for it (its page cache stays warm between submissions),
    also after another connection wrote (the general path), and gives it back
    when the engine is disposed."""
    if session.bind.dialect.name != "sqlite":
        pytest.skip("PostgreSQL: one statement in autocommit on the request's connection")
    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    seen = []
    real = submit_hot.write_transaction

    def spy(dbapi_connection: Any) -> Any:
        seen.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(submit_hot, "write_transaction", spy)
    numbers = [_post(client, token, body, f"one-conn-{n:04d}").json()["number"] for n in range(3)]
    numbers.append(_post(general, token, body, "one-conn-general").json()["number"])
    numbers.append(_post(client, token, body, "one-conn-0009").json()["number"])
    assert len(seen) == 4 and len({id(c) for c in seen}) == 1, seen
    assert [int(n[-6:]) for n in numbers] == list(range(1, 6))
    engine = app.state.engine.sync_engine
    fairy, _loop = submit_hot._writers[engine]
    assert fairy.dbapi_connection is seen[0]
    report = await audit.verify(session)
    assert report.ok, report.problems
    submitted = await session.execute(
        select(AuditEntry.target_id).where(AuditEntry.action == "case.submit")
    )
    assert len(submitted.all()) == 5
    client.__exit__(None, None, None)  # the app's shutdown: the engine disposed
    assert engine not in submit_hot._writers and fairy.dbapi_connection is None


async def test_idempotent_retry(world, client, general) -> None:
    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    first = _post(client, token, body, "same-00000001")
    again = _post(client, token, body, "same-00000001")
    ref = _post(general, token, body, "same-00000001")
    assert first.status_code == 201 and again.status_code == ref.status_code == 200
    assert first.json() == again.json() == ref.json()
    other = _post(
        client, token, {**body, "implementation_id": world["impl"] + 999}, "same-00000001"
    )
    assert (
        other.content
        == _post(
            general, token, {**body, "implementation_id": world["impl"] + 999}, "same-00000001"
        ).content
    )


@pytest.mark.parametrize(
    "case",
    [
        "no_key",
        "short_key",
        "bad_json",
        "empty",
        "extra_field",
        "wrong_type",
        "form_invalid",
        "unknown_field",
        "no_impl",
        "window_channel",
        "bad_channel",
        "enterprise_not_mine",
        "replaced_by",
    ],
)
async def test_refusals_are_the_same_bytes(world, client, general, case: str) -> None:
    token = builders.session_token(client, "applicant1")
    good = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    body: Any = good
    key: str | None = f"refuse-{case}"[:40]
    if case == "no_key":
        key = None
    elif case == "short_key":
        key = "short"
    elif case == "bad_json":
        body = b'{"implementation_id": '
    elif case == "empty":
        body = b""
    elif case == "extra_field":
        body = {**good, "surprise": 1}
    elif case == "wrong_type":
        body = {**good, "implementation_id": "one"}
    elif case == "form_invalid":
        body = {**good, "form_data": {"applicant_name": world["person"].name}}
    elif case == "unknown_field":
        body = {**good, "form_data": {**good["form_data"], "nope": "x"}}
    elif case == "no_impl":
        body = {**good, "implementation_id": 987654}
    elif case == "window_channel":
        body = {**good, "channel": "window"}
    elif case == "bad_channel":
        body = {**good, "channel": "fax"}
    elif case == "enterprise_not_mine":
        body = {**good, "enterprise_id": world["enterprise"]}
    elif case == "replaced_by":
        body = {**good, "materials": [{"name": "申请书", "replaced_by": "licence:1"}]}
    hot, ref = _post(client, token, body, key), _post(general, token, body, key)
    assert hot.status_code == ref.status_code and hot.status_code >= 400, (hot.text, ref.text)
    assert hot.content == ref.content


@pytest.mark.parametrize("who", [None, "unknown", "approver1", "clerk_far", "clerk1"])
async def test_unauthenticated_staff_and_out_of_scope(
    world, client, general, who: str | None
) -> None:
    token = (
        None
        if who is None
        else "x" * 43
        if who == "unknown"
        else builders.session_token(client, who)
    )
    body = {
        "implementation_id": world["impl"],
        "form_data": _form(world["person"]),
        "channel": "window",
        "applicant_person_id": world["person"].id,
    }
    hot, ref = (
        _post(client, token, body, f"staff-{who}-0001"),
        _post(general, token, body, f"staff-{who}-0002"),
    )
    assert hot.status_code == ref.status_code, (hot.text, ref.text)
    if who == "clerk1":  # window intake in scope: a new case each
        assert hot.status_code == 201
        _same_but_identity(hot.json(), ref.json())
    else:
        assert hot.status_code in (401, 403, 404, 422) and hot.content == ref.content


async def test_csrf_and_bearer_tokens(world, client, general) -> None:
    token = builders.session_token(client, "applicant1")
    body = b'{"implementation_id": 1}'
    for headers in (
        {"content-type": "text/plain"},
        {"content-type": "text/plain", "x-csrf-token": "wrong"},
    ):
        h = {
            **headers,
            "cookie": f"{deps.SESSION_COOKIE}={token}",
            "idempotency-key": "csrf-00000001",
        }
        hot, ref = (
            client.post(CASES, content=body, headers=h),
            general.post(CASES, content=body, headers=h),
        )
        assert hot.status_code == ref.status_code == 403 and hot.content == ref.content
    good = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    for bearer in (world["token"], "nope"):
        h = {"authorization": f"Bearer {bearer}"}
        hot = client.post(CASES, json=good, headers={**h, "idempotency-key": "bearer-0000001"})
        ref = general.post(CASES, json=good, headers={**h, "idempotency-key": "bearer-0000002"})
        assert hot.status_code == ref.status_code and hot.content == ref.content


def _spy_pg(monkeypatch) -> list[str]:
    """The PostgreSQL statements the driver path asks for, in order."""
    names: list[str] = []
    real = submit_hot._pg

    def spy(dialect: Any, name: str) -> Any:
        names.append(name)
        return real(dialect, name)

    monkeypatch.setattr(submit_hot, "_pg", spy)
    return names


async def test_postgresql_one_statement_writes_what_the_transaction_writes(
    world, client, general, session, monkeypatch, database_kind
) -> None:
    """PostgreSQL: once the chain of the region's lane has a head, the driver
    path files a case in one statement (``service._pg_submit_stmt``, the audit
    hash computed by the database) — the same rows, the same JSON text, a
    chain that verifies."""
    if database_kind != "postgresql":
        pytest.skip("PostgreSQL's one-statement submission")
    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    names = _spy_pg(monkeypatch)
    for i in range(audit.SUBMIT_LANES):  # the lanes' heads may not exist yet
        first = _post(client, token, body, f"one-1000000{i}")
        assert first.status_code == 201, first.text
    names.clear()
    hot = _post(client, token, body, "one-00000002")
    assert hot.status_code == 201, hot.text
    assert names == ["pg_submit"]  # no transaction after it
    ref = _post(general, token, body, "one-00000003")
    assert ref.status_code == 201, ref.text
    _same_but_identity(hot.json(), ref.json())
    a, b = hot.json(), ref.json()
    assert await _rows(session, a["id"]) == await _rows(session, b["id"])

    async def payloads(case: dict[str, Any]) -> list[str]:
        # the stored JSON text (PostgreSQL's json type keeps it as written)
        rows = await session.execute(
            text(
                "SELECT payload::text FROM outbox_event "
                "WHERE (payload->>'case_id')::bigint = :id ORDER BY id"
            ),
            {"id": case["id"]},
        )
        return [
            r[0].replace(case["number"], "N").replace(f'"case_id": {case["id"]},', "ID,")
            for r in rows
        ]

    assert await payloads(a) == await payloads(b) and len(await payloads(a)) == 2
    inbox = (
        (await session.execute(select(Notification.body).where(Notification.case_id == a["id"])))
        .scalars()
        .all()
    )
    assert inbox and all(a["number"] in body for body in inbox)
    entry = (
        await session.execute(select(AuditEntry).where(AuditEntry.target_id == str(a["id"])))
    ).scalar_one()
    assert entry.hash == audit.entry_hash(
        region_code=entry.region_code,
        lane=entry.lane,
        seq=entry.seq,
        prev_hash=entry.prev_hash,
        actor=entry.actor,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        at=entry.at,
        details=entry.details,
    )
    report = await audit.verify(session)
    assert report.ok, report.problems


async def test_postgresql_one_statement_writes_nothing_when_it_does_not_apply(
    world, client, session, monkeypatch, database_kind
) -> None:
    """A region without a chain head yet, or handlers subscribed to the events:
    the two statements in a transaction (the head created, the deliveries
    written); the one statement, when it fails, leaves no row behind."""
    if database_kind != "postgresql":
        pytest.skip("PostgreSQL's one-statement submission")
    from tongban.core import outbox

    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    assert _post(client, token, body, "gen-00000001").status_code == 201
    region = (
        await session.execute(
            select(Case.region_code).where(Case.idempotency_key == "gen-00000001")
        )
    ).scalar_one()
    counts = text(
        'SELECT (SELECT count(*) FROM "case"), (SELECT count(*) FROM case_trail), '
        "(SELECT count(*) FROM notification), (SELECT count(*) FROM outbox_event), "
        "(SELECT count(*) FROM audit_entry), (SELECT sum(value) FROM case_counter)"
    )
    # a new chain: no head row (as before a region's first entry) — the
    # statement fails on the entry's NULL seq, the transaction creates the head
    await session.execute(text("TRUNCATE audit_entry"))  # append-only: no row trigger on TRUNCATE
    await session.execute(text("DELETE FROM audit_chain_head"))
    await session.commit()
    before = tuple((await session.execute(counts)).one())
    names = _spy_pg(monkeypatch)
    new_chain = _post(client, token, body, "gen-00000002")
    assert new_chain.status_code == 201, new_chain.text
    assert names == ["pg_submit", "pg_file", "pg_record", "delivery"]
    after = tuple((await session.execute(counts)).one())
    assert after[:5] == (before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 2, 1)
    assert after[5] == before[5] + 1  # no number lost to the failed statement
    seq = (
        await session.execute(
            select(audit.AuditChainHead.seq).where(audit.AuditChainHead.region_code == region)
        )
    ).scalar_one()
    assert seq == 1
    # handlers subscribed to case.submit: their deliveries, in the transaction
    names.clear()
    monkeypatch.setitem(
        outbox._handlers,
        "case.submit",
        [*outbox._handlers.get("case.submit", []), outbox._Registration("tests.spy", None)],
    )
    sub = _post(client, token, body, "gen-00000003")
    assert sub.status_code == 201, sub.text
    assert names == ["pg_file", "pg_record", "delivery"]
    handlers = (
        (
            await session.execute(
                select(OutboxDelivery.handler)
                .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
                .where(OutboxEvent.name == "case.submit")
            )
        )
        .scalars()
        .all()
    )
    assert "tests.spy" in handlers


async def test_concurrent_submissions_keep_numbers_and_chain(
    world, client, session, monkeypatch, database_kind
) -> None:
    """Submissions of one region at once: every one filed, the numbers without
    repeats (nor gaps: the lanes are taken in turn), the region's audit chains
    whole (on PostgreSQL each in one statement, the counter and head of its
    lane locked inside it, the lanes all used)."""
    from concurrent.futures import ThreadPoolExecutor

    token = builders.session_token(client, "applicant1")
    body = {"implementation_id": world["impl"], "form_data": _form(world["person"])}
    for i in range(audit.SUBMIT_LANES):  # the heads exist
        assert _post(client, token, body, f"par-1000000{i}").status_code == 201
    names = _spy_pg(monkeypatch)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _post(client, token, body, f"par-{i:08d}"), range(1, 25)))
    assert [r.status_code for r in answers] == [201] * 24, [r.text for r in answers][:3]
    numbers = sorted(int(r.json()["number"][-6:]) for r in answers)
    assert numbers == list(range(numbers[0], numbers[0] + 24))
    if database_kind == "postgresql":
        assert names == ["pg_submit"] * 24
    lanes = (
        await session.execute(
            select(AuditEntry.lane, func.count())
            .where(AuditEntry.action == "case.submit")
            .group_by(AuditEntry.lane)
        )
    ).all()
    if database_kind == "postgresql":  # in turn: each lane 32 / 8 = 4 times
        assert sorted(lanes) == [(lane, 4) for lane in range(audit.SUBMIT_LANES)]
    else:  # SQLite's writers take the database's one write lock anyway: lane 0
        assert lanes == [(0, 24 + audit.SUBMIT_LANES)]
    report = await audit.verify(session)
    assert report.ok, report.problems


def test_case_serials_of_the_lanes_never_meet() -> None:
    """``service.case_serial``: PostgreSQL's eight counters of a region's day
    give each number once, in rounds of the lanes; SQLite's one counter gives
    its value."""
    lanes = audit.SUBMIT_LANES
    got = [
        service.case_serial(v, lane, "postgresql") for v in range(1, 51) for lane in range(lanes)
    ]
    assert sorted(got) == list(range(1, 50 * lanes + 1))
    assert [service.case_serial(v, lane, "postgresql") for v, lane in ((1, 0), (1, 7), (2, 0))] == [
        1,
        8,
        9,
    ]
    assert [service.case_serial(v, 0, "sqlite") for v in (1, 2, 42)] == [1, 2, 42]
