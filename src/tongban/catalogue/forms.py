"""Application forms as data (申请表单): JSON Schema + UI hints.

A form definition is ``{"schema": <JSON Schema object>, "ui": {...}}``:

- ``schema``: draft 2020-12, ``type: object``; each property has a ``title``
  (the label) and its constraints (``type``, ``maxLength``, ``pattern``,
  ``enum``, ``format``, ``minimum`` …); ``required`` lists the mandatory ones.
  Formats of our own: ``resident_id`` (GB 11643), ``credit_code`` (GB 32100),
  ``phone`` (mainland mobile), ``date``.
- ``ui.sections``: ``[{"title", "fields": [names]}]`` in display order.
- ``ui.fields[name]``: ``widget`` (text, textarea, select, radio, date,
  checkbox, number), ``help``, ``placeholder``, ``element`` — a canonical
  data element (``DATA_ELEMENTS``) so bundles merge forms and prefill fills
  them —, and ``show_if: {"field", "equals"}`` for a conditional field: when
  the condition does not hold the field is hidden, not required, and dropped.

``validate_submission`` is the one validator: the API, the pages and the
review all call it, so both sides agree (the browser gets the same schema).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from tongban.core.errors import ValidationFailed
from tongban.core.identifiers import InvalidIdentifier, validate_credit_code, validate_resident_id

DATA_ELEMENTS: dict[str, dict[str, Any]] = {
    "person.name": {"title": "姓名", "type": "string", "maxLength": 50},
    "person.id_number": {"title": "公民身份号码", "type": "string", "format": "resident_id"},
    "person.phone": {"title": "手机号码", "type": "string", "format": "phone"},
    "person.birth_date": {"title": "出生日期", "type": "string", "format": "date"},
    "person.gender": {"title": "性别", "type": "string", "enum": ["男", "女"]},
    "person.household_address": {"title": "户籍地址", "type": "string", "maxLength": 200},
    "enterprise.name": {"title": "单位名称", "type": "string", "maxLength": 200},
    "enterprise.credit_code": {
        "title": "统一社会信用代码",
        "type": "string",
        "format": "credit_code",
    },
    "enterprise.legal_rep_name": {"title": "法定代表人", "type": "string", "maxLength": 50},
    "address": {"title": "联系地址", "type": "string", "maxLength": 200},
    "email": {"title": "电子邮箱", "type": "string", "format": "email", "maxLength": 100},
}
WIDGETS = {"text", "textarea", "select", "radio", "date", "checkbox", "number"}
FIELD_TYPES = {"string", "integer", "number", "boolean"}
_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PHONE_RE = re.compile(r"1[3-9]\d{9}")

_formats = FormatChecker()


@_formats.checks("resident_id", raises=InvalidIdentifier)
def _resident_id(value: object) -> bool:
    if isinstance(value, str):
        validate_resident_id(value)
    return True


@_formats.checks("credit_code", raises=InvalidIdentifier)
def _credit_code(value: object) -> bool:
    if isinstance(value, str):
        validate_credit_code(value)
    return True


@_formats.checks("phone")
def _phone(value: object) -> bool:
    return not isinstance(value, str) or bool(_PHONE_RE.fullmatch(value))


_FORMAT_MESSAGES = {
    "resident_id": "公民身份号码不正确",
    "credit_code": "统一社会信用代码不正确",
    "phone": "手机号码应为 11 位数字",
    "date": "日期格式应为 YYYY-MM-DD",
    "email": "电子邮箱格式不正确",
}


def default_form(*, for_enterprise: bool = False) -> dict[str, Any]:
    """The form every implementation starts with: the applicant's identity and contact."""
    props: dict[str, Any] = {
        "applicant_name": {**DATA_ELEMENTS["person.name"], "title": "申请人姓名"},
        "applicant_id_number": {**DATA_ELEMENTS["person.id_number"], "title": "申请人公民身份号码"},
        "phone": {**DATA_ELEMENTS["person.phone"], "title": "联系电话"},
        "address": DATA_ELEMENTS["address"],
        "remark": {"title": "申请说明", "type": "string", "maxLength": 1000},
    }
    ui_fields: dict[str, Any] = {
        "applicant_name": {"widget": "text", "element": "person.name"},
        "applicant_id_number": {"widget": "text", "element": "person.id_number"},
        "phone": {"widget": "text", "element": "person.phone", "help": "用于接收办理进度短信"},
        "address": {"widget": "text", "element": "address"},
        "remark": {"widget": "textarea"},
    }
    sections = [
        {
            "title": "申请人信息",
            "fields": ["applicant_name", "applicant_id_number", "phone", "address"],
        },
        {"title": "其他", "fields": ["remark"]},
    ]
    required = ["applicant_name", "applicant_id_number", "phone"]
    if for_enterprise:
        props["enterprise_name"] = DATA_ELEMENTS["enterprise.name"]
        props["enterprise_credit_code"] = DATA_ELEMENTS["enterprise.credit_code"]
        ui_fields["enterprise_name"] = {"widget": "text", "element": "enterprise.name"}
        ui_fields["enterprise_credit_code"] = {
            "widget": "text",
            "element": "enterprise.credit_code",
        }
        sections.insert(
            0, {"title": "单位信息", "fields": ["enterprise_name", "enterprise_credit_code"]}
        )
        required += ["enterprise_name", "enterprise_credit_code"]
    return {
        "schema": {"type": "object", "properties": props, "required": required},
        "ui": {"sections": sections, "fields": ui_fields},
    }


