"""The administrators' HTML forms as data: item fields, local fields and the
form editor's rows, to and from the documents the service keeps.

Pure functions, no session: the pages post every input of a form (including
"add a row" and "move up" clicks), these turn the posted pairs into a
document, apply the row operation and hand back what to render again. The
service validates (``parse_fields``, ``forms.check_definition``); errors come
back keyed by the same dotted paths the inputs are named with
(``materials.0.name``), so each shows beside its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tongban.catalogue import codes, forms
from tongban.catalogue.schemas import ItemFields, LocalFields

# --- labels (the diff view, error summaries, the version pages) -------------------------------------

FIELD_LABELS: dict[str, str] = {
    "name": "事项名称",
    "item_type": "事项类型",
    "legal_basis": "设定依据",
    "levels": "行使层级",
    "service_objects": "服务对象",
    "summary": "事项简介",
    "conditions": "受理条件",
    "materials": "申请材料",
    "statutory_limit": "法定办结时限",
    "promised_limit": "承诺办结时限",
    "fee_charged": "是否收费",
    "fees": "收费项目",
    "case_type": "办件类型",
    "handling_forms": "办理形式",
    "visits": "到办事现场次数",
    "visit_reason": "必须到现场原因",
    "online_depth": "网办深度",
    "online_url": "网办地址",
    "online_payment": "网上支付",
    "appointment": "预约办理",
    "express": "物流快递",
    "tongban_scope": "通办范围",
    "special_procedures": "特别程序",
    "steps": "办理流程",
    "result": "办理结果",
    "quantity_limit": "数量限制",
    "intermediary": "中介服务",
    "joint_departments": "共同实施部门",
    "consult_phone": "咨询电话",
    "supervise_phone": "监督投诉电话",
    "themes": "主题分类",
    "keywords": "搜索关键词",
}
LOCAL_LABELS: dict[str, str] = {
    "address": "办理地点",
    "hours": "办理时间",
    "window": "办理窗口",
    "phone": "本地咨询电话",
    "fee_note": "本地收费说明",
    "traffic": "交通指引",
}
SUB_LABELS: dict[str, str] = {
    "title": "名称",
    "article": "条款",
    "text": "条文内容",
    "name": "名称",
    "issuer": "出具机构",
    "originals": "原件份数",
    "copies": "复印件份数",
    "required": "是否必备",
    "kind": "材料形式",
    "licence_type_code": "电子证照类型",
    "data_element": "共享数据",
    "commitment_allowed": "可告知承诺",
    "note": "备注",
    "standard": "收费标准",
    "basis": "收费依据",
    "value": "时限",
    "unit": "单位",
    "actor": "办理人",
    "role": "审批角色",
    "limit": "时限",
    "description": "说明",
}
MATERIAL_KINDS = {"both": "纸质或电子", "paper": "纸质", "electronic": "电子"}
STEP_ROLES = {"": "（不指定）", "clerk": "综合窗口", "approver": "审批人员"}

ROW_LISTS = ("legal_basis", "materials", "fees", "special_procedures", "steps")
ROW_DEFAULTS: dict[str, dict[str, Any]] = {
    "legal_basis": {"title": "", "article": "", "text": ""},
    "materials": {
        "name": "",
        "issuer": "",
        "originals": 1,
        "copies": 0,
        "required": True,
        "kind": "both",
    },
    "fees": {"name": "", "standard": "", "basis": ""},
    "special_procedures": {"kind": "2", "name": ""},
    "steps": {"name": "", "actor": "", "role": ""},
}
MULTI_KEYS = ("levels", "service_objects", "handling_forms", "themes")
BOOL_KEYS = ("fee_charged", "online_payment", "appointment", "express")
ROW_BOOLS = {"materials": ("required", "commitment_allowed")}
ROW_OPTIONAL = {"materials": ("licence_type_code", "data_element", "form_file", "sample_file")}
MAX_ROWS = 200
_SPLIT_RE = re.compile(r"[\s,，、;；]+")
_LINES_RE = re.compile(r"[\n\r、,，;；]+")


def label_of(path: str) -> str:
    """``materials.2.name`` → 申请材料第 3 项·名称 (for error summaries)."""
    parts = path.split(".") if path else []
    if not parts:
        return ""
    if parts[0] == "local" and len(parts) > 1:
        return LOCAL_LABELS.get(parts[1], parts[1])
    out = FIELD_LABELS.get(parts[0], parts[0])
    for p in parts[1:]:
        out += f"第 {int(p) + 1} 项" if p.isdecimal() else "·" + SUB_LABELS.get(p, p)
    return out


# --- posted pairs → documents ---------------------------------------------------------------------


def unflatten(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``[("materials.0.name", "x")]`` → ``{"materials": [{"name": "x"}]}``
    (numeric keys become lists in index order, gaps closed)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        if any(not p for p in parts):
            continue
        node = root
        ok = True
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                ok = False
                break
            node = nxt
        if ok and not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value

    def fix(n: Any) -> Any:
        if isinstance(n, dict):
            if n and all(k.isdecimal() and len(k) < 6 for k in n):
                return [fix(n[k]) for k in sorted(n, key=int)][:MAX_ROWS]
            return {k: fix(v) for k, v in n.items()}
        return n

    return fix(root)


def _pairs(form: Any) -> list[tuple[str, str]]:
    """A Starlette ``FormData`` (or a dict, or pairs) as string pairs, files left out."""
    if hasattr(form, "multi_items"):
        items = form.multi_items()
    elif isinstance(form, dict):
        items = list(form.items())
    else:
        items = list(form)
    return [(k, v) for k, v in items if isinstance(v, str)]


def _split(text: Any, pattern: re.Pattern[str]) -> list[str]:
    if isinstance(text, list):
        return [str(t).strip() for t in text if str(t).strip()]
    return [t.strip() for t in pattern.split(str(text or "")) if t.strip()]


def _blank(
    row: Any,
    keep: tuple[str, ...] = (
        "required",
        "kind",
        "unit",
        "commitment_allowed",
        "originals",
        "copies",
        "role",
    ),
) -> bool:
    if isinstance(row, dict):
        return all(_blank(v) for k, v in row.items() if k not in keep)
    if isinstance(row, list):
        return all(_blank(v) for v in row)
    return row in ("", None, False)


def item_doc_from_form(form: Any, *, drop_blank_rows: bool = False) -> dict[str, Any]:
    """The posted item form → an ``ItemFields``-shaped document (not yet validated)."""
    pairs = _pairs(form)
    multi: dict[str, list[str]] = {k: [] for k in MULTI_KEYS}
    single: list[tuple[str, str]] = []
    for k, v in pairs:
        if k in multi:
            multi[k].append(v)
        elif k.split(".", 1)[0] in ItemFields.model_fields:
            single.append((k, v))
    doc = unflatten(single)
    for k, values in multi.items():
        doc[k] = list(dict.fromkeys(values))
    for k in BOOL_KEYS:
        doc[k] = doc.get(k) in ("1", "on", "true", True)
    doc["keywords"] = _split(doc.get("keywords", ""), _SPLIT_RE)
    doc["joint_departments"] = _split(doc.get("joint_departments", ""), _LINES_RE)
    for key in ROW_LISTS:
        rows = doc.get(key)
        rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
        for r in rows:
            for b in ROW_BOOLS.get(key, ()):
                r[b] = r.get(b) in ("1", "on", "true", True)
            for o in ROW_OPTIONAL.get(key, ()):
                if r.get(o) in ("", None):
                    r[o] = None
            if "limit" in r and (
                not isinstance(r["limit"], dict) or str(r["limit"].get("value", "")).strip() == ""
            ):
                r["limit"] = None
        if drop_blank_rows:
            rows = [r for r in rows if not _blank(r)]
        doc[key] = rows
    result = doc.get("result")
    if isinstance(result, dict):
        for o in ("licence_type_code", "sample_file"):
            if result.get(o) in ("", None):
                result[o] = None
    return doc


def local_doc_from_form(form: Any) -> dict[str, Any]:
    doc = unflatten([(k, v) for k, v in _pairs(form) if k.startswith("local.")])
    local = doc.get("local", {})
    return (
        {k: v for k, v in local.items() if k in LocalFields.model_fields}
        if isinstance(local, dict)
        else {}
    )


def apply_row_op(doc: dict[str, Any], op: str) -> bool:
    """``add:materials``, ``remove:materials:2``, ``up:steps:1``, ``down:fees:0``
    on the document's rows; ``False`` for an operation that is not one."""
    parts = op.split(":")
    if len(parts) < 2 or parts[1] not in ROW_LISTS:
        return False
    rows = doc.setdefault(parts[1], [])
    if parts[0] == "add" and len(parts) == 2:
        if len(rows) < MAX_ROWS:
            rows.append(dict(ROW_DEFAULTS[parts[1]]))
        return True
    if len(parts) != 3 or not parts[2].isdecimal():
        return False
    i = int(parts[2])
    if not 0 <= i < len(rows):
        return True
    if parts[0] == "remove":
        rows.pop(i)
    elif parts[0] == "up" and i > 0:
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif parts[0] == "down" and i < len(rows) - 1:
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    else:
        return parts[0] in ("up", "down")
    return True


