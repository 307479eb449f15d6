"""The tables a case submission writes (migrations ``0006_submit_indexes``, ``0007_audit_lanes``).

The indexes no query reads are gone — every submission wrote an entry into
each (``outbox_event`` by name and by region, ``audit_entry`` by action and
by target, ``case_trail`` by region) — and the reads of those tables that
remain still seek an index: the trail by case, the audit chain by region and
sequence (the verifier), the events by id (the worker, the outbox page).
The migration goes down and up again on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, inspect, select, text

from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.core.test_audit import _fill, _tamper
from tongban.admin import outbox as admin_outbox
from tongban.cases import queries
from tongban.cases.models import Case
from tongban.core import audit, worker
from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.migrate import alembic_config
from tongban.core.outbox import OutboxEvent
from tongban.web import deps

DROPPED = {
    "ix_outbox_event_name": "outbox_event",
    "ix_outbox_event_region_code": "outbox_event",
    "ix_audit_entry_action": "audit_entry",
    "ix_audit_entry_target": "audit_entry",
    "ix_case_trail_region_code": "case_trail",
}
KEPT = {
    "ix_audit_entry_chain_seq": "audit_entry",
    "ix_case_trail_case": "case_trail",
    "ix_notification_account": "notification",
}
TABLES = ("outbox_event", "audit_entry", "case_trail")


async def _indexes(session) -> set[tuple[str, str]]:
    """(index, table) of the tables a submission writes."""
    tables = sorted({*DROPPED.values(), *KEPT.values()})
    if session.bind.dialect.name == "postgresql":
        sql = "SELECT indexname, tablename FROM pg_indexes WHERE tablename = ANY(:t)"
        rows = await session.execute(text(sql), {"t": tables})
    else:
        rows = await session.execute(
            text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        )
    return {(name, table) for name, table in rows.all() if table in tables}


def _migrate(step: Any, revision: str):
    """``step`` (alembic ``command.upgrade``/``downgrade``) to ``revision`` on a connection."""

    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        step(cfg, revision)

    return run


async def test_unread_indexes_are_gone_and_come_back_on_downgrade(session, settings) -> None:
    have = await _indexes(session)
    assert not have & set(DROPPED.items()), have
    assert set(KEPT.items()) <= have, have
    await session.rollback()
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_migrate(command.downgrade, "0005_licence_import"))
        try:
            async with make_sessionmaker(engine)() as s:
                assert set(DROPPED.items()) | set(KEPT.items()) <= await _indexes(s)
        finally:
            async with engine.begin() as conn:
                await conn.run_sync(_migrate(command.upgrade, "head"))
        async with make_sessionmaker(engine)() as s:
            again = await _indexes(s)
        assert not again & set(DROPPED.items()) and set(KEPT.items()) <= again, again
    finally:
        await engine.dispose()


class _Statements:
    """The statements an engine sends meanwhile (``with``)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine if hasattr(engine, "sync_engine") else engine
        self.seen: list[tuple[str, Any]] = []

    def _capture(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.seen.append((statement, parameters))

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._capture)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._capture)


async def _plans(session, seen: list[tuple[str, Any]]) -> list[str]:
    """The database's plan of every statement in ``seen`` that reads one of
    TABLES; on PostgreSQL with sequential scans discouraged, so a table with
    no usable index shows as one whatever its (tiny) size."""
    conn = await session.connection()
    postgresql = session.bind.dialect.name == "postgresql"
    if postgresql:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plans = []
    for statement, parameters in seen:
        if not any(t in statement for t in TABLES) or not statement.lstrip().startswith("SELECT"):
            continue
        prefix = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
        rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
        plans.append("\n".join(str(row[-1]) for row in rows))
    await session.rollback()
    return plans


def _full_scans(plans: list[str]) -> list[str]:
    """Plan lines reading a whole table of TABLES."""
    out = []
    for plan in plans:
        for line in plan.splitlines():
            for t in TABLES:
                if f"Seq Scan on {t} " in line + " " or line.strip() == f"SCAN {t}":
                    out.append(line)
    return out


