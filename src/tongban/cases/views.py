"""What the case pages show, computed without a database: the deadline clock
(办理时限), progress and next step, the form data as rows, the trail
(服务轨迹) as a timeline, and the material upload slots with their tokens.

Upload tokens: a page upload answers ``<sha256>.<mac>``, the MAC keyed by the
uploader's session CSRF token. A submission names materials only by such
tokens, so a page can attach a file only if this session uploaded it (a
stored file's hash seen elsewhere is not enough).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from tongban.cases import lifecycle
from tongban.cases.models import Case, CaseTrail
from tongban.catalogue import forms
from tongban.core.clock import local
from tongban.core.deadlines import working_days_left
from tongban.core.errors import ValidationFailed
from tongban.core.workdays import UnknownCalendarYear, WorkCalendar
from tongban.identity.access import Actor
from tongban.web.deps import same_token

KIND_LABELS = {"material": "材料", "field": "表单内容"}
COMMITMENT = "commitment"  # 告知承诺: a written commitment replaces the proof
_SHA_RE = re.compile(r"[0-9a-f]{64}")


# --- the deadline clock -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clock:
    label: str  # 受理期限 / 办结期限 / …
    due: dt.datetime | None
    days_left: int | None  # working days; negative once overdue
    status: str  # ok | soon | overdue | paused | done | late | ended | waiting | unknown
    text: str


def clock(
    case: Case, cal: WorkCalendar | None, at: dt.datetime, *, tz: str, yellow_days: int
) -> Clock:
    """The case's clock now: which limit runs, its due day, working days left."""

    def running(label: str, due: dt.datetime | None) -> Clock:
        if due is None:
            return Clock(label, None, None, "waiting", "尚未起算")
        if cal is None:
            return Clock(label, due, None, "unknown", f"{local(due, tz):%Y-%m-%d} 截止")
        try:
            left = working_days_left(at, due, cal, tz=tz)
        except UnknownCalendarYear as exc:
            return Clock(label, due, None, "unknown", exc.message)
        if left < 0:
            return Clock(label, due, left, "overdue", f"已超期 {-left} 个工作日")
        if left == 0:
            return Clock(label, due, 0, "soon", "今天到期")
        return Clock(
            label, due, left, "soon" if left <= yellow_days else "ok", f"剩余 {left} 个工作日"
        )

    if case.state == "submitted":
        return running("受理期限", case.accept_due_at)
    if case.state == "correction":
        return Clock("受理期限", None, None, "waiting", "等待申请人补齐补正")
    if case.state == "reviewing":
        return running("办结期限", case.due_at)
    if case.state == "suspended":
        return Clock("办结期限", None, None, "paused", "特别程序期间暂停计时")
    if case.state in ("concluded", "delivered") and case.concluded_at is not None:
        late = case.due_at is not None and case.concluded_at > case.due_at
        return Clock(
            "办结期限",
            case.due_at,
            None,
            "late" if late else "done",
            "超期办结" if late else "按时办结",
        )
    return Clock("办结期限", None, None, "ended", lifecycle.STATES.get(case.state, case.state))


# --- progress and next step ------------------------------------------------------------------------

STAGES = ("提交申请", "受理", "审查", "办结", "送达")
_STAGE_OF = {
    "submitted": 1,
    "correction": 1,
    "reviewing": 2,
    "suspended": 2,
    "concluded": 3,
    "delivered": 5,
}


def progress(case: Case) -> list[dict[str, Any]]:
    """The five stages, each done / current / todo (a case that ended early stops where it ended)."""
    reached = _STAGE_OF.get(case.state)
    if reached is None:  # rejected, withdrawn, voided
        reached = 1 if case.accepted_at is None else 2
    out = []
    for i, name in enumerate(STAGES):
        label = name
        if i == 2 and case.state in ("reviewing", "suspended") and case.current_step:
            label = f"审查（{case.current_step} {case.step_index + 1}/{len(case.steps)}）"
        status = (
            "done"
            if i < reached
            else "current"
            if i == reached and case.state not in lifecycle.FINAL_STATES
            else "todo"
        )
        out.append({"name": label, "status": status})
    return out


def next_step(case: Case, *, for_applicant: bool) -> str:
    """What happens next, in one sentence."""
    s = case.state
    if s == "submitted":
        return "等待工作人员受理" if for_applicant else "待受理：受理、不予受理或一次性告知补齐补正"
    if s == "correction":
        return "请按一次性告知补齐补正后重新提交" if for_applicant else "等待申请人补齐补正"
    if s == "reviewing":
        return (
            f"审查中（当前环节：{case.current_step}）"
            if for_applicant
            else f"待办理：{case.current_step}"
        )
    if s == "suspended":
        return "特别程序中，期间不计入办理时限"
    if s == "concluded":
        if case.outcome == "0":
            return "已准予，等待送达或领取结果" if for_applicant else "待送达 / 出件"
        return "已作出不予许可决定，请查看理由" if for_applicant else "待送达不予许可决定书"
    if s == "delivered":
        return f"已{lifecycle.DELIVERY_METHODS.get(case.delivery_method or '', '送达')}"
    return lifecycle.STATES.get(s, s)