MAX_FIELDS = 200


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def check_definition(form: Any) -> dict[str, Any]:
    """Validate a form definition; return it normalised or raise ``ValidationFailed``.

    Every problem is reported with the field it concerns (``details``), in
    Chinese; a definition of the wrong shape (lists where objects belong …) is
    reported, never raised as a ``TypeError``.
    """
    problems: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    if not isinstance(form, dict) or not isinstance(form.get("schema"), dict):
        raise ValidationFailed("表单定义应包含 schema（JSON Schema）", code="form_invalid")
    schema = form["schema"]
    ui = form.get("ui") or {}
    if not isinstance(ui, dict):
        raise ValidationFailed("表单定义的 ui 应为对象", code="form_invalid")
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise ValidationFailed(
            "表单 schema 的类型应为 object 且包含 properties", code="form_invalid"
        )
    props: dict[str, Any] = schema["properties"]
    if not props:
        bad("schema.properties", "表单至少需要一个字段")
    if len(props) > MAX_FIELDS:
        bad("schema.properties", f"表单字段过多（{len(props)} 个，最多 {MAX_FIELDS} 个）")
    for name, prop in props.items():
        if not _NAME_RE.fullmatch(name):
            bad(name, "字段名应以小写字母开头，只含小写字母、数字和下划线，最长 40 位")
        if not isinstance(prop, dict) or not str(prop.get("title", "")).strip():
            bad(name, "字段缺少标题（title）")
            continue
        ftype = prop.get("type")
        if not isinstance(ftype, str) or ftype not in FIELD_TYPES:
            bad(name, f"字段类型应为 {'、'.join(sorted(FIELD_TYPES))} 之一")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        bad("required", "必填字段应为字段名列表")
        required = []
    for name in required:
        if name not in props:
            bad(f"required.{name}", f"必填字段 {name} 未定义")
    if not problems:
        # The rest of the schema (maxLength, minimum, enum …) must be valid JSON Schema.
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            path = [str(x) for x in e.path]
            field = path[1] if len(path) > 1 and path[0] == "properties" else "schema"
            key = (
                next((x for x in reversed(path) if not x.isdecimal()), "") if len(path) > 2 else ""
            )
            bad(field, f"约束 {key} 的取值不合法" if key else "表单 schema 不是有效的 JSON Schema")
    ui_fields = ui.get("fields") or {}
    if not isinstance(ui_fields, dict):
        raise ValidationFailed("表单定义的 ui.fields 应为对象", code="form_invalid")
    for name, hints in ui_fields.items():
        if name not in props:
            bad(f"ui.fields.{name}", f"界面提示引用了未定义的字段 {name}")
            continue
        if not isinstance(hints, dict):
            bad(f"ui.fields.{name}", "界面提示应为对象")
            continue
        prop = props[name] if isinstance(props[name], dict) else {}
        widget = hints.get("widget")
        if widget is not None and (not isinstance(widget, str) or widget not in WIDGETS):
            bad(f"ui.fields.{name}.widget", f"控件类型 {widget} 不受支持")
        elif widget in ("select", "radio") and not prop.get("enum"):
            bad(f"ui.fields.{name}.widget", "下拉选择和单选控件需要设置选项")
        elif widget == "checkbox" and prop.get("type") != "boolean":
            bad(f"ui.fields.{name}.widget", "勾选框只能用于“是/否”类型的字段")
        elif widget == "number" and prop.get("type") not in ("integer", "number"):
            bad(f"ui.fields.{name}.widget", "数字输入框只能用于整数或数字类型的字段")
        for key in ("help", "placeholder"):
            if hints.get(key) is not None and not isinstance(hints[key], str):
                bad(f"ui.fields.{name}.{key}", "说明文字应为文本")
        element = hints.get("element")
        if element and (not isinstance(element, str) or element not in DATA_ELEMENTS):
            bad(f"ui.fields.{name}.element", f"数据元 {element} 不在标准数据元清单中")
        cond = hints.get("show_if")
        if cond is not None:
            if (
                not isinstance(cond, dict)
                or not isinstance(cond.get("field"), str)
                or cond["field"] not in props
                or "equals" not in cond
                or not _scalar(cond["equals"])
            ):
                bad(f"ui.fields.{name}.show_if", "显示条件应为 {field, equals}，且引用已定义的字段")
            elif cond["field"] == name:
                bad(f"ui.fields.{name}.show_if", "显示条件不能引用字段自身")
    sections = ui.get("sections") or []
    if not isinstance(sections, list):
        raise ValidationFailed("表单定义的 ui.sections 应为列表", code="form_invalid")
    seen: set[str] = set()
    for i, sec in enumerate(sections):
        if not isinstance(sec, dict) or not str(sec.get("title", "")).strip():
            bad(f"ui.sections.{i}", "分组缺少标题")
            continue
        names = sec.get("fields", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            bad(f"ui.sections.{i}", "分组的字段应为字段名列表")
            continue
        for name in names:
            if name not in props:
                bad(f"ui.sections.{i}", f"分组引用了未定义的字段 {name}")
            if name in seen:
                bad(f"ui.sections.{i}", f"字段 {name} 出现在多个分组中")
            seen.add(name)
    if problems:
        raise ValidationFailed("表单定义有误，请修改后保存", code="form_invalid", details=problems)
    return {"schema": schema, "ui": {"sections": sections, "fields": ui_fields}}


def visible_fields(form: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Field names shown for ``data``.

    A conditional field is hidden when its condition does not hold, or when the
    field its condition reads is itself hidden (chains of conditions).
    """
    props = form["schema"]["properties"]
    hints = form.get("ui", {}).get("fields", {})
    hidden: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name in props:
            if name in hidden:
                continue
            cond = hints.get(name, {}).get("show_if")
            if cond and (cond["field"] in hidden or data.get(cond["field"]) != cond["equals"]):
                hidden.add(name)
                changed = True
    return [n for n in props if n not in hidden]


def ordered_sections(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Sections with every field placed (fields no section names go to a last 其他 section)."""
    props = form["schema"]["properties"]
    sections = [dict(s) for s in form.get("ui", {}).get("sections", [])]
    placed = {n for s in sections for n in s.get("fields", [])}
    rest = [n for n in props if n not in placed]
    if rest:
        sections.append({"title": "其他信息", "fields": rest})
    return sections


def validate_submission(
    form: dict[str, Any], data: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Check applicant data against a form: ``(clean data, errors)``.

    Hidden conditional fields are dropped and not required; unknown fields are
    an error; empty strings count as missing.
    """
    schema = form["schema"]
    props = schema["properties"]
    errors: list[dict[str, str]] = []
    unknown = [k for k in data if k not in props]
    for k in unknown:
        errors.append({"field": k, "message": "表单中没有这个字段"})
    clean = {k: v for k, v in data.items() if k in props and v not in ("", None)}
    visible = set(visible_fields(form, clean))
    clean = {k: v for k, v in clean.items() if k in visible}
    required = [r for r in schema.get("required", []) if r in visible]
    if not unknown:
        check = _compiled(schema)
        if check is not None and check(clean, required):
            return clean, []
    # The errors (or a schema the fast check does not cover): JSON Schema itself.
    effective = {**schema, "required": required}
    validator = Draft202012Validator(effective, format_checker=_formats)
    for err in sorted(validator.iter_errors(clean), key=lambda e: list(e.path)):
        field = ".".join(str(p) for p in err.path)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            prop = props.get(missing, {})
            title = prop.get("title", missing)
            verb = (
                "请勾选"
                if prop.get("type") == "boolean"
                else "请选择"
                if prop.get("enum")
                else "请填写"
            )
            errors.append({"field": missing, "message": f"{verb}{title}"})
            continue
        title = props.get(field, {}).get("title", field)
        errors.append({"field": field, "message": f"{title}：{_message(err)}"})
    return clean, errors


# --- the fast check -------------------------------------------------------------------
#
# Walking a JSON Schema validator costs ~250 µs for an 18-field form (the
# hottest write, bench/run.py submit, validates one per request). A form uses
# few keywords, so each published schema is compiled once into plain checks
# that only ever answer "valid" when JSON Schema would: stricter where in
# doubt (an integer-valued float, an enum of non-strings), and a schema with
# any keyword outside the list below gets no fast check at all. When the fast
# check says no, ``validate_submission`` asks JSON Schema, which gives the
# errors and their messages — so the answer is always JSON Schema's.

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
_FAST_KEYWORDS = _ANNOTATIONS | {
    "type",
    "maxLength",
    "minLength",
    "pattern",
    "enum",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
}
_FAST_TYPES = {
    "string": lambda v: type(v) is str,
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) is int or type(v) is float,
    "boolean": lambda v: type(v) is bool,
}
_Check = Any  # (clean data, required names) -> bool
_COMPILED: dict[bytes, _Check | None] = {}
_COMPILED_MAX = 256


def _field_check(prop: Any) -> Any:
    """One property's keywords as a predicate, or None when any is not covered."""
    if not isinstance(prop, dict) or not set(prop) <= _FAST_KEYWORDS:
        return None
    checks: list[Any] = []
    if "type" in prop:
        is_type = _FAST_TYPES.get(prop["type"]) if isinstance(prop["type"], str) else None
        if is_type is None:
            return None
        checks.append(is_type)
    is_str, is_num = _FAST_TYPES["string"], _FAST_TYPES["number"]
    for key in (
        "maxLength",
        "minLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ):
        bound = prop.get(key)
        if key in prop and (type(bound) not in (int, float)):
            return None
        if bound is None:
            continue
        # each applies to its own kind of value only, as in JSON Schema
        checks.append(
            {
                "maxLength": lambda v, b=bound: not is_str(v) or len(v) <= b,
                "minLength": lambda v, b=bound: not is_str(v) or len(v) >= b,
                "minimum": lambda v, b=bound: not is_num(v) or v >= b,
                "maximum": lambda v, b=bound: not is_num(v) or v <= b,
                "exclusiveMinimum": lambda v, b=bound: not is_num(v) or v > b,
                "exclusiveMaximum": lambda v, b=bound: not is_num(v) or v < b,
            }[key]
        )
    if "pattern" in prop:
        if not isinstance(prop["pattern"], str):
            return None
        rx = re.compile(prop["pattern"])
        checks.append(lambda v: not is_str(v) or rx.search(v) is not None)
    if "enum" in prop:
        if not isinstance(prop["enum"], list):
            return None
        options = frozenset(o for o in prop["enum"] if type(o) is str)
        checks.append(
            lambda v: type(v) is str and v in options
        )  # other values: JSON Schema decides
    if "format" in prop:
        fmt = prop["format"]
        if not isinstance(fmt, str):
            return None
        conforms = _formats.conforms
        checks.append(lambda v: conforms(v, fmt))
    return checks


def _compile(schema: Any) -> Any:
    if (
        not isinstance(schema, dict)
        or schema.get("type") != "object"
        or not set(schema) <= (_ANNOTATIONS | {"type", "properties", "required", "$schema"})
    ):
        return None
    props = schema.get("properties")
    if not isinstance(props, dict):
        return None
    fields: dict[str, list[Any]] = {}
    for name, prop in props.items():
        checks = _field_check(prop)
        if checks is None:
            return None
        fields[name] = checks

    def check(clean: dict[str, Any], required: list[str]) -> bool:
        for name in required:
            if name not in clean:
                return False
        try:
            for name, value in clean.items():
                for ok in fields[name]:
                    if not ok(value):
                        return False
        except Exception:  # a format checker that raised: JSON Schema answers
            return False
        return True

    return check


def _compiled(schema: dict[str, Any]) -> Any:
    """The fast check of a schema (None: not covered), compiled once per
    content (the same published version arrives as the same document)."""
    try:
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    try:
        return _COMPILED[key]
    except KeyError:
        pass
    try:
        got = _compile(schema)
    except re.error:
        got = None
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = got
    return got


def _message(err: Any) -> str:
    v = err.validator
    if v == "format":
        if isinstance(err.cause, InvalidIdentifier):
            return err.cause.message
        return _FORMAT_MESSAGES.get(err.validator_value, "格式不正确")
    if v == "maxLength":
        return f"最多 {err.validator_value} 个字"
    if v == "minLength":
        return f"至少 {err.validator_value} 个字"
    if v == "enum":
        return "请从选项中选择"
    if v == "type":
        return {"integer": "应为整数", "number": "应为数字", "boolean": "应为是或否"}.get(
            err.validator_value, "应为文本"
        )
    if v == "pattern":
        return "格式不正确"
    if v in ("minimum", "exclusiveMinimum"):
        return f"不能小于 {err.validator_value}"
    if v in ("maximum", "exclusiveMaximum"):
        return f"不能大于 {err.validator_value}"
    return "取值无效"


def prefill(form: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Fill fields that name a data element from ``values`` (``{"person.name": …}``)."""
    out: dict[str, Any] = {}
    for name, hints in form.get("ui", {}).get("fields", {}).items():
        element = hints.get("element")
        if element and values.get(element) not in (None, ""):
            out[name] = values[element]
    return out


# --- rendering and HTML input (the Jinja renderer ``catalogue/apply_form_macro.html``) ---

# Elements that come from the applicant's verified identity: shown read-only
# when prefilled, and enforced on submission (实名信息自动带出，不可修改).
LOCKED_ELEMENTS = frozenset(
    {
        "person.name",
        "person.id_number",
        "person.birth_date",
        "person.gender",
        "enterprise.name",
        "enterprise.credit_code",
    }
)
_TRUE = {"1", "true", "on", "yes", "是"}
_FALSE = {"0", "false", "off", "no", "否"}
_INT_RE = re.compile(r"[+-]?\d{1,15}")
_INPUT_TYPES = {
    "phone": ("tel", "numeric"),
    "email": ("email", "email"),
    "resident_id": ("text", "text"),
    "credit_code": ("text", "text"),
}


def widget_of(prop: dict[str, Any], hints: dict[str, Any]) -> str:
    """The control a field is shown with: its hint, else one fitting its type."""
    widget = hints.get("widget")
    if widget in WIDGETS:
        return str(widget)
    if prop.get("type") == "boolean":
        return "checkbox"
    if prop.get("enum"):
        return "select"
    if prop.get("type") in ("integer", "number"):
        return "number"
    if prop.get("format") == "date":
        return "date"
    if int(prop.get("maxLength") or 0) > 200:
        return "textarea"
    return "text"


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def layout(
    form: dict[str, Any],
    values: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    *,
    locked: set[str] | frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Sections with their fields ready to render: label, widget, options,
    value, error, whether required, shown and read-only. ``locked`` names
    fields shown read-only (prefilled from the verified identity)."""
    values = values or {}
    by_field: dict[str, list[str]] = {}
    for e in errors or []:
        by_field.setdefault(e.get("field", ""), []).append(e.get("message", ""))
    props = form["schema"]["properties"]
    required = set(form["schema"].get("required", []))
    hints_all = form.get("ui", {}).get("fields", {})
    visible = set(visible_fields(form, values))
    out = []
    for sec in ordered_sections(form):
        fields = []
        for name in sec.get("fields", []):
            prop = props.get(name)
            if prop is None:
                continue
            hints = hints_all.get(name, {})
            widget = widget_of(prop, hints)
            value = values.get(name)
            input_type, inputmode = _INPUT_TYPES.get(str(prop.get("format", "")), ("text", ""))
            cond = hints.get("show_if")
            fields.append(
                {
                    "name": name,
                    "label": prop.get("title", name),
                    "type": prop.get("type", "string"),
                    "widget": widget,
                    "input_type": input_type,
                    "inputmode": inputmode or ("numeric" if prop.get("type") == "integer" else ""),
                    "required": name in required,
                    "help": hints.get("help", "") or prop.get("description", ""),
                    "placeholder": hints.get("placeholder", ""),
                    "max_length": prop.get("maxLength"),
                    "minimum": prop.get("minimum"),
                    "maximum": prop.get("maximum"),
                    "options": [
                        {"value": _display(o), "label": _display(o)} for o in prop.get("enum", [])
                    ],
                    "value": _display(value),
                    "checked": value is True,
                    "errors": by_field.get(name, []),
                    "element": hints.get("element", ""),
                    "show_if": cond,
                    "visible": name in visible,
                    "readonly": name in locked,
                }
            )
        if fields:
            out.append({"title": sec.get("title", ""), "fields": fields})
    return out


def unplaced_errors(form: dict[str, Any], errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """Errors that belong to no field of the form (unknown fields …), shown above it."""
    props = form["schema"]["properties"]
    return [e for e in errors if e.get("field") not in props]


def from_html(form: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    """Values posted by an HTML form → typed data for ``validate_submission``.

    Integers, numbers and yes/no are converted when they parse; a value that
    does not parse is kept as text, so the validator names the problem.
    Unknown keys are kept too (the validator reports them).
    """
    props = form["schema"]["properties"]
    out: dict[str, Any] = {}
    for name, value in raw.items():
        v = value.strip() if isinstance(value, str) else value
        t = props.get(name, {}).get("type") if name in props else None
        if isinstance(v, str) and v:
            if t == "boolean":
                low = v.lower()
                v = True if low in _TRUE else False if low in _FALSE else v
            elif t == "integer" and _INT_RE.fullmatch(v):
                v = int(v)
            elif t == "number":
                try:
                    num = float(v)
                except ValueError:
                    pass
                else:
                    if num == num and num not in (float("inf"), float("-inf")):
                        v = int(num) if num.is_integer() and _INT_RE.fullmatch(v) else num
        out[name] = v
    return out


def locked_fields(form: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Fields whose data element comes from the verified identity, with the
    identity's value (``values`` as for ``prefill``)."""
    out: dict[str, Any] = {}
    for name, hints in form.get("ui", {}).get("fields", {}).items():
        element = hints.get("element")
        if (
            element in LOCKED_ELEMENTS
            and values.get(element) not in (None, "")
            and name in form["schema"]["properties"]
        ):
            out[name] = values[element]
    return out
