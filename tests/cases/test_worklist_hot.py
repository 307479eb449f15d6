"""The worklist hot routes (``cases.worklist_hot``: ``GET /api/v1/cases`` and
``GET /api/v1/cases/queues`` on ``web.app.HotRoutes``) answer exactly as the
FastAPI routes (``cases.api.list_cases``, ``queue_counts``) do: same bytes for
pages, keyset pages, filters, counts, scopes, validation errors and refusals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from tests import builders as b
from tests.catalogue.helpers import admin, published_impl, published_item
from tongban.cases import service, worklist_hot
from tongban.cases.models import Case
from tongban.identity import service as identity_service
from tongban.identity.models import ApiClient
from tongban.identity.service import actor_for_account
from tongban.regions.models import Department
from tongban.web import deps
from tongban.web.app import create_app

CASES = "/api/v1/cases"
QUEUES = "/api/v1/cases/queues"
UTC = dt.UTC

# (state, at_last_step, alert, channel, applicant name) of the cases cloned from a real one
SHAPES = [
    ("submitted", False, "", "pc", "王小明"),
    ("submitted", False, "yellow", "window", "王%_特殊"),
    ("submitted", False, "red", "mobile", "李四"),
    ("reviewing", False, "", "pc", "王五"),
    ("reviewing", True, "yellow", "kiosk", "赵六"),
    ("reviewing", True, "", "pc", "王七"),
    ("correction", False, "", "window", "钱八"),
    ("suspended", False, "", "pc", "孙九"),
    ("concluded", False, "", "pc", "周十"),
    ("delivered", False, "", "mobile", "王十一"),
    ("rejected", False, "", "pc", "吴十二"),
    ("withdrawn", False, "", "pc", "郑十三"),
]


@dataclass
class World:
    impl: int
    impl2: int
    dept: int
    dept2: int
    numbers: list[str]
    token: str


@pytest.fixture
async def world(session) -> World:
    """Two implementations of 历下 in two departments, ~40 cases over every
    queue and state (some with whole-second datetimes: ``isoformat`` leaves
    their microseconds out), staff in and out of scope, an API client."""
    s = session
    a = await admin(s)
    impl = await published_impl(
        s, a, await published_item(s, a, name="公共场所卫生许可", service_objects=["1"])
    )
    impl2 = await published_impl(
        s, a, await published_item(s, a, name="食品经营许可", service_objects=["1"])
    )
    dept = await s.get(Department, impl.department_id)
    dept2 = await s.get(Department, impl2.department_id)
    person, acc = await b.citizen(s, username="happlicant")
    await b.citizen(s, username="hother")
    await b.staff(s, roles=["clerk"], dept=dept, username="hclerk")
    await b.staff(s, roles=["approver"], dept=dept2, username="hother_dept")
    await b.staff(s, roles=["leader"], region=b.JINAN, username="hleader")
    await b.staff(s, roles=["clerk"], region=b.QINGDAO_SHINAN,
                  dept=await b.department(s, region=b.QINGDAO_SHINAN), username="hfar")  # fmt: skip
    actor = await actor_for_account(s, acc, via="session")
    form = {
        "applicant_name": person.name,
        "applicant_id_number": person.id_number,
        "phone": "13800138000",
    }
    first, _ = await service.submit(
        s, actor, implementation_id=impl.id, form_data=form, idempotency_key="hot-0000001"
    )
    await s.commit()
    base = {c.key: getattr(first, c.key) for c in Case.__table__.columns if c.key != "id"}
    t0 = dt.datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)
    rows = []
    for i in range(40):
        state, last, alert, channel, name = SHAPES[i % len(SHAPES)]
        at = t0 + dt.timedelta(days=i, seconds=0 if i % 3 else 0.123456 * (i + 1))
        done = state in ("concluded", "delivered", "rejected", "withdrawn")
        rows.append({
            **base, "number": f"{first.number}-{i:03d}", "idempotency_key": f"hot-clone-{i:04d}", "state": state,
            "at_last_step": last, "alert": alert, "channel": channel, "applicant_name": name,
            "implementation_id": impl2.id if i % 4 == 0 else impl.id,
            "department_id": dept2.id if i % 4 == 0 else dept.id,
            "submitted_at": at, "accept_due_at": at + dt.timedelta(days=7),
            "accepted_at": at + dt.timedelta(hours=5) if state not in ("submitted",) else None,
            "due_at": at + dt.timedelta(days=15) if state == "reviewing" else None,
            "concluded_at": at + dt.timedelta(days=8) if done else None,
            "delivered_at": at + dt.timedelta(days=9, microseconds=1) if state == "delivered" else None,
            "outcome": "0" if state in ("concluded", "delivered") else "6" if state == "rejected" else None,
            "current_step": "审核" if state == "reviewing" else "",
        })  # fmt: skip
    await s.execute(insert(Case), rows)
    client_row = ApiClient(name="济南市业务系统", region_code=b.JINAN)
    s.add(client_row)
    await s.flush()
    token = await identity_service.create_api_token(s, client=client_row, scopes=["persons:read"])
    await s.commit()
    numbers = list((await s.execute(select(Case.number).order_by(Case.id))).scalars())
    return World(impl.id, impl2.id, dept.id, dept2.id, numbers, token)


def _get(client: TestClient, path: str, token: str | None, **headers: str):
    if token:
        headers["cookie"] = f"{deps.SESSION_COOKIE}={token}"
    return client.get(path, headers=headers)


def _same(
    client: TestClient,
    general: TestClient,
    path: str,
    token: str | None,
    status: int = 200,
    **headers: str,
):
    hot, ref = _get(client, path, token, **headers), _get(general, path, token, **headers)
    assert hot.status_code == ref.status_code == status, (path, hot.text, ref.text)
    assert hot.content == ref.content, path
    assert hot.headers["content-type"] == ref.headers["content-type"] == "application/json"
    return hot.json()


def _queries(w: World) -> list[dict[str, object]]:
    return [
        {}, {"queue": "to_accept"}, {"queue": "to_accept", "limit": 2}, {"queue": "to_review"},
        {"queue": "to_decide"}, {"queue": "to_deliver"}, {"queue": "corrections"}, {"queue": "paused"},
        {"queue": "yellow"}, {"queue": "red"}, {"state": "delivered"}, {"limit": 5},
        {"queue": "to_accept", "department_id": w.dept}, {"queue": "to_accept", "implementation_id": w.impl2},
        {"channel": "window"}, {"applicant": "王"}, {"applicant": "王%_"}, {"applicant": "%_"},
        {"number": w.numbers[3]}, {"number": f" {w.numbers[5]} "}, {"region": b.LIXIA}, {"region": "370102"},
        {"submitted_from": "2026-03-05", "submitted_to": "2026-03-20"},
        {"state": "delivered", "submitted_from": "2026-03-01", "submitted_to": "2026-04-30"},
        {"queue": "to_accept", "submitted_from": "2026-03-10"}, {"submitted_to": "2026-03-10", "limit": 3},
        {"before": 10}, {"queue": "to_accept", "applicant": "王", "channel": "window", "limit": 100},
    ]  # fmt: skip


@pytest.mark.parametrize(
    "who", ["hclerk", "hother_dept", "hleader", "hfar", "happlicant", "hother"]
)
async def test_pages_and_counts_are_the_fastapi_routes_bytes(
    world: World, client, general, who: str
) -> None:
    token = b.session_token(client, who)
    for q in _queries(world):
        _same(client, general, f"{CASES}?{urlencode(q)}", token)
    _same(client, general, QUEUES, token)


async def test_keyset_pages_follow_next(world: World, client, general) -> None:
    token = b.session_token(client, "hclerk")
    for q in (
        {"limit": 3},
        {"queue": "to_accept", "limit": 1},
        {"state": "delivered", "limit": 1, "submitted_from": "2026-03-01"},
    ):
        seen: list[int] = []
        before = None
        while True:
            page = _same(
                client,
                general,
                f"{CASES}?{urlencode({**q, **({'before': before} if before else {})})}",
                token,
            )
            seen += [c["id"] for c in page["items"]]
            if page["next"] is None:
                break
            assert page["next"] == page["items"][-1]["id"]
            before = page["next"]
        assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) and seen


async def test_what_a_clerk_sees(world: World, client) -> None:
    token = b.session_token(client, "hclerk")
    items = _get(client, f"{CASES}?limit=100", token).json()["items"]
    assert len(items) == 41 and {c["department_id"] for c in items} == {
        world.dept,
        world.dept2,
    }  # window: the district
    other = _get(client, f"{CASES}?limit=100", b.session_token(client, "hother_dept")).json()[
        "items"
    ]
    assert other and {c["department_id"] for c in other} == {
        world.dept2
    }  # an approver: own department only
    some = next(c for c in items if c["state"] == "delivered")
    assert some["state_label"] and some["outcome_label"] and some["delivered_at"].endswith("+00:00")
    whole = [c["submitted_at"] for c in items if "." not in c["submitted_at"]]
    assert whole and all(len(t) == len("2026-03-02T01:00:00+00:00") for t in whole)
    counts = _get(client, QUEUES, token).json()
    assert counts["to_accept"]["count"] == sum(c["state"] == "submitted" for c in items)
    assert counts["red"] == {"label": "红牌警告", "count": sum(c["alert"] == "red" for c in items)}
    wang = _get(client, f"{CASES}?{urlencode({'applicant': '王%_'})}", token).json()["items"]
    assert [c["applicant_name"] for c in wang] == ["王%_特殊"] * len(wang) and wang
    far = _get(client, f"{CASES}?limit=100", b.session_token(client, "hfar")).json()
    assert far == {"items": [], "next": None}


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=x", "before=abc", "queue=bogus", "state=bogus", "submitted_from=2026-13-01",
    "submitted_to=yesterday", "applicant=" + "王" * 51, "implementation_id=1.5", "region=" + "3" * 13,
    "applicant=%00", "applicant=%E7%8E%8B%00",
])  # fmt: skip
async def test_validation_errors(world: World, client, general, query: str) -> None:
    token = b.session_token(client, "hclerk")
    body = _same(client, general, f"{CASES}?{query}", token, status=422)
    assert body["code"] in (
        "validation_failed",
        "queue_invalid",
        "state_invalid",
        "applicant_invalid",
        "invalid_character",
    )
    if "%00" in query:  # a NUL: refused in front of every route (web.nul), before PostgreSQL would
        assert body["code"] == "invalid_character" and "无效字符" in body["message"]


async def test_refusals(world: World, client, general, session) -> None:
    refused = {"code": "not_authenticated", "message": "请先登录"}
    for path in (CASES, f"{CASES}?queue=to_accept", QUEUES):
        assert _same(client, general, path, None, status=401) == refused
        assert _same(client, general, path, "not-a-session", status=401) == refused
        assert _same(client, general, path, "x" * 101, status=401) == refused
    # the filters are checked first, the queue after the session: as FastAPI's route does
    assert (
        _same(client, general, f"{CASES}?limit=0", None, status=422)["code"] == "validation_failed"
    )
    assert _same(client, general, f"{CASES}?queue=bogus", None, status=401) == refused
    token = b.session_token(client, "hclerk")
    await identity_service.sign_out(session, token)
    await session.commit()
    assert _same(client, general, QUEUES, token, status=401) == refused
    assert _same(client, general, CASES, token, status=401) == refused


async def test_api_token_takes_the_general_path(world: World, client, general) -> None:
    h = {"Authorization": f"Bearer {world.token}"}
    for path in (f"{CASES}?queue=to_accept", QUEUES):
        assert _same(client, general, path, None, **h)
        bad = _get(client, path, None, Authorization="Bearer tb_forged")
        assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"


async def test_served_by_the_hot_routes(world: World, client, monkeypatch) -> None:
    token = b.session_token(client, "hclerk")
    called: list[str] = []
    real = worklist_hot._fetch

    async def spy(conn, c, params):
        called.append(c.sql)
        return await real(conn, c, params)

    monkeypatch.setattr(worklist_hot, "_fetch", spy)
    assert _get(client, f"{CASES}?queue=to_accept", token).status_code == 200
    assert _get(client, QUEUES, token).status_code == 200
    assert len(called) == 2
    text = client.get("/metrics").text
    assert (
        'route="/api/v1/cases",status="200"' in text
        and 'route="/api/v1/cases/queues",status="200"' in text
    )


async def test_unexpected_error_frees_the_connection(world: World, settings, monkeypatch) -> None:
    async def broken(*_a, **_k):
        raise RuntimeError("boom")

    app = create_app(settings.model_copy(update={"propagate_errors": False}))  # production's answer
    with TestClient(app, base_url="http://testserver") as c:
        token = b.session_token(c, "hclerk")
        monkeypatch.setattr(worklist_hot, "_fetch", broken)
        r = _get(c, CASES, token)
        assert (
            r.status_code == 500 and r.json()["code"] == "internal_error" and "boom" not in r.text
        )
        assert app.state.engine.sync_engine.pool.checkedout() == 0
        monkeypatch.undo()
        assert _get(c, CASES, token).status_code == 200
        assert app.state.engine.sync_engine.pool.checkedout() == 0


# (applicant name, region code, submitted at) of more clones: names that a LIKE
# or a collation could get wrong, in a township of 历下 and in 市中区
EXTRA = [
    ("Wang Li", "370102001000", dt.datetime(2026, 3, 3, 15, 59, 59, tzinfo=UTC)),
    ("wang li", "370102001000", dt.datetime(2026, 3, 3, 16, 0, 0, tzinfo=UTC)),
    ("王%", "370102001000", dt.datetime(2026, 3, 6, 2, 0, 0, tzinfo=UTC)),
    ("王_二", b.LIXIA, dt.datetime(2026, 3, 6, 3, 0, 0, tzinfo=UTC)),
    ("王\U0010ffff尾", b.LIXIA, dt.datetime(2026, 3, 7, 3, 0, 0, tzinfo=UTC)),
    ("王\U0010ffff", b.SHIZHONG, dt.datetime(2026, 3, 8, 3, 0, 0, tzinfo=UTC)),
    ("\ud7ff甲", b.LIXIA, dt.datetime(2026, 3, 9, 3, 0, 0, tzinfo=UTC)),
    ("\ue000乙", b.SHIZHONG, dt.datetime(2026, 3, 9, 4, 0, 0, tzinfo=UTC)),
    ("Émile", "370102002000", dt.datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)),
    ("王五", b.SHIZHONG, dt.datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC)),
]


def _all_pages(client: TestClient, q: dict[str, object], token: str) -> list[dict]:
    items: list[dict] = []
    before = None
    while True:
        page = _get(
            client,
            f"{CASES}?{urlencode({**q, 'limit': 4, **({'before': before} if before else {})})}",
            token,
        ).json()
        items += page["items"]
        if page["next"] is None:
            return items
        before = page["next"]


def _day(iso: str) -> dt.date:
    return dt.datetime.fromisoformat(iso).astimezone(dt.timezone(dt.timedelta(hours=8))).date()


async def test_filters_answer_what_the_rows_say(world: World, client, general, session) -> None:
    """An applicant prefix (a byte-order range: case, ``%``, ``_``, non-ASCII and
    the highest code point taken literally) and a date range (read region by
    region of the scope, ``api.scope_regions``) select exactly the cases of the
    actor's unfiltered list that match, in every scope, also with ``region``."""
    first = (await session.execute(select(Case).order_by(Case.id).limit(1))).scalar_one()
    base = {c.key: getattr(first, c.key) for c in Case.__table__.columns if c.key != "id"}
    await session.execute(
        insert(Case),
        [
            {**base, "number": f"{first.number}-x{i:02d}", "idempotency_key": f"hot-extra-{i:03d}",
             "applicant_name": name, "region_code": region, "submitted_at": at,
             "state": "delivered" if i % 2 else "submitted"}
            for i, (name, region, at) in enumerate(EXTRA)
        ],
    )  # fmt: skip
    await session.commit()
    filters: list[tuple[dict[str, object], object]] = [
        ({"applicant": p}, lambda c, p=p: c["applicant_name"].startswith(p))
        for p in ("王", "王%", "王%_", "王_", "%", "_", "Wang", "wang", "W", "É", "E",
                  "王\U0010ffff", "\ud7ff", "\ue000", "王五", "王十一X")
    ]  # fmt: skip
    for lo, hi in (
        ("2026-03-04", "2026-03-04"),
        ("2026-03-01", "2026-03-31"),
        ("2026-03-06", None),
    ):
        for extra in ({}, {"state": "delivered"}, {"queue": "to_accept"}, {"region": "370102001"}):
            q = {"submitted_from": lo, **({"submitted_to": hi} if hi else {}), **extra}

            def match(c, lo=lo, hi=hi, extra=extra) -> bool:
                return (
                    dt.date.fromisoformat(lo) <= _day(c["submitted_at"])
                    and (hi is None or _day(c["submitted_at"]) <= dt.date.fromisoformat(hi))
                    and c["state"]
                    == {"state": "delivered", "queue": "submitted"}.get(
                        next(iter(extra), ""), c["state"]
                    )
                    and c["region_code"].startswith(str(extra.get("region", "")))
                )

            filters.append((q, match))
    for who in ("hclerk", "hother_dept", "hleader", "hfar", "happlicant"):
        token = b.session_token(client, who)
        everything = _all_pages(client, {}, token)
        for q, match in filters:
            want = [c["id"] for c in everything if match(c)]
            assert [c["id"] for c in _all_pages(client, q, token)] == want, (who, q)
            _same(client, general, f"{CASES}?{urlencode(q)}", token)
    hclerk = _all_pages(client, {"applicant": "王"}, b.session_token(client, "hclerk"))
    assert {"王%", "王_二", "王\U0010ffff尾"} <= {c["applicant_name"] for c in hclerk}