async def test_the_remaining_reads_seek_an_index(session, client, sessionmaker_) -> None:
    a = await admin(session)
    item = await published_item(session, a, name="公共场所卫生许可", service_objects=["1"])
    impl = await published_impl(session, a, item)
    person, _ = await builders.citizen(session, username="applicant1")
    await session.commit()
    token = builders.session_token(client, "applicant1")
    for n in range(3):
        r = client.post(
            "/api/v1/cases",
            json={
                "implementation_id": impl.id,
                "form_data": {
                    "applicant_name": person.name,
                    "applicant_id_number": person.id_number,
                    "phone": "13800138000",
                },
            },
            headers={"cookie": f"{deps.SESSION_COOKIE}={token}", "idempotency-key": f"k-{n:08d}"},
        )
        assert r.status_code == 201, r.text
    case = (await session.execute(select(Case).order_by(Case.id.desc()).limit(1))).scalar_one()
    event_ids = set((await session.execute(select(OutboxEvent.id))).scalars())
    assert len(event_ids) >= 6
    await session.commit()

    with _Statements(session.bind) as mine:
        view = await queries.get_case_view(session, case)  # the trail, by case
        report = await audit.verify(session)  # the chains, by region and sequence
        await admin_outbox.get_failed_deliveries(session, a)  # events joined by id
    assert [t.action for t in view.trail] == ["submit"] and report.ok and report.entries >= 3
    with _Statements(sessionmaker_.kw["bind"]) as workers:
        loaded = await worker._load_events(sessionmaker_, event_ids)  # events by id
    assert set(loaded) == event_ids

    plans = await _plans(session, mine.seen + workers.seen)
    assert len(plans) >= 5, plans
    assert not _full_scans(plans), plans
    text_ = "\n".join(plans)
    assert "ix_case_trail_case" in text_ and "ix_audit_entry_chain_seq" in text_, text_
    if session.bind.dialect.name == "postgresql":
        assert "pk_outbox_event" in text_, text_
    else:
        assert "SEARCH outbox_event USING INTEGER PRIMARY KEY" in text_, text_


@pytest.mark.parametrize("table", TABLES)
def test_full_scan_detector(table: str) -> None:
    """What ``_full_scans`` flags (the plan wording of both databases)."""
    assert _full_scans([f"SCAN {table}", f"Seq Scan on {table}  (cost=0.00..1.01 rows=1)"]) == [
        f"SCAN {table}",
        f"Seq Scan on {table}  (cost=0.00..1.01 rows=1)",
    ]
    assert not _full_scans(
        [
            f"SEARCH {table} USING INDEX x (a=?)",
            f"SCAN {table} USING COVERING INDEX x",
            f"Index Scan using x on {table}  (cost=0.15..8.17 rows=1)",
        ]
    )


async def test_audit_lanes_migrate_down_and_up_keeping_the_chains(session, settings) -> None:
    """Migration ``0007_audit_lanes``: lane-0 entries survive a downgrade and an
    upgrade and still verify (their hashes never covered a lane); while an
    entry of another lane exists, the downgrade refuses and changes nothing;
    the day counters fold into lane 0 at the highest number a lane gave."""
    await _fill(session, 3)
    await _fill(session, 1, lane=2)
    engine = create_engine(settings)

    async def columns() -> set[str]:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("audit_chain_head")}
            )

    try:
        with pytest.raises(RuntimeError, match="分道"):
            async with engine.begin() as conn:
                await conn.run_sync(_migrate(command.downgrade, "0006_submit_indexes"))
        assert "lane" in await columns()
        async with make_sessionmaker(engine)() as s:
            assert (await audit.verify(s)).entries == 4
        await _tamper(session, "DELETE FROM audit_entry WHERE lane = 2", {})
        await session.execute(text("DELETE FROM audit_chain_head WHERE lane = 2"))
        await session.execute(
            text(
                "INSERT INTO case_counter (region6, day, lane, value) VALUES "
                "('370102', '20261122', 0, 2), ('370102', '20261122', 3, 5), "
                "('370103', '20261122', 6, 1)"
            )
        )
        await session.commit()
        async with engine.begin() as conn:
            await conn.run_sync(_migrate(command.downgrade, "0006_submit_indexes"))
        try:
            assert "lane" not in await columns()
            async with engine.connect() as conn:
                folded = (
                    await conn.execute(
                        text("SELECT region6, value FROM case_counter ORDER BY region6")
                    )
                ).all()
            lanes = 8 if session.bind.dialect.name == "postgresql" else 1
            # the next number after a downgrade comes after every number a lane gave
            assert [tuple(r) for r in folded] == [
                ("370102", max((2 - 1) * lanes + 0 + 1, (5 - 1) * lanes + 3 + 1)),
                ("370103", 6 + 1),
            ]
        finally:
            async with engine.begin() as conn:
                await conn.run_sync(_migrate(command.upgrade, "head"))
        async with make_sessionmaker(engine)() as s:
            report = await audit.verify(s)
            assert report.ok and (report.chains, report.entries) == (1, 3), report.problems
            lanes = (await s.execute(select(audit.AuditChainHead.lane))).scalars().all()
            assert lanes == [0]
    finally:
        await engine.dispose()
