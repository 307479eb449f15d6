"""National exchange record of a case (GB/T 39046 datasets, STANDARDS §3).

Field names follow the standard's Chinese data-element names, grouped by
dataset: 申请, 受理, 办理 (one per step), 特别程序, 办结, 电子监察. Times are
``YYYYMMDDThhmmss`` in the deployment's zone, as the standard writes them.
Step results use the Shandong code set (0 不同意, 1 同意, 2 不受理, 3 不予受理,
4 受理, 5 补齐补正, 6 特别程序(挂起), 7 退回).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import lifecycle
from tongban.cases.models import Case, CasePause, CaseTrail
from tongban.cases.supervision import RULES, SupervisionCard
from tongban.catalogue.models import Implementation
from tongban.core.clock import local
from tongban.regions.models import Department

CHANNEL_CODES = {"pc": "1", "mobile": "2", "kiosk": "3", "window": "4"}  # 申报来源
STEP_RESULT = {
    "accept": "4",
    "reject": "3",
    "request_correction": "5",
    "pass_step": "1",
    "return_step": "7",
    "suspend": "6",
}
UNIT_CODES = {"working_day": "1", "natural_day": "2", "hour": "3"}
PROCEDURE_KIND = "2"  # 除延长审批之外; extensions are "1"


def ts(v: dt.datetime | None) -> str:
    return local(v).strftime("%Y%m%dT%H%M%S") if v else ""


async def record_for(session: AsyncSession, c: Case) -> dict[str, Any]:
    impl = await session.get(Implementation, c.implementation_id)
    dept = await session.get(Department, c.department_id)
    trail = (
        (
            await session.execute(
                select(CaseTrail).where(CaseTrail.case_id == c.id).order_by(CaseTrail.id)
            )
        )
        .scalars()
        .all()
    )
    pauses = (
        (
            await session.execute(
                select(CasePause).where(CasePause.case_id == c.id).order_by(CasePause.id)
            )
        )
        .scalars()
        .all()
    )
    cards = (
        (
            await session.execute(
                select(SupervisionCard)
                .where(SupervisionCard.case_id == c.id)
                .order_by(SupervisionCard.id)
            )
        )
        .scalars()
        .all()
    )
    accept = next((t for t in trail if t.action == "accept"), None)
    steps = [
        {
            "办件编号": c.number,
            "环节名称": t.step_name or lifecycle.TRANSITIONS[t.action].label,
            "业务动作": STEP_RESULT.get(t.action, "9"),
            "环节办理状态": "2",
            "办理人": t.actor_name,
            "办理意见": t.comment,
            "办理时间": ts(t.at),
        }
        for t in trail
        if t.action in STEP_RESULT
    ]
    specials = [
        {
            "办件编号": c.number,
            "特别程序种类": PROCEDURE_KIND,
            "特别程序名称": lifecycle.SPECIAL_PROCEDURES.get(p.kind, p.kind),
            "特别程序开始时间": ts(p.started_at),
            "特别程序理由": p.reason,
            "特别程序结束时间": ts(p.ended_at),
            "特别程序结果": p.result,
        }
        for p in pauses
    ]
    if c.extension_days:
        ext = next((t for t in trail if t.action == "extend"), None)
        specials.append(
            {
                "办件编号": c.number,
                "特别程序种类": "1",
                "特别程序名称": "延长审批",
                "特别程序开始时间": ts(ext.at if ext else None),
                "特别程序理由": ext.comment if ext else "",
                "特别程序结束时间": "",
                "特别程序结果": f"延长{c.extension_days}个工作日",
            }
        )
    return {
        "申请": {
            "办件编号": c.number,
            "事项名称": c.item_name,
            "实施编码": impl.impl_code if impl else "",
            "申请人名称": c.applicant_name,
            "申报来源": CHANNEL_CODES.get(c.channel, "9"),
            "申请时间": ts(c.submitted_at),
        },
        "受理": {
            "办件编号": c.number,
            "受理单位": dept.name if dept else "",
            "受理单位代码": (dept.credit_code or "") if dept else "",
            "受理时间": ts(c.accepted_at),
            "受理文书编号": f"{c.number}-SL" if c.accepted_at else "",
            "承诺办结时间": ts(c.due_at),
            "承诺时限": c.limit_value,
            "承诺时限单位": UNIT_CODES.get(c.limit_unit, ""),
            "受理人": accept.actor_name if accept else "",
        }
        if c.accepted_at
        else None,
        "办理": steps,
        "特别程序": specials,
        "办结": {
            "办件编号": c.number,
            "办结时间": ts(c.concluded_at),
            "办结结果": c.outcome or "",
            "办结结果名称": lifecycle.OUTCOMES.get(c.outcome or "", ""),
            "办结原因": c.outcome_reason,
            "是否快递": "1" if c.delivery_method == "post" else "0",
            "快递单号": c.tracking_number or "",
            "送达时间": ts(c.delivered_at),
        }
        if c.concluded_at
        else None,
        "电子监察": [
            {
                "办件编号": c.number,
                "监察编号": f"JC{card.id:010d}",
                "监察预警类型": {"yellow": "1", "red": "2"}.get(card.colour, "0"),
                "监察规则编号": card.rule,
                "监察规则名称": RULES.get(card.rule, "解除预警"),
                "责任部门": dept.name if dept else "",
                "预警时间": ts(card.at),
            }
            for card in cards
        ],
    }