@pytest.mark.parametrize(
    ("prefix", "hi"),
    [
        ("王", "玌"),
        ("a%", "a&"),
        ("\ud7ff", "\ue000"),  # past the surrogates
        ("王\U0010ffff", "玌"),  # the last character carries
        ("\U0010ffff", "\U0010ffff" * 201),
    ],
)
def test_applicant_bounds(prefix: str, hi: str) -> None:
    from tongban.cases import api

    assert api.applicant_bounds(prefix) == (prefix, hi)


async def test_workbench_pages_read_what_the_api_answers(world: World, client, session) -> None:
    """The workbench pages' reads (``cases.queries.get_cases``) narrow by an
    applicant prefix and a date range as the API does (same helpers)."""
    from tongban.cases import queries
    from tongban.identity.models import Account

    first = (await session.execute(select(Case).order_by(Case.id).limit(1))).scalar_one()
    base = {c.key: getattr(first, c.key) for c in Case.__table__.columns if c.key != "id"}
    wang = {
        "number": f"{first.number}-w",
        "idempotency_key": "hot-wang",
        "applicant_name": "Wang Li",
    }
    await session.execute(insert(Case), [{**base, **wang}])
    await session.commit()
    for who in ("hclerk", "hother_dept", "hleader", "happlicant"):
        acc = (await session.execute(select(Account).where(Account.username == who))).scalar_one()
        actor = await actor_for_account(session, acc, via="session")
        token = b.session_token(client, who)
        for q, f in (
            ({"applicant": "王%_"}, queries.CaseFilter(applicant="王%_")),
            ({"applicant": "王"}, queries.CaseFilter(applicant="王")),
            ({"applicant": "wang"}, queries.CaseFilter(applicant="wang")),  # case matters
            ({"applicant": "Wang"}, queries.CaseFilter(applicant="Wang")),
            (
                {
                    "state": "delivered",
                    "submitted_from": "2026-03-01",
                    "submitted_to": "2026-04-30",
                },
                queries.CaseFilter(
                    state="delivered",
                    submitted_from=dt.date(2026, 3, 1),
                    submitted_to=dt.date(2026, 4, 30),
                ),
            ),
            (
                {"submitted_from": "2026-03-10"},
                queries.CaseFilter(submitted_from=dt.date(2026, 3, 10)),
            ),
        ):
            want = [c["id"] for c in _all_pages(client, q, token)]
            got: list[int] = []
            before = None
            while True:
                rows, before = await queries.get_cases(
                    session, actor, f, before=before, limit=4, tz="Asia/Shanghai"
                )
                got += [c.id for c in rows]
                if before is None:
                    break
            assert got == want, (who, q)
            assert want or who == "hother_dept" or q == {"applicant": "wang"}, (who, q)


