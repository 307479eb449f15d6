"""The case lifecycle as one table (STANDARDS §3).

申请 → 受理 / 不予受理 / 补齐补正 → 承办 → 审核 → 批准 (决定: 准予 / 不予) → 办结 →
送达/领证; 撤回; 作废. Every transition the platform performs is a row of
``TRANSITIONS``; ``service.transition`` refuses anything else. Pages and the
API show only the actions ``allowed(case, actor)`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = {
    "submitted": "待受理",
    "correction": "待补齐补正",
    "rejected": "不予受理",
    "reviewing": "审查中",
    "suspended": "特别程序中",
    "concluded": "已办结",
    "delivered": "已送达",
    "withdrawn": "已撤回",
    "voided": "已作废",
}
FINAL_STATES = frozenset({"rejected", "delivered", "withdrawn", "voided"})
OPEN_STATES = frozenset({"submitted", "correction", "reviewing", "suspended"})

CHANNELS = {"pc": "电脑端", "mobile": "移动端", "kiosk": "自助终端", "window": "窗口"}
# Final results, Shandong code set (STANDARDS §3): 0 出证办结, 1 不予许可, 2 作废, 5 退件, 6 不予受理.
OUTCOMES = {
    "0": "准予（出证办结）",
    "1": "不予许可",
    "2": "作废",
    "5": "退件（申请人撤回）",
    "6": "不予受理",
}
DELIVERY_METHODS = {"electronic": "电子送达", "post": "邮寄送达", "window": "窗口领取"}
SPECIAL_PROCEDURES = {  # 特别程序 (Art. 45) — Shandong special nodes and the statute's list
    "hearing": "听证",
    "publicity": "公示",
    "inspection": "现场核查",
    "testing": "检验检测",
    "expert_review": "专家评审",
    "appraisal": "鉴定",
    "quarantine": "检疫",
    "tender": "招标拍卖",
}
RIGHTS_NOTICE = (
    "如对本决定不服，可以自收到本决定之日起六十日内依法申请行政复议，"
    "或者六个月内依法向人民法院提起行政诉讼。"
)
DEFAULT_STEPS = [
    {"name": "承办", "role": "approver"},
    {"name": "审核", "role": "approver"},
    {"name": "批准", "role": "approver"},
]
INSTANT_STEPS = [{"name": "办理", "role": "clerk"}]


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    label: str  # button and trail text
    sources: frozenset[str]
    target: str  # "=" keeps the state (a step moves inside 审查中)
    by: str  # applicant | staff
    roles: frozenset[str] = frozenset()
    needs_reason: bool = False


def _t(
    action: str,
    label: str,
    sources: set[str],
    target: str,
    by: str,
    roles: set[str] = frozenset(),
    reason: bool = False,
) -> Transition:  # type: ignore[assignment]
    return Transition(action, label, frozenset(sources), target, by, frozenset(roles), reason)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("accept", "受理", {"submitted"}, "reviewing", "staff", {"clerk"}),
        _t("reject", "不予受理", {"submitted"}, "rejected", "staff", {"clerk"}, reason=True),
        _t(
            "request_correction",
            "一次性告知补齐补正",
            {"submitted"},
            "correction",
            "staff",
            {"clerk"},
        ),
        _t("resubmit", "补正后重新提交", {"correction"}, "submitted", "applicant"),
        _t("pass_step", "通过", {"reviewing"}, "=", "staff", {"approver", "clerk"}),
        _t("return_step", "退回上一环节", {"reviewing"}, "=", "staff", {"approver"}, reason=True),
        _t("decide", "作出决定", {"reviewing"}, "concluded", "staff", {"approver", "clerk"}),
        _t(
            "suspend",
            "启动特别程序",
            {"reviewing"},
            "suspended",
            "staff",
            {"approver"},
            reason=True,
        ),
        _t("resume", "结束特别程序", {"suspended"}, "reviewing", "staff", {"approver"}),
        _t(
            "extend",
            "延长审批期限",
            {"reviewing", "suspended"},
            "=",
            "staff",
            {"dept_admin"},
            reason=True,
        ),
        _t("deliver", "送达 / 出件", {"concluded"}, "delivered", "staff", {"clerk"}),
        _t(
            "withdraw",
            "撤回申请",
            {"submitted", "correction", "reviewing", "suspended"},
            "withdrawn",
            "applicant",
            reason=True,
        ),
        _t(
            "void",
            "作废",
            {"submitted", "correction", "reviewing", "suspended"},
            "voided",
            "staff",
            {"dept_admin", "platform_admin"},
            reason=True,
        ),
    )
}


def allowed_actions(
    state: str,
    *,
    step: dict | None,
    is_last_step: bool,
    roles: frozenset[str],
    applicant: bool,
    is_first_step: bool = False,
    can_extend: bool = True,
) -> list[Transition]:
    """The transitions this party may take now (the pages show only these):
    none that is certain to be refused — no return from the first step, no
    extension once the legal maximum is used."""
    out = []
    for t in TRANSITIONS.values():
        if state not in t.sources:
            continue
        if (t.action == "return_step" and is_first_step) or (
            t.action == "extend" and not can_extend
        ):
            continue
        if t.by == "applicant":
            if applicant:
                out.append(t)
            continue
        if applicant or not (roles & t.roles):
            continue
        if t.action in ("pass_step", "decide", "return_step") and step is not None:
            step_role = step.get("role") or "approver"
            if step_role not in roles:
                continue
            if t.action == "pass_step" and is_last_step:
                continue
            if t.action == "decide" and not is_last_step:
                continue
        out.append(t)
    return out