def errors_by_field(details: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in details or []:
        if isinstance(d, dict):
            out.setdefault(str(d.get("field", "")), []).append(str(d.get("message", "")))
    return out


# --- readable values (version pages and the diff) -----------------------------------------------------


def _limit(v: Any) -> str:
    if not isinstance(v, dict):
        return "—"
    value, unit = v.get("value"), v.get("unit", "working_day")
    text = "即办" if value == 0 else f"{value}{codes.LIMIT_UNITS.get(unit, unit)}"
    return text + (f"（{v['note']}）" if v.get("note") else "")


def _codes(values: Any, table: dict[Any, str]) -> str:
    return "、".join(table.get(v, str(v)) for v in values or []) or "—"


def describe(key: str, value: Any, *, themes: dict[str, str] | None = None) -> list[str]:
    """One field's value as lines of readable Chinese (code labels, not codes)."""
    if key == "item_type":
        return [f"{value} {codes.item_type_label(str(value))}"]
    if key == "levels":
        return [_codes(value, codes.EXERCISE_LEVELS)]
    if key == "service_objects":
        return [_codes(value, codes.SERVICE_OBJECTS)]
    if key == "handling_forms":
        return [_codes(value, codes.HANDLING_FORMS)]
    if key == "case_type":
        return [codes.CASE_TYPES.get(value, str(value))]
    if key == "online_depth":
        return [codes.ONLINE_DEPTHS.get(value, str(value))]
    if key == "tongban_scope":
        return [codes.TONGBAN_SCOPES.get(value, str(value))]
    if key in ("statutory_limit", "promised_limit"):
        return [_limit(value)]
    if key == "themes":
        return ["、".join((themes or {}).get(t, t) for t in value or []) or "—"]
    if isinstance(value, bool):
        return ["是" if value else "否"]
    if key == "legal_basis":
        return [f"{b.get('title', '')}{b.get('article', '')}" for b in value or []] or ["—"]
    if key == "materials":
        lines = []
        for m in value or []:
            extra = [
                f"原件{m.get('originals', 0)}份" if m.get("originals") else "",
                f"复印件{m.get('copies', 0)}份" if m.get("copies") else "",
                "必备" if m.get("required") else "非必备",
                MATERIAL_KINDS.get(m.get("kind", ""), ""),
                f"可由电子证照 {m['licence_type_code']} 替代" if m.get("licence_type_code") else "",
                f"可由共享数据 {m['data_element']} 替代" if m.get("data_element") else "",
                "可告知承诺" if m.get("commitment_allowed") else "",
            ]
            issuer = f"（{m['issuer']}）" if m.get("issuer") else ""
            lines.append(f"{m.get('name', '')}{issuer}：" + "，".join(x for x in extra if x))
        return lines or ["—"]
    if key == "fees":
        return [
            f"{f.get('name', '')}：{f.get('standard', '')}（依据：{f.get('basis', '') or '未填'}）"
            for f in value or []
        ] or ["—"]
    if key == "special_procedures":
        return [
            f"{codes.SPECIAL_PROCEDURE_KINDS.get(p.get('kind', ''), '')}·{p.get('name', '')}"
            + (f"，{_limit(p['limit'])}" if p.get("limit") else "")
            for p in value or []
        ] or ["—"]
    if key == "steps":
        return [
            f"{i + 1}. {s.get('name', '')}"
            + (f"（{s['actor']}）" if s.get("actor") else "")
            + (f"，{_limit(s['limit'])}" if s.get("limit") else "")
            + (f"：{s['description']}" if s.get("description") else "")
            for i, s in enumerate(value or [])
        ] or ["—"]
    if key == "result":
        if not isinstance(value, dict):
            return ["—"]
        kind = codes.RESULT_KINDS.get(value.get("kind", ""), "")
        code = (
            f"（证照类型 {value['licence_type_code']}）" if value.get("licence_type_code") else ""
        )
        return [f"{kind}：{value.get('name', '') or '—'}{code}"]
    if isinstance(value, list):
        return ["、".join(str(v) for v in value) or "—"]
    if value in ("", None):
        return ["—"]
    return str(value).splitlines() or ["—"]


def diff_rows(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    labels: dict[str, str],
    *,
    prefix: str = "",
    themes: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every field of two documents side by side, ``changed`` marking the differences."""
    rows = []
    keys = list(labels) + [k for k in new if k not in labels]
    for key in keys:
        a = (old or {}).get(key)
        b = new.get(key)
        old_lines = describe(key, a, themes=themes) if old is not None else []
        new_lines = describe(key, b, themes=themes)
        changed = old is not None and a != b
        rows.append(
            {
                "key": prefix + key,
                "label": labels.get(key, key),
                "old": old_lines,
                "new": new_lines,
                "changed": changed,
                # per line: removed from / added to the other version (a line-level view of lists)
                "old_marks": [changed and line not in new_lines for line in old_lines],
                "new_marks": [changed and line not in old_lines for line in new_lines],
            }
        )
    return rows


# --- the form editor ---------------------------------------------------------------------------

FIELD_TYPE_LABELS = {"string": "文本", "integer": "整数", "number": "数字", "boolean": "是/否"}
WIDGET_LABELS = {
    "": "自动",
    "text": "单行文本",
    "textarea": "多行文本",
    "select": "下拉选择",
    "radio": "单选按钮",
    "date": "日期",
    "checkbox": "勾选框",
    "number": "数字",
}
FORMAT_LABELS = {
    "": "不限",
    "resident_id": "公民身份号码",
    "credit_code": "统一社会信用代码",
    "phone": "手机号码",
    "date": "日期",
    "email": "电子邮箱",
}
EDITOR_KEYS = (
    "name",
    "label",
    "type",
    "widget",
    "format",
    "required",
    "max_length",
    "minimum",
    "maximum",
    "options",
    "help",
    "placeholder",
    "element",
    "show_if_field",
    "show_if_equals",
    "section",
)
_NUM_RE = re.compile(r"[+-]?\d{1,15}(\.\d{1,6})?")


def _equals_text(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)


def editor_from_definition(
    form: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A stored definition → (field rows, sections) for the editor."""
    props = form["schema"]["properties"]
    required = set(form["schema"].get("required", []))
    hints_all = form.get("ui", {}).get("fields", {})
    sections = [{"title": s.get("title", "")} for s in form.get("ui", {}).get("sections", [])]
    placement: dict[str, int] = {}
    for j, s in enumerate(form.get("ui", {}).get("sections", [])):
        for n in s.get("fields", []):
            placement.setdefault(n, j)
    order = [
        n for s in form.get("ui", {}).get("sections", []) for n in s.get("fields", []) if n in props
    ]
    order = list(dict.fromkeys(order)) + [n for n in props if n not in placement]
    if any(n not in placement for n in props):
        sections.append({"title": "其他信息"})
    rows = []
    for name in order:
        p, h = props[name], hints_all.get(name, {})
        cond = h.get("show_if") or {}
        rows.append(
            {
                "name": name,
                "label": p.get("title", ""),
                "type": p.get("type", "string"),
                "widget": h.get("widget", ""),
                "format": p.get("format", ""),
                "required": name in required,
                "max_length": "" if p.get("maxLength") is None else str(p["maxLength"]),
                "minimum": "" if p.get("minimum") is None else str(p["minimum"]),
                "maximum": "" if p.get("maximum") is None else str(p["maximum"]),
                "options": "\n".join(str(o) for o in p.get("enum", [])),
                "help": h.get("help", ""),
                "placeholder": h.get("placeholder", ""),
                "element": h.get("element", ""),
                "show_if_field": cond.get("field", ""),
                "show_if_equals": _equals_text(cond.get("equals")) if cond else "",
                "section": str(placement.get(name, len(sections) - 1)),
            }
        )
    return rows, sections


def editor_from_form(form: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The posted editor → (field rows, sections), in the posted order."""
    doc = unflatten([(k, v) for k, v in _pairs(form) if k.startswith(("f.", "s."))])
    raw_rows = doc.get("f") if isinstance(doc.get("f"), list) else []
    raw_secs = doc.get("s") if isinstance(doc.get("s"), list) else []
    rows = []
    for r in raw_rows[: forms.MAX_FIELDS + 1]:
        if not isinstance(r, dict):
            continue
        row = {
            k: str(r.get(k, "")).strip() if k != "options" else str(r.get(k, ""))
            for k in EDITOR_KEYS
        }
        row["required"] = r.get("required") in ("1", "on", "true")
        rows.append(row)
    sections = [
        {"title": str(s.get("title", "")).strip()} for s in raw_secs if isinstance(s, dict)
    ][:50]
    return rows, sections


def _new_name(rows: list[dict[str, Any]]) -> str:
    names = {r["name"] for r in rows}
    n = len(rows) + 1
    while f"field_{n}" in names:
        n += 1
    return f"field_{n}"


def apply_editor_op(rows: list[dict[str, Any]], sections: list[dict[str, Any]], op: str) -> bool:
    """The editor's buttons: add/remove/move fields and sections, fill from a data element."""
    parts = op.split(":")
    verb = parts[0]
    idx = int(parts[1]) if len(parts) == 2 and parts[1].isdecimal() else None
    if verb == "add_field":
        if len(rows) < forms.MAX_FIELDS:
            rows.append(
                {k: "" for k in EDITOR_KEYS}
                | {
                    "name": _new_name(rows),
                    "type": "string",
                    "required": False,
                    "section": str(max(len(sections) - 1, 0)),
                }
            )
        return True
    if verb == "add_section":
        sections.append({"title": f"第 {len(sections) + 1} 部分"})
        return True
    if idx is None:
        return False
    if verb in ("remove", "up", "down", "element") and not 0 <= idx < len(rows):
        return True
    if verb == "remove":
        rows.pop(idx)
    elif verb == "up" and idx > 0:
        rows[idx - 1], rows[idx] = rows[idx], rows[idx - 1]
    elif verb == "down" and idx < len(rows) - 1:
        rows[idx + 1], rows[idx] = rows[idx], rows[idx + 1]
    elif verb == "element":
        fill_from_element(rows[idx])
    elif verb in ("remove_section", "section_up", "section_down"):
        if not 0 <= idx < len(sections):
            return True
        if verb == "remove_section":
            sections.pop(idx)
            for r in rows:
                j = int(r["section"]) if r["section"].isdecimal() else 0
                r["section"] = str(max(j - 1, 0) if j >= idx else j)
        else:
            other = idx - 1 if verb == "section_up" else idx + 1
            if 0 <= other < len(sections):
                sections[idx], sections[other] = sections[other], sections[idx]
                for r in rows:
                    if r["section"] == str(idx):
                        r["section"] = str(other)
                    elif r["section"] == str(other):
                        r["section"] = str(idx)
    elif verb not in ("up", "down"):
        return False
    return True


def fill_from_element(row: dict[str, Any]) -> None:
    """Choosing a data element fills the field's type, format, options and label."""
    el = forms.DATA_ELEMENTS.get(row.get("element", ""))
    if not el:
        return
    row["type"] = el.get("type", "string")
    row["format"] = el.get("format", "")
    if el.get("enum"):
        row["options"] = "\n".join(el["enum"])
    if el.get("maxLength") and not row.get("max_length"):
        row["max_length"] = str(el["maxLength"])
    if not row.get("label"):
        row["label"] = el["title"]


def _typed_equals(text: str, ftype: str) -> Any:
    if ftype == "boolean":
        low = text.lower()
        if low in ("是", "true", "1", "yes", "on"):
            return True
        if low in ("否", "false", "0", "no", "off"):
            return False
        return text
    if ftype == "integer" and re.fullmatch(r"[+-]?\d{1,15}", text):
        return int(text)
    if ftype == "number" and _NUM_RE.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def definition_from_editor(
    rows: list[dict[str, Any]], sections: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[int, list[str]], dict[int, list[str]]]:
    """Editor rows → a form definition, with the problems found per row and per
    section before ``forms.check_definition`` looks at it (duplicate names,
    numbers that are not numbers …)."""
    row_errors: dict[int, list[str]] = {}
    sec_errors: dict[int, list[str]] = {}
    props: dict[str, Any] = {}
    hints_all: dict[str, Any] = {}
    required: list[str] = []
    placed: dict[int, list[str]] = {j: [] for j in range(len(sections))}
    types = {r["name"]: r.get("type") or "string" for r in rows}
    seen: set[str] = set()
    for i, r in enumerate(rows):
        errs = row_errors.setdefault(i, [])
        name = r["name"]
        if not name:
            errs.append("请填写字段名")
            continue
        if name in seen:
            errs.append(f"字段名 {name} 重复")
            continue
        seen.add(name)
        ftype = r.get("type") or "string"
        prop: dict[str, Any] = {"title": r.get("label", ""), "type": ftype}
        element = r.get("element", "")
        el = forms.DATA_ELEMENTS.get(element, {})
        if ftype == "string":
            fmt = r.get("format") or (el.get("format", "") if el.get("type") == "string" else "")
            if fmt:
                if fmt not in FORMAT_LABELS:
                    errs.append("格式要求无效")
                else:
                    prop["format"] = fmt
            if r.get("max_length"):
                if r["max_length"].isdecimal() and 1 <= int(r["max_length"]) <= 10000:
                    prop["maxLength"] = int(r["max_length"])
                else:
                    errs.append("最大长度应为 1–10000 的整数")
            options = [o.strip() for o in str(r.get("options", "")).splitlines() if o.strip()]
            if options:
                if len(set(options)) != len(options):
                    errs.append("选项不能重复")
                prop["enum"] = list(dict.fromkeys(options))
        if ftype in ("integer", "number"):
            for key, schema_key in (("minimum", "minimum"), ("maximum", "maximum")):
                text = r.get(key, "")
                if text:
                    if _NUM_RE.fullmatch(text) and (ftype == "number" or "." not in text):
                        prop[schema_key] = float(text) if "." in text else int(text)
                    else:
                        errs.append(
                            f"{'最小值' if key == 'minimum' else '最大值'}应为{'整数' if ftype == 'integer' else '数字'}"
                        )
        props[name] = prop
        if r.get("required"):
            required.append(name)
        hints: dict[str, Any] = {}
        for key in ("widget", "help", "placeholder", "element"):
            if r.get(key):
                hints[key] = r[key]
        if r.get("show_if_field"):
            hints["show_if"] = {
                "field": r["show_if_field"],
                "equals": _typed_equals(
                    r.get("show_if_equals", ""), types.get(r["show_if_field"], "string")
                ),
            }
        if hints:
            hints_all[name] = hints
        j = int(r["section"]) if str(r.get("section", "")).isdecimal() else -1
        if j in placed:
            placed[j].append(name)
    for j, s in enumerate(sections):
        if not s.get("title"):
            sec_errors.setdefault(j, []).append("请填写分组标题")
    ui_sections = [
        {"title": s.get("title", ""), "fields": placed[j]} for j, s in enumerate(sections)
    ]
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    definition = {"schema": schema, "ui": {"sections": ui_sections, "fields": hints_all}}
    return definition, {i: e for i, e in row_errors.items() if e}, sec_errors


def map_definition_errors(
    details: Any, rows: list[dict[str, Any]]
) -> tuple[dict[int, list[str]], dict[int, list[str]], list[str]]:
    """``forms.check_definition`` details → errors per row, per section, and the rest."""
    index = {r["name"]: i for i, r in enumerate(rows)}
    by_row: dict[int, list[str]] = {}
    by_sec: dict[int, list[str]] = {}
    general: list[str] = []
    for d in details or []:
        field, msg = str(d.get("field", "")), str(d.get("message", ""))
        parts = field.split(".")
        name = None
        if field in index:
            name = field
        elif parts[0] == "required" and len(parts) > 1:
            name = parts[1]
        elif parts[:2] == ["ui", "fields"] and len(parts) > 2:
            name = parts[2]
        elif parts[:2] == ["ui", "sections"] and len(parts) > 2 and parts[2].isdecimal():
            by_sec.setdefault(int(parts[2]), []).append(msg)
            continue
        if name is not None and name in index:
            by_row.setdefault(index[name], []).append(msg)
        else:
            general.append(msg)
    return by_row, by_sec, general
