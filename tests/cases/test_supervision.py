"""电子监察: the sweep's yellow and red cards, counts, supervision notices, scope."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests import builders
from tests.cases.test_lifecycle import _world, form_for
from tongban.cases import service, supervision
from tongban.cases.supervision import SupervisionCard
from tongban.core.clock import freeze
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.identity.service import actor_for_account

pytestmark = pytest.mark.asyncio
CST = dt.timezone(dt.timedelta(hours=8))


async def test_sweep_colours_cases_and_logs_each_change(session):
    impl, person, applicant, clerk, approver, _head, sup_acc = await _world(session)
    with freeze(dt.datetime(2024, 11, 4, 10, tzinfo=CST)):  # Monday
        waiting, _ = await service.submit(
            session,
            applicant,
            implementation_id=impl.id,
            form_data=form_for(person),
            idempotency_key="sweep-0001",
        )
        accepted, _ = await service.submit(
            session,
            applicant,
            implementation_id=impl.id,
            form_data=form_for(person),
            idempotency_key="sweep-0002",
        )
        await service.transition(
            session, clerk, accepted.id, "accept"
        )  # 10 working days: due 11-18
    with freeze(dt.datetime(2024, 11, 5, 10, tzinfo=CST)):
        assert (await supervision.sweep(session))["yellow"] == 0
    with freeze(
        dt.datetime(2024, 11, 8, 10, tzinfo=CST)
    ):  # acceptance due 11-11: one working day left
        await supervision.sweep(session)
        assert (waiting.alert, accepted.alert) == ("yellow", "")
    with freeze(dt.datetime(2024, 11, 12, 10, tzinfo=CST)):
        await supervision.sweep(session)
        assert waiting.alert == "red"
    with freeze(dt.datetime(2024, 11, 15, 10, tzinfo=CST)):  # due 11-18: one working day left
        await supervision.sweep(session)
        assert accepted.alert == "yellow"
    with freeze(dt.datetime(2024, 11, 19, 10, tzinfo=CST)):
        await supervision.sweep(session)
        assert accepted.alert == "red"
        await service.transition(session, approver, accepted.id, "pass_step")
        await service.transition(session, approver, accepted.id, "pass_step")
        await service.transition(session, approver, accepted.id, "decide", {"outcome": "grant"})
        assert accepted.alert == ""  # concluded cases carry no card
    cards = (
        await session.execute(
            select(SupervisionCard.case_id, SupervisionCard.colour, SupervisionCard.rule).order_by(
                SupervisionCard.id
            )
        )
    ).all()
    assert cards == [
        (waiting.id, "yellow", "accept_due_soon"),
        (waiting.id, "red", "accept_overdue"),
        (accepted.id, "yellow", "due_soon"),
        (accepted.id, "red", "overdue"),
    ]
    sup = await actor_for_account(session, sup_acc, via="session")
    counts = await supervision.alert_counts(session, sup, by="department")
    assert counts == [{"key": impl.department_id, "yellow": 0, "red": 1}]
    by_item = await supervision.alert_counts(session, sup, by="item")
    assert by_item[0]["name"] == impl.name


async def test_supervision_notice_issue_reply_close_and_scope(session):
    impl, person, applicant, clerk, _approver, head, sup_acc = await _world(session)
    sup = await actor_for_account(session, sup_acc, via="session")
    case, _ = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="notice-001",
    )
    with pytest.raises(PermissionDenied):
        await supervision.issue_notice(
            session, clerk, department_id=impl.department_id, content="请尽快受理该办件"
        )
    with pytest.raises(ValidationFailed):
        await supervision.issue_notice(session, sup, department_id=impl.department_id, content="快")
    n = await supervision.issue_notice(
        session,
        sup,
        department_id=impl.department_id,
        case_id=case.id,
        content="该办件临近受理期限，请尽快受理并回复。",
    )
    assert n.state == "open" and n.reply_due_at > n.issued_at
    with pytest.raises(Conflict):
        await supervision.close_notice(session, sup, n.id)  # no reply yet
    other = await actor_for_account(
        session,
        await builders.staff(
            session, roles=["dept_admin"], dept=await builders.department(session)
        ),
        via="session",
    )
    with pytest.raises(NotFound):
        await supervision.reply_notice(session, other, n.id, reply="与我部门无关的回复")
    await supervision.reply_notice(session, head, n.id, reply="已于当日受理，并加强窗口力量。")
    await supervision.close_notice(session, sup, n.id)
    assert n.state == "closed"
    far_sup = await actor_for_account(
        session,
        await builders.staff(
            session,
            roles=["supervisor"],
            region=builders.QINGDAO_SHINAN,
            dept=await builders.department(session, region=builders.QINGDAO_SHINAN),
        ),
        via="session",
    )
    assert await supervision.list_notices(session, far_sup) == []
    with pytest.raises(NotFound):
        await supervision.issue_notice(
            session, far_sup, department_id=impl.department_id, content="越权督办内容测试"
        )
    assert [x.id for x in await supervision.list_notices(session, head)] == [n.id]


async def test_sweep_in_batches_writes_only_changes_in_case_order(session, settings):
    """Small batches over cases of both swept states, interleaved by id: the
    same cards and events, in case order, as one pass over every case; loaded
    cases see their new colour; a case that left the swept states loses its
    card; a second sweep writes nothing."""
    from sqlalchemy import update

    from tongban.cases.models import Case
    from tongban.core.db import create_engine, make_sessionmaker
    from tongban.core.outbox import OutboxEvent

    impl, person, applicant, clerk, _approver, _head, _sup = await _world(session)
    with freeze(
        dt.datetime(2024, 11, 4, 10, tzinfo=CST)
    ):  # Monday: accept due 11-11, decision due 11-18
        cases = [
            (await service.submit(session, applicant, implementation_id=impl.id, form_data=form_for(person),
                                  idempotency_key=f"batch-{i:04d}"))[0]
            for i in range(7)
        ]  # fmt: skip
        for i in (1, 2, 4):
            await service.transition(session, clerk, cases[i].id, "accept")
        await service.transition(
            session, applicant, cases[6].id, "withdraw", {"reason": "不再需要"}
        )
    await session.execute(
        update(Case).where(Case.id == cases[6].id).values(alert="red")
    )  # a stale card
    await session.commit()
    with freeze(
        dt.datetime(2024, 11, 15, 10, tzinfo=CST)
    ):  # submitted: overdue; reviewing: one working day left
        changed = await supervision.sweep(session, batch=2)
        await session.commit()
    assert changed == {"yellow": 3, "red": 3, "cleared": 0, "unknown_year": 0}
    expected = [(c.id, "yellow", "due_soon") if i in (1, 2, 4) else (c.id, "red", "accept_overdue")
                for i, c in enumerate(cases[:6])]  # fmt: skip
    cards = (await session.execute(
        select(SupervisionCard.case_id, SupervisionCard.colour, SupervisionCard.rule).order_by(SupervisionCard.id)
    )).all()  # fmt: skip
    assert cards == expected
    events = (await session.execute(
        select(OutboxEvent.payload).where(OutboxEvent.name == "case.alert").order_by(OutboxEvent.id)
    )).scalars().all()  # fmt: skip
    assert [(e["case_id"], e["colour"], e["rule"]) for e in events] == expected
    assert [c.alert for c in cases] == [
        "red",
        "yellow",
        "yellow",
        "red",
        "yellow",
        "red",
        "",
    ]  # loaded objects follow
    engine = create_engine(settings)
    try:
        async with make_sessionmaker(engine)() as fresh:
            stored = (await fresh.execute(select(Case.id, Case.alert).order_by(Case.id))).all()
        assert [a for _i, a in stored] == ["red", "yellow", "yellow", "red", "yellow", "red", ""]
    finally:
        await engine.dispose()
    with freeze(dt.datetime(2024, 11, 15, 11, tzinfo=CST)):
        assert await supervision.sweep(session, batch=2) == {
            "yellow": 0,
            "red": 0,
            "cleared": 0,
            "unknown_year": 0,
        }
    assert len((await session.execute(select(SupervisionCard.id))).all()) == 6
