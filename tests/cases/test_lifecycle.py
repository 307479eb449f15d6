"""Cases through the service: submit → correction → resubmit → accept → steps →
special procedure → extension → decide → deliver; idempotency; the rules."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests import builders
from tests.catalogue.helpers import admin, published_impl, published_item
from tongban.cases import lifecycle, service
from tongban.cases.models import (
    Case,
    CaseMaterial,
    CasePause,
    CaseTrail,
    CorrectionNotice,
    Notification,
)
from tongban.core.clock import freeze
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.identity.service import actor_for_account

pytestmark = pytest.mark.asyncio
CST = dt.timezone(dt.timedelta(hours=8))


async def _world(s, name: str = "公共场所卫生许可"):
    a = await admin(s)
    item = await published_item(s, a, name=name, service_objects=["1", "2"])
    impl = await published_impl(s, a, item)
    person, acc = await builders.citizen(s)
    applicant = await actor_for_account(s, acc, via="session")
    from tongban.regions.models import Department

    dept = await s.get(Department, impl.department_id)
    clerk = await actor_for_account(
        s, await builders.staff(s, roles=["clerk"], dept=dept), via="session"
    )
    approver = await actor_for_account(
        s, await builders.staff(s, roles=["approver"], dept=dept), via="session"
    )
    head = await actor_for_account(
        s, await builders.staff(s, roles=["dept_admin"], dept=dept), via="session"
    )
    sup_acc = await builders.staff(
        s, roles=["supervisor"], region=builders.LIXIA, dept=await builders.department(s)
    )
    return impl, person, applicant, clerk, approver, head, sup_acc


def form_for(person):
    return {
        "applicant_name": person.name,
        "applicant_id_number": person.id_number,
        "phone": "13800138000",
    }


async def test_the_whole_lifecycle_with_deadlines(session):
    impl, person, applicant, clerk, approver, head, _ = await _world(session)
    with freeze(dt.datetime(2024, 9, 26, 10, tzinfo=CST)):  # Thursday before 国庆
        case, created = await service.submit(
            session,
            applicant,
            implementation_id=impl.id,
            form_data=form_for(person),
            idempotency_key="key-00000001",
        )
    assert created and case.state == "submitted" and case.number.startswith("370102-20240926-")
    assert case.accept_due_at.astimezone(CST).date() == dt.date(
        2024, 10, 9
    )  # 27, 29 (调休), 30, 8, 9
    assert [t.action for t in service.actions_for(case, applicant)] == ["withdraw"]
    assert {t.action for t in service.actions_for(case, clerk)} == {
        "accept",
        "reject",
        "request_correction",
    }
    with freeze(dt.datetime(2024, 9, 27, 9, tzinfo=CST)):
        await service.transition(
            session,
            clerk,
            case.id,
            "request_correction",
            {
                "items": [
                    {"kind": "material", "name": "食品经营许可申请书", "reason": "未签字"},
                    {"kind": "field", "name": "联系地址", "reason": "未填写"},
                ]
            },
        )
    assert case.state == "correction" and case.correction_round == 1
    await service.transition(
        session,
        applicant,
        case.id,
        "resubmit",
        {"form_data": {**form_for(person), "address": "历下区泉城路 1 号"}},
    )
    assert case.state == "submitted" and case.form_data["address"].startswith("历下区")
    with freeze(dt.datetime(2024, 9, 27, 15, tzinfo=CST)):  # accepted Friday: 10 working days
        await service.transition(session, clerk, case.id, "accept")
    assert case.state == "reviewing"
    # 9-29 (Sun 调休) 1, 9-30 2, 10-8..10-11 6, 10-12 (Sat 调休) 7, 10-14..16 10
    assert case.due_at.astimezone(CST).date() == dt.date(2024, 10, 16)
    assert [s["name"] for s in case.steps] == ["承办", "审核", "批准"]
    with pytest.raises(PermissionDenied):
        await service.transition(session, clerk, case.id, "pass_step")  # steps are the approver's
    await service.transition(session, approver, case.id, "pass_step")
    with freeze(dt.datetime(2024, 10, 8, 9, tzinfo=CST)):
        await service.transition(
            session,
            approver,
            case.id,
            "suspend",
            {"kind": "expert_review", "reason": "需组织专家评审"},
        )
    assert case.state == "suspended" and case.due_at is None
    with freeze(dt.datetime(2024, 10, 9, 17, tzinfo=CST)):
        await service.transition(session, approver, case.id, "resume", {"result": "专家评审通过"})
    assert case.due_at.astimezone(CST).date() == dt.date(2024, 10, 18)  # 10-8 and 10-9 not counted
    with pytest.raises(PermissionDenied):
        await service.transition(
            session, approver, case.id, "extend", {"days": 5, "reason": "情况复杂"}
        )
    with pytest.raises(ValidationFailed):
        await service.transition(
            session, head, case.id, "extend", {"days": 11, "reason": "情况复杂"}
        )
    await service.transition(
        session, head, case.id, "extend", {"days": 10, "reason": "情况复杂，经负责人批准"}
    )
    assert case.due_at.astimezone(CST).date() == dt.date(2024, 11, 1)
    await service.transition(session, approver, case.id, "pass_step")
    with pytest.raises(PermissionDenied):
        await service.transition(
            session, approver, case.id, "pass_step"
        )  # last step: decide, not pass
    with pytest.raises(ValidationFailed):
        await service.transition(
            session, approver, case.id, "decide", {"outcome": "deny"}
        )  # a refusal needs reasons
    await service.transition(session, approver, case.id, "decide", {"outcome": "grant"})
    assert case.state == "concluded" and case.outcome == "0"
    with pytest.raises(ValidationFailed):
        await service.transition(
            session, clerk, case.id, "deliver", {"method": "post"}
        )  # tracking number
    await service.transition(
        session, clerk, case.id, "deliver", {"method": "post", "tracking_number": "SF1234567890"}
    )
    assert case.state == "delivered" and case.delivered_at
    trail = (
        (
            await session.execute(
                select(CaseTrail.action).where(CaseTrail.case_id == case.id).order_by(CaseTrail.id)
            )
        )
        .scalars()
        .all()
    )
    assert trail == [
        "submit",
        "request_correction",
        "resubmit",
        "accept",
        "pass_step",
        "suspend",
        "resume",
        "extend",
        "pass_step",
        "decide",
        "deliver",
    ]
    inbox = (
        (
            await session.execute(
                select(Notification.title).where(Notification.account_id == applicant.account_id)
            )
        )
        .scalars()
        .all()
    )
    assert len(inbox) == len(trail) and any("补齐补正" in t for t in inbox)
    with pytest.raises(Conflict):
        await service.transition(session, applicant, case.id, "withdraw", {"reason": "不需要了"})


async def test_same_idempotency_key_returns_the_same_case(session):
    impl, person, applicant, *_ = await _world(session)
    c1, created1 = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="same-key-123",
    )
    c2, created2 = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="same-key-123",
    )
    assert created1 and not created2 and c1.id == c2.id
    c3, _ = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="other-key-123",
    )
    # another number of the region's day (consecutive on SQLite; PostgreSQL's
    # come from the day's lanes in turn: service.case_serial)
    assert c3.number != c1.number and c3.number[:-6] == c1.number[:-6]
    if session.bind.dialect.name == "sqlite":
        assert c3.number[-6:] == f"{int(c1.number[-6:]) + 1:06d}"


async def test_bad_form_is_refused_with_field_errors(session):
    impl, _person, applicant, *_ = await _world(session)
    with pytest.raises(ValidationFailed) as e:
        await service.submit(
            session,
            applicant,
            implementation_id=impl.id,
            form_data={"applicant_name": "张三", "phone": "123"},
            idempotency_key="bad-form-1",
        )
    fields = {d["field"] for d in e.value.details}
    assert {"applicant_id_number", "phone"} <= fields


async def test_refusal_cites_reason_and_rights(session):
    impl, person, applicant, clerk, *_ = await _world(session)
    case, _ = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="refuse-0001",
    )
    with pytest.raises(ValidationFailed):
        await service.transition(session, clerk, case.id, "reject", {})
    await service.transition(
        session, clerk, case.id, "reject", {"reason": "申请事项不属于本机关职权范围"}
    )
    assert (
        case.state == "rejected"
        and case.outcome == "6"
        and lifecycle.RIGHTS_NOTICE in case.outcome_reason
    )


async def test_second_correction_notice_with_new_items_needs_a_supervisor(session):
    impl, person, applicant, clerk, _approver, _head, sup_acc = await _world(session)
    case, _ = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="corr-00001",
    )
    first = [{"kind": "material", "name": "营业执照", "reason": "复印件不清晰"}]
    await service.transition(session, clerk, case.id, "request_correction", {"items": first})
    await service.transition(session, applicant, case.id, "resubmit", {})
    await service.transition(
        session, clerk, case.id, "request_correction", {"items": first}
    )  # same item again: fine
    await service.transition(session, applicant, case.id, "resubmit", {})
    late = [*first, {"kind": "material", "name": "场所平面图", "reason": "缺少"}]
    with pytest.raises(Conflict) as e:
        await service.transition(session, clerk, case.id, "request_correction", {"items": late})
    assert e.value.code == "second_notice_needs_approval" and e.value.details["new_items"] == [
        "场所平面图"
    ]
    await service.transition(
        session, clerk, case.id, "request_correction", {"items": late, "approved_by": sup_acc.id}
    )
    notices = (
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
    assert [n.flagged for n in notices] == [False, False, True] and notices[
        -1
    ].approved_by == sup_acc.id
    with pytest.raises(PermissionDenied):
        await service.transition(session, clerk, case.id, "resubmit", {})  # the applicant's action


async def test_scope_other_department_and_other_applicant_see_nothing(session):
    impl, person, applicant, _clerk, _approver, _head, _ = await _world(session)
    case, _ = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="scope-00001",
    )
    other_dept = await builders.department(session)
    stranger = await actor_for_account(
        session, await builders.staff(session, roles=["approver"], dept=other_dept), via="session"
    )
    _, other_acc = await builders.citizen(session)
    other_person = await actor_for_account(session, other_acc, via="session")
    far_clerk = await actor_for_account(
        session,
        await builders.staff(
            session,
            roles=["clerk"],
            region=builders.QINGDAO_SHINAN,
            dept=await builders.department(session, region=builders.QINGDAO_SHINAN),
        ),
        via="session",
    )
    for who in (stranger, other_person, far_clerk):
        with pytest.raises(NotFound):
            await service.get_case(session, who, case.id)
        with pytest.raises(NotFound):
            await service.transition(session, who, case.id, "accept")


async def test_withdraw_and_void_end_an_open_pause(session):
    impl, person, applicant, clerk, approver, _head, _ = await _world(session)
    case, _ = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="wd-000001",
    )
    await service.transition(session, clerk, case.id, "accept")
    await service.transition(
        session, approver, case.id, "suspend", {"kind": "hearing", "reason": "依申请举行听证"}
    )
    await service.transition(session, applicant, case.id, "withdraw", {"reason": "申请人主动撤回"})
    assert case.state == "withdrawn" and case.outcome == "5"
    open_pauses = (
        await session.execute(
            select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None))
        )
    ).all()
    assert open_pauses == []


async def test_submission_writes_every_row_and_keeps_the_audit_chain(session, monkeypatch):
    """What one submission writes (tuned per database in service._file): the
    number, the case, its materials, the trail, the inbox, two events in order,
    an audit entry on the region's chain — and nothing more for a retry."""
    import itertools

    from tongban.core import audit
    from tongban.core.audit import AuditEntry
    from tongban.core.outbox import OutboxEvent

    # PostgreSQL takes the lanes in turn, process-wide: from lane 0 here, the
    # three numbers are consecutive whatever ran before (lanes 6, 7, 0 give 7, 8, 1)
    monkeypatch.setattr(service, "_lanes", itertools.count())

    impl, person, applicant, clerk, *_ = await _world(session)
    cases = []
    for i in range(3):
        case, created = await service.submit(
            session,
            applicant,
            implementation_id=impl.id,
            form_data=form_for(person),
            idempotency_key=f"rows-{i:06d}",
            materials=[{"name": "申请书", "replaced_by": "commitment"}],
        )
        assert created
        cases.append(case)
    again, created = await service.submit(
        session,
        applicant,
        implementation_id=impl.id,
        form_data=form_for(person),
        idempotency_key="rows-000001",
    )
    assert not created and again.id == cases[1].id
    await session.commit()
    numbers = [c.number for c in cases]
    assert [int(n[-6:]) for n in numbers] == [int(numbers[0][-6:]) + i for i in range(3)]
    for case in cases:
        stored = (
            await session.execute(
                select(Case).where(Case.id == case.id).execution_options(populate_existing=True)
            )
        ).scalar_one()
        assert (
            stored.number,
            stored.state,
            stored.form_data,
            stored.steps,
            stored.accept_due_at,
        ) == (case.number, "submitted", form_for(person), case.steps, case.accept_due_at)
        trail = (
            (await session.execute(select(CaseTrail).where(CaseTrail.case_id == case.id)))
            .scalars()
            .all()
        )
        assert [(t.action, t.from_state, t.to_state, t.actor_ref, t.comment) for t in trail] == [
            ("submit", "", "submitted", applicant.ref, "电脑端")
        ]
        inbox = (
            (await session.execute(select(Notification).where(Notification.case_id == case.id)))
            .scalars()
            .all()
        )
        assert [(n.account_id, n.title, n.body) for n in inbox] == [
            (
                applicant.account_id,
                f"您的申请已提交：{case.item_name}",
                f"办件编号 {case.number}，请留意受理结果。",
            )
        ]
        materials = (
            await session.execute(
                select(CaseMaterial.name, CaseMaterial.replaced_by).where(
                    CaseMaterial.case_id == case.id
                )
            )
        ).all()
        assert [tuple(m) for m in materials] == [("申请书", "commitment")]
    events = (
        await session.execute(
            select(OutboxEvent.name, OutboxEvent.payload).order_by(OutboxEvent.id)
        )
    ).all()
    case_events = [(n, p) for n, p in events if n.startswith("case.")]
    assert case_events == [
        e
        for c in cases
        for e in (
            ("case.submit", {"case_id": c.id, "number": c.number, "state": "submitted"}),
            ("case.notified", {"case_id": c.id, "title": f"您的申请已提交：{c.item_name}"}),
        )
    ]
    await service.transition(session, clerk, cases[0].id, "accept")
    await session.commit()
    entries = (
        await session.execute(
            select(AuditEntry.action, AuditEntry.target_id)
            .where(AuditEntry.target_type == "case")
            .order_by(AuditEntry.id)
        )
    ).all()
    assert [tuple(e) for e in entries] == [("case.submit", str(c.id)) for c in cases] + [
        ("case.accept", str(cases[0].id))
    ]
    report = await audit.verify(session)
    assert report.ok, report.problems