# --- form data and the trail ---------------------------------------------------------------------------


def form_rows(form: dict[str, Any] | None, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The submitted data by section, labelled as the form labels them; fields the form
    no longer names come last."""
    form = form or forms.default_form()
    out = []
    placed: set[str] = set()
    for sec in forms.layout(form, data):
        rows = []
        for f in sec["fields"]:
            if f["name"] not in data:
                continue
            placed.add(f["name"])
            value = data[f["name"]]
            rows.append(
                {
                    "label": f["label"],
                    "value": "是" if value is True else "否" if value is False else str(value),
                }
            )
        if rows:
            out.append({"title": sec["title"], "rows": rows})
    rest = [{"label": k, "value": str(v)} for k, v in data.items() if k not in placed]
    if rest:
        out.append({"title": "其他", "rows": rest})
    return out


def trail_rows(trail: list[CaseTrail]) -> list[dict[str, Any]]:
    out = []
    for t in trail:
        tr = lifecycle.TRANSITIONS.get(t.action)
        label = tr.label if tr else ("提交申请" if t.action == "submit" else t.action)
        details = []
        data = t.data or {}
        if t.action == "request_correction":
            details = [
                f"{KIND_LABELS.get(i.get('kind'), '')}「{i.get('name')}」：{i.get('reason')}"
                for i in data.get("items", [])
            ]
        elif t.action == "pass_step" and data.get("next_step"):
            details = [f"转入「{data['next_step']}」环节"]
        elif t.action == "suspend" and data.get("kind"):
            details = [f"特别程序：{data['kind']}"]
        elif t.action == "extend" and data.get("days"):
            details = [f"延长 {data['days']} 个工作日"]
        elif t.action == "decide" and data.get("outcome"):
            details = [f"决定：{data['outcome']}"]
        elif t.action == "deliver" and data.get("method"):
            details = [f"送达方式：{data['method']}"]
        elif t.action == "submit" and data.get(
            "authorised_use"
        ):  # 免证办 (licences.reuse.trail_data)
            details = [
                f"用证授权：材料「{u.get('material')}」以电子证照「{u.get('licence_name')}」（编号 {u.get('number')}）替代，免提交"
                if u.get("kind") == "licence"
                else f"共享数据：材料「{u.get('material')}」以{u.get('label') or u.get('element')}替代，免提交"
                for u in data["authorised_use"]
            ]
        out.append(
            {
                "action": t.action,
                "label": label,
                "step": t.step_name,
                "actor": t.actor_name,
                "comment": t.comment,
                "details": details,
                "at": t.at,
                "to_state": lifecycle.STATES.get(t.to_state, t.to_state),
            }
        )
    return out


# --- materials: slots and upload tokens ------------------------------------------------------------------


def material_slots(fields: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The materials an implementation's published guide lists, as upload slots."""
    out = []
    for i, m in enumerate((fields or {}).get("materials") or []):
        if not isinstance(m, dict) or not m.get("name"):
            continue
        out.append(
            {
                "index": i,
                "name": str(m["name"]),
                "required": bool(m.get("required", True)),
                "commitment_allowed": bool(m.get("commitment_allowed")),
                "replaceable": bool(m.get("licence_type_code") or m.get("data_element")),
                "note": str(m.get("note") or ""),
            }
        )
    return out


def _mac(actor: Actor, sha256: str) -> str:
    key = (actor.csrf_token or "").encode()
    return hmac.new(
        key, f"material:{actor.account_id}:{sha256}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def upload_token(actor: Actor, sha256: str) -> str:
    return f"{sha256}.{_mac(actor, sha256)}"


def token_sha(actor: Actor, token: str) -> str:
    """The file a token names, if this session uploaded it."""
    sha, _, mac = token.partition(".")
    if not actor.csrf_token or not _SHA_RE.fullmatch(sha) or not same_token(mac, _mac(actor, sha)):
        raise ValidationFailed(
            "材料上传信息已失效，请重新上传该材料", code="material_token_invalid"
        )
    return sha


def materials_from(
    posted: dict[str, str], names: dict[str, str], actor: Actor
) -> list[dict[str, Any]]:
    """``{slot: token or "commitment"}`` → the ``materials`` a submission names;
    ``names``: each slot's material name."""
    out = []
    for key, value in sorted(posted.items()):
        name = names.get(key)
        if not name or not value:
            raise ValidationFailed("材料信息无效，请重新上传", code="material_invalid")
        if value == COMMITMENT:
            out.append({"name": name, "replaced_by": COMMITMENT})
        else:
            out.append({"name": name, "sha256": token_sha(actor, value)})
    return out


def slot_names(slots: list[dict[str, Any]]) -> dict[str, str]:
    return {str(s["index"]): s["name"] for s in slots}


def posted_materials(form: dict[str, str], prefix: str = "_mat.") -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in form.items() if k.startswith(prefix) and v}