async def test_count_statement_repeats_the_partial_index_conditions_for_sqlite_only(
    world: World, session
) -> None:
    """SQLite uses ``ix_case_queue_counts`` / ``ix_case_alert_counts`` only
    when a query repeats their conditions; PostgreSQL proves them from each
    queue's own and, given them again, multiplied both selectivities and
    counted through ``ix_case_state_id`` (every region's cases of the state).
    Both statements count the same (``test_what_a_clerk_sees`` checks the
    counts against the rows; the hot and general routes use the statement of
    the database they run on)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from tongban.cases import api
    from tongban.identity.models import Account

    acc = (await session.execute(select(Account).where(Account.username == "hclerk"))).scalar_one()
    actor = await actor_for_account(session, acc, via="session")
    sql = {
        name: str(api._count_statement(actor, name).compile(dialect=d.dialect()))
        for name, d in (("sqlite", sqlite), ("postgresql", postgresql))
    }
    assert sql["sqlite"].count("state IN (") == 6 and sql["sqlite"].count("alert IN (") == 2
    assert "state IN (" not in sql["postgresql"] and "alert IN (" not in sql["postgresql"]
    assert str(api._count_statement(actor).compile(dialect=sqlite.dialect())) == sql["sqlite"]
    dialect = session.bind.dialect.name
    row = (await session.execute(api._count_statement(actor, dialect))).one()
    again = (await session.execute(api._count_statement(actor))).one()
    assert tuple(row) == tuple(again) and sum(row) > 0


async def test_to_decide_list_on_postgresql_leaves_the_step_unestimated(
    world: World, session
) -> None:
    """PostgreSQL's 待决定 list writes the step as ``COALESCE`` (the planner
    estimated "at_last_step IS true" from the whole table, 0.3%, and read every
    case of the queue through the count index: ``api._PG_LIST_QUEUES``); the
    counts and SQLite keep ``IS true``. Both forms list the same cases."""
    from sqlalchemy.dialects import postgresql, sqlite

    from tongban.cases import api
    from tongban.identity.models import Account

    acc = (await session.execute(select(Account).where(Account.username == "hclerk"))).scalar_one()
    actor = await actor_for_account(session, acc, via="session")

    def sql(name: str, d, queue: str) -> str:
        stmt = api._list_statement(name, actor, queue, (), None, 100)
        return str(stmt.compile(dialect=d.dialect()))

    assert "coalesce(" in sql("postgresql", postgresql, "to_decide")
    assert "coalesce(" not in sql("sqlite", sqlite, "to_decide")
    assert "coalesce(" not in sql("postgresql", postgresql, "to_review")
    assert "coalesce(" not in str(
        api._count_statement(actor, "postgresql").compile(dialect=postgresql.dialect())
    )
    dialect = session.bind.dialect.name
    ids = [
        r.id
        for r in await session.execute(
            api._list_statement(dialect, actor, "to_decide", (), None, 100)
        )
    ]
    other = "sqlite" if dialect == "postgresql" else "postgresql"
    again = [
        r.id
        for r in await session.execute(
            api._list_statement(other, actor, "to_decide", (), None, 100)
        )
    ]
    assert ids == again and ids


def test_postgresql_pool_keeps_its_connections(tmp_path) -> None:
    """On PostgreSQL every connection the pool opens is kept (the ceiling as
    before, ``database_pool_size`` + 10): an overflow connection closed on
    return and reopened by the next burst cost the server a new backend and
    every statement prepared and planned again (bench/run.py worklist)."""
    from tongban.core import db
    from tongban.core.settings import Settings

    s = Settings(
        data_dir=tmp_path,
        database_url="postgresql://tongban@127.0.0.1:1/nothing",
        database_pool_size=7,
        embedded_worker=False,
    )
    engine = db.create_engine(s)  # no connection is made
    pool = engine.sync_engine.pool
    assert pool.size() == 7 + db.PG_POOL_OVERFLOW == db.pg_pool_size(s)
    assert pool._max_overflow == 0
    lite = db.create_engine(
        Settings(
            data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.db", embedded_worker=False
        )
    ).sync_engine.pool
    assert lite.size() == 40 and lite._max_overflow == 40  # SQLite: unchanged