async def test_nothing_certain_to_be_refused_is_offered() -> None:
    """退回上一环节 is not offered at the first step, 延长审批期限 not once the
    legal maximum is used: a button that can only fail is not shown."""
    step = {"name": "承办", "role": "approver"}

    def offered(**kw) -> set[str]:
        base = {"step": step, "is_last_step": False, "applicant": False}
        return {t.action for t in lifecycle.allowed_actions("reviewing", **{**base, **kw})}

    approver = frozenset({"approver"})
    assert "return_step" in offered(roles=approver)
    assert "return_step" not in offered(roles=approver, is_first_step=True)
    assert "pass_step" in offered(roles=approver, is_first_step=True)
    head = frozenset({"dept_admin"})
    assert "extend" in offered(roles=head)
    assert offered(roles=head, can_extend=False) == {"void"}


async def test_an_item_name_of_full_length_still_notifies(session):
    """An item name may take all 200 characters of its column; a notification
    title ("您的申请已受理：" + the name) then does not fit its own 200. It is
    shortened with an ellipsis (PostgreSQL refused the row: the application,
    and later a special procedure, could not be filed at all)."""
    from sqlalchemy import select as _select

    from tongban.cases.models import Notification

    s = session
    long_name = "个体工商户设立登记" + "长" * 191
    assert len(long_name) == 200
    impl, person, applicant, clerk, approver, _head, _sup = await _world(s, long_name)
    case, _ = await service.submit(
        s, applicant, implementation_id=impl.id, form_data=form_for(person),
        idempotency_key="long-name-0001",
    )  # fmt: skip
    await service.transition(s, clerk, case.id, "accept")
    await service.transition(
        s, approver, case.id, "suspend", {"kind": "hearing", "reason": "依申请举行听证"}
    )
    await s.commit()
    titles = (await s.execute(_select(Notification.title))).scalars().all()
    assert len(titles) == 3 and all(len(t) <= 200 for t in titles)
    assert all(t.endswith("…") for t in titles)
    assert titles[0].startswith("您的申请已提交：个体工商户设立登记长")
