"""Catalogue checks as pure functions over field documents.

- ``consistency_diffs``: "同标同源 / 四级同" — elements an implementation must
  keep exactly as its base item (name, type, legal basis, conditions,
  materials, statutory limit), and a promised limit longer than the statutory one.
- ``guide_problems``: the guide-quality rules provincial checkers use (STANDARDS §1).
- ``classify_online``: the 全程网办 list — done / can / cannot with a reason.

Pure, so they are table-tested and reused by the publish gate, the reports and
the import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tongban.catalogue.schemas import ItemFields, LocalFields, Material

# The elements that must be the same at every level (label, how to compare).
SAME_FIELDS = {
    "name": "事项名称",
    "item_type": "事项类型",
    "legal_basis": "设定依据",
    "conditions": "受理条件",
    "materials": "申请材料",
    "statutory_limit": "法定办结时限",
}
NON_APPLICATION_TYPES = {"02", "03", "06"}  # 处罚, 强制, 检查: not applied for by people


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # stable: which rule
    field: str
    message: str  # Chinese, names the values
    severity: str = "error"  # error | warning

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


def _norm(text: str) -> str:
    return "".join(text.split())


def _materials_key(materials: list[Material]) -> list[tuple[str, bool]]:
    return [(_norm(m.name), m.required) for m in materials]


def consistency_diffs(base: ItemFields, impl: ItemFields) -> list[Finding]:
    out: list[Finding] = []
    if _norm(base.name) != _norm(impl.name):
        out.append(
            Finding(
                "name_differs",
                "name",
                f"事项名称与基本目录不一致：基本目录为「{base.name}」，实施清单为「{impl.name}」",
            )
        )
    if base.item_type != impl.item_type:
        out.append(
            Finding(
                "type_differs",
                "item_type",
                f"事项类型与基本目录不一致：{base.item_type} ≠ {impl.item_type}",
            )
        )
    b_basis = [(_norm(x.title), _norm(x.article)) for x in base.legal_basis]
    i_basis = [(_norm(x.title), _norm(x.article)) for x in impl.legal_basis]
    if b_basis != i_basis:
        missing = [f"{t}{a}" for t, a in b_basis if (t, a) not in i_basis]
        extra = [f"{t}{a}" for t, a in i_basis if (t, a) not in b_basis]
        detail = (
            "；".join(
                p
                for p in (
                    f"缺少 {'、'.join(missing)}" if missing else "",
                    f"多出 {'、'.join(extra)}" if extra else "",
                )
                if p
            )
            or "顺序不同"
        )
        out.append(Finding("basis_differs", "legal_basis", f"设定依据与基本目录不一致：{detail}"))
    if _norm(base.conditions) != _norm(impl.conditions):
        out.append(Finding("conditions_differ", "conditions", "受理条件与基本目录不一致"))
    bm, im = _materials_key(base.materials), _materials_key(impl.materials)
    if bm != im:
        b_names = {n for n, _ in bm}
        i_names = {n for n, _ in im}
        parts = []
        if b_names - i_names:
            parts.append("缺少 " + "、".join(sorted(b_names - i_names)))
        if i_names - b_names:
            parts.append("增加 " + "、".join(sorted(i_names - b_names)))
        req = [n for (n, r) in im if n in b_names and dict(bm).get(n) != r]
        if req:
            parts.append("是否必备不同：" + "、".join(req))
        out.append(
            Finding(
                "materials_differ",
                "materials",
                "申请材料与基本目录不一致：" + ("；".join(parts) or "顺序不同"),
            )
        )
    if (base.statutory_limit.value, base.statutory_limit.unit) != (
        impl.statutory_limit.value,
        impl.statutory_limit.unit,
    ):
        out.append(
            Finding(
                "statutory_differs",
                "statutory_limit",
                f"法定办结时限与基本目录不一致：{base.statutory_limit.label()} ≠ {impl.statutory_limit.label()}",
            )
        )
    out.extend(f for f in limit_findings(impl) if f.code == "promised_exceeds_statutory")
    return out


def limit_findings(f: ItemFields) -> list[Finding]:
    p, s = f.promised_limit, f.statutory_limit
    if s.value == 0:
        return []
    longer = (
        (p.value > s.value)
        if p.unit == s.unit
        else p.in_hours_upper_bound() > s.in_hours_upper_bound()
    )
    if longer:
        return [
            Finding(
                "promised_exceeds_statutory",
                "promised_limit",
                f"承诺办结时限（{p.label()}）长于法定办结时限（{s.label()}）",
            )
        ]
    return []


def guide_problems(f: ItemFields, local: LocalFields | None = None) -> list[Finding]:
    """The guide-quality rules (STANDARDS §1), most important first."""
    out: list[Finding] = []
    online_forms = {"2", "3"} & set(f.handling_forms)
    if f.online_depth == 4 and f.visits != 0:
        out.append(
            Finding(
                "depth4_visits",
                "visits",
                f"网办深度为Ⅳ级（全程网办），到办事现场次数应为 0，实为 {f.visits} 次",
            )
        )
    if f.visits > 0 and not f.visit_reason.strip():
        out.append(
            Finding(
                "visit_reason_missing",
                "visit_reason",
                f"到办事现场 {f.visits} 次，但未说明必须到现场的原因",
            )
        )
    if f.visits == 0 and f.online_depth < 4 and "4" not in f.handling_forms:
        out.append(
            Finding(
                "zero_visits_no_post",
                "handling_forms",
                "到办事现场次数为 0 但不是全程网办，办理形式中应包含快递申请",
            )
        )
    if f.promised_limit.value == 0 and f.case_type != "1":
        out.append(
            Finding("instant_not_instant_case", "case_type", "承诺时限为即办，办件类型应为即办件")
        )
    if f.case_type == "1" and f.promised_limit.value != 0:
        out.append(
            Finding(
                "instant_case_with_limit",
                "promised_limit",
                f"即办件的承诺时限应为即办，实为 {f.promised_limit.label()}",
                "warning",
            )
        )
    if not f.fee_charged and f.online_payment:
        out.append(Finding("payment_without_fee", "online_payment", "事项不收费，不应支持网上支付"))
    if f.fee_charged and not f.fees:
        out.append(Finding("fee_items_missing", "fees", "事项收费，但未列出收费项目"))
    if f.fee_charged and any(not x.basis.strip() for x in f.fees):
        out.append(Finding("fee_basis_missing", "fees", "收费项目缺少收费依据"))
    out.extend(limit_findings(f))
    if f.online_depth >= 2 and not online_forms:
        out.append(
            Finding(
                "online_depth_without_online_form",
                "handling_forms",
                f"网办深度为{'ⅠⅡⅢⅣ'[f.online_depth - 1]}级，办理形式中应包含网上办理或移动端办理",
            )
        )
    if f.item_type not in ("20", "21") and not f.legal_basis:
        out.append(Finding("legal_basis_missing", "legal_basis", "行政权力事项应列明设定依据"))
    if f.item_type not in NON_APPLICATION_TYPES and not f.conditions.strip():
        out.append(Finding("conditions_missing", "conditions", "未填写受理条件", "warning"))
    if f.case_type == "2" and not f.materials:
        out.append(Finding("materials_missing", "materials", "承诺件未列出申请材料", "warning"))
    if not (f.consult_phone.strip() or (local and local.phone.strip())):
        out.append(Finding("consult_phone_missing", "consult_phone", "未填写咨询电话", "warning"))
    if not f.supervise_phone.strip():
        out.append(
            Finding("supervise_phone_missing", "supervise_phone", "未填写监督投诉电话", "warning")
        )
    if local is not None and f.visits > 0 and not (local.address.strip() and local.hours.strip()):
        out.append(
            Finding("place_missing", "address", "需要到现场办理，但未填写办理地点或办理时间")
        )
    if f.result.kind == "licence" and not f.result.licence_type_code:
        out.append(
            Finding("licence_type_missing", "result", "结果为证照，但未指定证照类型", "warning")
        )
    return out


def classify_online(f: ItemFields) -> tuple[str, str]:
    """全程网办 classification: ``(done | can | cannot, reason in Chinese)``."""
    online_forms = {"2", "3"} & set(f.handling_forms)
    if f.item_type in NON_APPLICATION_TYPES:
        return "cannot", "该类事项由行政机关依职权实施，不由申请人申请"
    if f.online_depth == 4 and f.visits == 0 and online_forms:
        return "done", "网办深度Ⅳ级，零跑动，支持网上申办"
    paper = [m.name for m in f.materials if m.required and m.kind == "paper" and not m.replaceable]
    if f.visits > 0 and f.visit_reason.strip():
        return "cannot", f"须到现场：{f.visit_reason.strip()}"
    if paper:
        return "cannot", "以下必备材料只能提交纸质原件：" + "、".join(paper)
    missing = []
    if not online_forms:
        missing.append("开通网上申办")
    if f.visits > 0:
        missing.append(f"取消到现场（现为 {f.visits} 次，且未说明必须到现场的原因）")
    if f.online_depth < 4:
        missing.append("网办深度提升至Ⅳ级")
    return "can", "具备条件，尚需" + "、".join(missing)


def summarise(findings: list[Finding]) -> dict[str, Any]:
    return {
        "errors": sum(1 for x in findings if x.severity == "error"),
        "warnings": sum(1 for x in findings if x.severity == "warning"),
    }
