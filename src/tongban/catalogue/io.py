"""Catalogue import and export (事项导入导出) in the spreadsheets administrators use.

Two layouts (docs/catalogue-template.md):

- ``template`` — the documented template: a sheet (or CSV file) 基本目录, one
  base item per row, and a sheet 实施清单, one implementation entry per row;
  Chinese headers (``ITEM_COLUMNS`` …); list fields one entry per line within
  the cell, its parts separated by ``|``. In 实施清单 a blank element cell
  means "as the base item", ``（空）`` an element deliberately left empty.
  Export writes the same template, so export → import reproduces the documents.
- ``sichuan-list`` — the public item list of 四川政务服务网 (columns department,
  main_item, name, itemCode, areaCode, taskType, deptCode, link): names,
  departments and codes only. Every other element gets a default, reported as
  要素待补充; the guide-quality report then shows what is still missing.

An import reads every row and checks everything — cells, codes, duplicates,
references, departments, permissions — before it writes anything; any error
stops it with every error listed (sheet, row, column): ``ImportInvalid``. Then
it writes in the caller's transaction: new items and entries in batches,
changed ones through the service functions (a new draft, then publish),
unchanged ones not at all, so re-importing a file changes nothing. One audit
entry records the import; each entity created gets an ``import`` change-log row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import checks, codes, forms, service
from tongban.catalogue.models import (
    NATIONAL,
    CatalogueChange,
    CatalogueItem,
    Implementation,
    ImplementationTheme,
    ImplementationVersion,
    ItemVersion,
    Theme,
)
from tongban.catalogue.schemas import ItemFields, LocalFields, dump
from tongban.core import audit, scope
from tongban.core.clock import now
from tongban.core.errors import AppError, ValidationFailed, field_errors
from tongban.core.identifiers import InvalidIdentifier, validate_credit_code
from tongban.core.outbox import OutboxDelivery, OutboxEvent, handlers_for
from tongban.core.settings import get_settings
from tongban.identity.access import Actor
from tongban.regions.models import Department, Region

BASE_SHEET, IMPL_SHEET, HELP_SHEET = "基本目录", "实施清单", "填写说明"
EMPTY = "（空）"  # in 实施清单: this element is deliberately empty (blank = as the base item)
LAYOUTS = ("auto", "template", "sichuan-list")
BATCH = 500
MAX_LISTED = 500  # issues listed in a report; the counts are always complete
Progress = Callable[[int, int], None]


class CellError(ValueError):
    """A cell that cannot be read; the message is Chinese and names the value."""


# --- cell encodings ------------------------------------------------------------------

_MULTI_SEP = re.compile(r"[、，,；;\n]+")
_TRUE = {"是", "y", "yes", "true", "1", "√", "✓"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗"}
_ROMAN = {
    "Ⅰ": 1,
    "Ⅱ": 2,
    "Ⅲ": 3,
    "Ⅳ": 4,
    "I": 1,
    "II": 2,
    "III": 3,
    "IV": 4,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
}
_LIMIT_RE = re.compile(r"(\d+)\s*(?:个)?\s*(工作日|自然日|日|天|小时|时|h)?")
_LIMIT_UNITS = {
    None: "working_day",
    "工作日": "working_day",
    "日": "working_day",
    "自然日": "natural_day",
    "天": "natural_day",
    "小时": "hour",
    "时": "hour",
    "h": "hour",
}
_INSTANT = {"即办", "当场办结", "当场", "立即办结", "即时办结"}

# Accepted spellings besides the codes and the standard labels (codes.py).
_ALIASES: dict[str, dict[str, str]] = {
    "levels": {
        "国家": "1",
        "省": "2",
        "市": "3",
        "县": "4",
        "区县": "4",
        "乡": "5",
        "镇": "5",
        "乡镇": "5",
        "街道": "5",
        "乡镇（街道）级": "5",
        "村": "6",
        "社区": "6",
        "村（社区）": "6",
    },
    "service_objects": {"个人": "1", "企业": "2", "事业单位": "3", "社会组织": "4"},
    "handling_forms": {
        "窗口": "1",
        "网上办理": "2",
        "网上": "2",
        "网办": "2",
        "电脑端": "2",
        "移动端": "3",
        "手机": "3",
        "快递": "4",
        "邮寄": "4",
        "邮寄申请": "4",
    },
    "case_type": {"即办": "1", "承诺": "2"},
    "tongban_scope": {
        "全国": "national",
        "跨省": "cross_province",
        "跨市": "cross_city",
        "跨县": "cross_county",
        "无": "",
    },
    "result_kind": {"批文": "document", "文书": "document", "无": "none", "证件": "licence"},
    "special_kind": {"其他": "2", "其他特别程序": "2"},
}
_MATERIAL_KINDS = {"paper": "纸质", "electronic": "电子", "both": "纸质或电子"}
_MATERIAL_KIND_ALIASES = {
    "纸质": "paper",
    "电子": "electronic",
    "纸质或电子": "both",
    "纸质和电子": "both",
    "纸质、电子": "both",
    "均可": "both",
}
_MATERIAL_EXTRAS = {  # key in a material line → Material field
    "形式": "kind",
    "证照类型": "licence_type_code",
    "数据项": "data_element",
    "告知承诺": "commitment_allowed",
    "空白表格": "form_file",
    "示例样表": "sample_file",
    "备注": "note",
}


def _flat(text: str) -> str:
    """One line, no part separator: how a value is written inside a ``|`` line."""
    return " ".join(str(text).replace("|", "｜").split())


def _bool_cell(v: bool) -> str:
    return "是" if v else "否"


def _parse_bool(v: str, what: str) -> bool:
    low = v.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise CellError(f"{what}应填“是”或“否”，实为「{v}」")


def _parse_int(v: str, what: str) -> int:
    s = v.strip()
    if re.fullmatch(r"\d+(\.0+)?", s):
        return int(float(s))
    raise CellError(f"{what}应为非负整数，实为「{v}」")


def _code(v: str, table: dict[str, str], what: str, aliases: dict[str, str] | None = None) -> str:
    s = v.strip()
    if s in table:
        return s
    m = re.fullmatch(r"(\w+?)\s*[ .、:：]?\s*(\D.*)?", s)
    if m and m.group(1) in table:  # "01 行政许可"
        return m.group(1)
    for code, label in table.items():
        if s == label:
            return code
    if aliases and s in aliases:
        return aliases[s]
    allowed = "、".join(f"{k} {v}" if k else v for k, v in table.items() if v)
    raise CellError(f"{what}「{s}」无效（可填：{allowed}）")


def _item_type(v: str) -> str:
    s = v.strip()
    m = re.match(r"(\d{1,2})", s)
    if m:
        code = m.group(1).zfill(2)
        if codes.is_item_type(code):
            return code
    bare = s.removesuffix("事项")
    for code, label in codes.ITEM_TYPES.items():
        if bare == label.removesuffix("事项"):
            return code
    if bare == "其他类别":  # GB/T 39046's own name for 10
        return "10"
    raise CellError(
        f"事项类型「{s}」不是国家标准代码（GB/T 39046 附录 A.1：01 行政许可 … 20 公共服务）"
    )


def _item_type_cell(code: str) -> str:
    return codes.ITEM_TYPES.get(code, code)


def _multi(v: str, table: dict[str, str], what: str, aliases: dict[str, str]) -> list[str]:
    return list(
        dict.fromkeys(_code(p, table, what, aliases) for p in _MULTI_SEP.split(v) if p.strip())
    )


def _multi_cell(values: list[str], table: dict[str, str]) -> str:
    return "、".join(table.get(x, x) for x in values)


def _limit_cell(limit: dict[str, Any] | None) -> str:
    if not limit:
        return ""
    value, unit = int(limit.get("value", 0)), limit.get("unit", "working_day")
    if value == 0 and unit == "working_day":
        return "即办"
    return f"{value}{codes.LIMIT_UNITS[unit]}"


def _parse_limit(v: str, what: str) -> dict[str, Any]:
    s = v.strip().replace(" ", "")
    if s in _INSTANT:
        return {"value": 0, "unit": "working_day"}
    m = _LIMIT_RE.fullmatch(s)
    if not m:
        raise CellError(f"{what}「{v}」无法识别（例：20个工作日、30个自然日、4小时、即办）")
    return {"value": int(m.group(1)), "unit": _LIMIT_UNITS[m.group(2)]}


def _depth(v: str) -> int:
    s = v.strip().removesuffix("级").split("级")[0].split("（")[0].strip()
    if s.isdecimal() and 1 <= int(s) <= 4:
        return int(s)
    if s.upper() in _ROMAN:
        return _ROMAN[s.upper()]
    raise CellError(f"网办深度「{v}」无效（可填：Ⅰ、Ⅱ、Ⅲ、Ⅳ 或 1–4）")


def _parts(line: str, most: int, what: str) -> list[str]:
    parts = [p.strip() for p in line.split("|")]
    if len(parts) > most:
        raise CellError(f"{what}「{line}」用“|”分成了 {len(parts)} 段，最多 {most} 段")
    return parts + [""] * (most - len(parts))


def _lines(v: str) -> list[str]:
    return [ln.strip() for ln in v.splitlines() if ln.strip()]


# list fields: one entry per line ------------------------------------------------------


def _basis_cell(items: list[dict[str, Any]]) -> str:
    out = []
    for b in items:
        parts = [_flat(b["title"]), _flat(b.get("article", "")), _flat(b.get("text", ""))]
        while parts and not parts[-1]:
            parts.pop()
        out.append("|".join(parts))
    return "\n".join(out)


def _parse_basis(v: str) -> list[dict[str, Any]]:
    out = []
    for line in _lines(v):
        title, article, text = _parts(line, 3, "设定依据")
        out.append({"title": title, "article": article, "text": text})
    return out


def _materials_cell(items: list[dict[str, Any]]) -> str:
    out = []
    for m in items:
        parts = [
            _flat(m["name"]),
            _flat(m.get("issuer", "")),
            str(m.get("originals", 0)),
            str(m.get("copies", 0)),
            _bool_cell(m.get("required", True)),
        ]
        if m.get("kind", "both") != "both":
            parts.append(f"形式={_MATERIAL_KINDS[m['kind']]}")
        for key, attr in _MATERIAL_EXTRAS.items():
            if attr in ("kind", "commitment_allowed"):
                continue
            if m.get(attr):
                parts.append(f"{key}={_flat(m[attr])}")
        if m.get("commitment_allowed"):
            parts.append("告知承诺=是")
        out.append("|".join(parts))
    return "\n".join(out)


def _parse_materials(v: str) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(_lines(v), start=1):
        raw = [p.strip() for p in line.split("|")]
        fixed, extras = raw[:5], raw[5:]
        fixed += [""] * (5 - len(fixed))
        name, issuer, originals, copies, required = fixed
        m: dict[str, Any] = {"name": name, "issuer": issuer}
        what = f"第 {n} 项材料"
        m["originals"] = _parse_int(originals, f"{what}的原件份数") if originals else 0
        m["copies"] = _parse_int(copies, f"{what}的复印件份数") if copies else 0
        m["required"] = _parse_bool(required, f"{what}的“是否必备”") if required else True
        for part in extras:
            if not part:
                continue
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in _MATERIAL_EXTRAS:
                raise CellError(
                    f"{what}的附加信息「{part}」无法识别（可用：{'、'.join(_MATERIAL_EXTRAS)}，写成“键=值”）"
                )
            attr = _MATERIAL_EXTRAS[key]
            if attr == "kind":
                if value not in _MATERIAL_KIND_ALIASES:
                    raise CellError(f"{what}的形式「{value}」无效（可填：纸质、电子、纸质或电子）")
                m["kind"] = _MATERIAL_KIND_ALIASES[value]
            elif attr == "commitment_allowed":
                m[attr] = _parse_bool(value, f"{what}的“告知承诺”")
            else:
                m[attr] = value
        out.append(m)
    return out


def _fees_cell(items: list[dict[str, Any]]) -> str:
    return "\n".join(
        "|".join(
            p for p in (_flat(f["name"]), _flat(f.get("standard", "")), _flat(f.get("basis", "")))
        )
        for f in items
    )


def _parse_fees(v: str) -> list[dict[str, Any]]:
    out = []
    for line in _lines(v):
        name, standard, basis = _parts(line, 3, "收费项目")
        out.append({"name": name, "standard": standard, "basis": basis})
    return out


def _special_cell(items: list[dict[str, Any]]) -> str:
    out = []
    for p in items:
        parts = [
            codes.SPECIAL_PROCEDURE_KINDS[p.get("kind", "2")],
            _flat(p["name"]),
            _limit_cell(p.get("limit")),
        ]
        if p.get("limit") and p["limit"].get("note"):
            parts.append(_flat(p["limit"]["note"]))
        while parts and not parts[-1]:
            parts.pop()
        out.append("|".join(parts))
    return "\n".join(out)


def _parse_special(v: str) -> list[dict[str, Any]]:
    out = []
    for line in _lines(v):
        kind, name, limit, note = _parts(line, 4, "特别程序")
        p: dict[str, Any] = {
            "kind": _code(
                kind or "2", codes.SPECIAL_PROCEDURE_KINDS, "特别程序种类", _ALIASES["special_kind"]
            ),
            "name": name,
            "limit": None,
        }
        if limit:
            p["limit"] = {**_parse_limit(limit, f"特别程序「{name}」的时限"), "note": note}
        out.append(p)
    return out


def _steps_cell(items: list[dict[str, Any]]) -> str:
    out = []
    for s in items:
        limit = s.get("limit") or {}
        parts = [
            _flat(s["name"]),
            _flat(s.get("actor", "")),
            _flat(s.get("role", "")),
            _limit_cell(s.get("limit")),
            _flat(s.get("description", "")),
            _flat(limit.get("note", "")),
        ]
        while parts and not parts[-1]:
            parts.pop()
        out.append("|".join(parts))
    return "\n".join(out)


def _parse_steps(v: str) -> list[dict[str, Any]]:
    out = []
    for line in _lines(v):
        name, actor, role, limit, description, note = _parts(line, 6, "办理流程")
        out.append(
            {
                "name": name,
                "actor": actor,
                "role": role,
                "limit": {**_parse_limit(limit, f"环节「{name}」的时限"), "note": note}
                if limit
                else None,
                "description": description,
            }
        )
    return out


# --- the columns ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One template column: how an element is written in a cell and read back.

    ``put`` writes the parsed value into the field document (raising
    ``CellError``); ``get`` renders it. ``put(doc, get(doc))`` leaves ``doc``
    as it was: the export → import round trip rests on it.
    """

    header: str
    field: str  # the ItemFields field (errors are mapped back to this column)
    get: Callable[[dict[str, Any]], str]
    put: Callable[[dict[str, Any], str], None]
    help: str
    example: str = ""


def _text(header: str, key: str, help_: str, example: str = "") -> Column:
    def put(d: dict[str, Any], v: str) -> None:
        d[key] = v

    return Column(header, key, lambda d: str(d.get(key) or ""), put, help_, example)


def _sub(
    header: str, key: str, sub: str, help_: str, example: str = "", *, optional: bool = False
) -> Column:
    """A part of a nested object (result.name, statutory_limit.note …)."""

    def get(d: dict[str, Any]) -> str:
        return str((d.get(key) or {}).get(sub) or "")

    def put(d: dict[str, Any], v: str) -> None:
        d.setdefault(key, {})
        d[key] = {**d[key], sub: (v or None) if optional else v}

    return Column(header, key, get, put, help_, example)


def _bool(header: str, key: str, help_: str) -> Column:
    def put(d: dict[str, Any], v: str) -> None:
        d[key] = _parse_bool(v, header)

    return Column(header, key, lambda d: _bool_cell(bool(d.get(key))), put, help_, "否")


def _codes_col(header: str, key: str, table: dict[str, str], help_: str, example: str) -> Column:
    def put(d: dict[str, Any], v: str) -> None:
        d[key] = _multi(v, table, header, _ALIASES.get(key, {}))

    return Column(header, key, lambda d: _multi_cell(d.get(key) or [], table), put, help_, example)


def _limit_col(header: str, key: str, help_: str, example: str) -> Column:
    def put(d: dict[str, Any], v: str) -> None:
        if not v.strip():
            raise CellError(f"{header}不能为空")
        d[key] = {**(d.get(key) or {}), **_parse_limit(v, header)}

    return Column(header, key, lambda d: _limit_cell(d.get(key)), put, help_, example)


def _list_col(
    header: str,
    key: str,
    fmt: Callable[[list[dict[str, Any]]], str],
    parse: Callable[[str], list[dict[str, Any]]],
    help_: str,
    example: str,
) -> Column:
    def put(d: dict[str, Any], v: str) -> None:
        d[key] = parse(v)

    return Column(header, key, lambda d: fmt(d.get(key) or []), put, help_, example)


def _put_type(d: dict[str, Any], v: str) -> None:
    d["item_type"] = _item_type(v)


def _put_int(key: str, header: str) -> Callable[[dict[str, Any], str], None]:
    def put(d: dict[str, Any], v: str) -> None:
        d[key] = _parse_int(v, header)

    return put


def _put_depth(d: dict[str, Any], v: str) -> None:
    d["online_depth"] = _depth(v)


def _put_case_type(d: dict[str, Any], v: str) -> None:
    d["case_type"] = _code(v, codes.CASE_TYPES, "办件类型", _ALIASES["case_type"])


def _put_scope(d: dict[str, Any], v: str) -> None:
    d["tongban_scope"] = (
        _code(v, codes.TONGBAN_SCOPES, "通办范围", _ALIASES["tongban_scope"]) if v.strip() else ""
    )


def _put_result_kind(d: dict[str, Any], v: str) -> None:
    d["result"] = {
        **(d.get("result") or {}),
        "kind": _code(v, codes.RESULT_KINDS, "结果类型", _ALIASES["result_kind"]),
    }


def _put_words(key: str) -> Callable[[dict[str, Any], str], None]:
    def put(d: dict[str, Any], v: str) -> None:
        d[key] = list(dict.fromkeys(p.strip() for p in _MULTI_SEP.split(v) if p.strip()))

    return put


ITEM_COLUMNS: tuple[Column, ...] = (
    _text("事项名称", "name", "事项名称，2–200 字", "食品经营许可"),
    Column(
        "事项类型",
        "item_type",
        lambda d: _item_type_cell(d.get("item_type", "")),
        _put_type,
        "GB/T 39046 事项类型：代码（01）或名称（行政许可）；01 行政许可 02 行政处罚 03 行政强制 04 行政征收 "
        "05 行政给付 06 行政检查 07 行政确认 08 行政奖励 09 行政裁决 10 其他行政权力 20 公共服务",
        "行政许可",
    ),
    _list_col(
        "设定依据",
        "legal_basis",
        _basis_cell,
        _parse_basis,
        "每行一条：法规名称|条款|条文内容（条款、条文可省略）",
        "《中华人民共和国食品安全法》|第三十五条",
    ),
    _codes_col(
        "行使层级",
        "levels",
        codes.EXERCISE_LEVELS,
        "代码或名称，多个用“、”分隔：国家级、省级、市级、县级、镇（乡、街道）级、村（社区）级、分级管理",
        "县级",
    ),
    _codes_col(
        "服务对象",
        "service_objects",
        codes.SERVICE_OBJECTS,
        "代码或名称，多个用“、”分隔：自然人、企业法人、事业法人、社会组织法人、行政机关、其他组织",
        "企业法人",
    ),
    _text(
        "事项概述",
        "summary",
        "写给办事群众的一两句话",
        "从事食品销售和餐饮服务应当取得食品经营许可。",
    ),
    _text("受理条件", "conditions", "受理条件全文", "具有与经营的食品品种、数量相适应的经营场所。"),
    _list_col(
        "申请材料",
        "materials",
        _materials_cell,
        _parse_materials,
        "每行一项：材料名称|出具机构|原件份数|复印件份数|是否必备（是/否），其后可加“键=值”：形式=纸质/电子/纸质或电子、"
        "证照类型=电子证照类型代码、数据项=共享数据项、告知承诺=是、空白表格=文件编号、示例样表=文件编号、备注=…",
        "食品经营许可申请书|申请人自备|1|0|是\n营业执照|市场监管部门|0|1|是|证照类型=11100000000013338W001",
    ),
    _limit_col(
        "法定办结时限",
        "statutory_limit",
        "数字加单位：20个工作日、30个自然日、4小时；0 或“即办”表示当场办结",
        "20个工作日",
    ),
    _sub("法定时限说明", "statutory_limit", "note", "法定时限的补充说明", "不含听证、检验检测时间"),
    _limit_col("承诺办结时限", "promised_limit", "同法定办结时限；“即办”表示当场办结", "5个工作日"),
    _sub("承诺时限说明", "promised_limit", "note", "承诺时限的补充说明"),
    _bool("是否收费", "fee_charged", "是 / 否"),
    _list_col(
        "收费项目",
        "fees",
        _fees_cell,
        _parse_fees,
        "每行一项：收费项目名称|收费标准|收费依据",
        "工本费|10元/证|《……收费标准》",
    ),
    Column(
        "办件类型",
        "case_type",
        lambda d: codes.CASE_TYPES.get(d.get("case_type", "2"), ""),
        _put_case_type,
        "即办件、承诺件或其他（代码 1、2、9）",
        "承诺件",
    ),
    _codes_col(
        "办理形式",
        "handling_forms",
        codes.HANDLING_FORMS,
        "多个用“、”分隔：窗口办理、网上办理（电脑端）、移动端办理、快递申请、其他",
        "窗口办理、网上办理（电脑端）",
    ),
    Column(
        "到现场次数",
        "visits",
        lambda d: str(d.get("visits", 1)),
        _put_int("visits", "到现场次数"),
        "0–10 的整数",
        "0",
    ),
    _text("必须到现场原因", "visit_reason", "到现场次数大于 0 时填写"),
    Column(
        "网办深度",
        "online_depth",
        lambda d: f"{'ⅠⅡⅢⅣ'[int(d.get('online_depth', 1)) - 1]}级",
        _put_depth,
        "Ⅰ级、Ⅱ级、Ⅲ级、Ⅳ级（Ⅳ级为全程网办），也可填 1–4",
        "Ⅳ级",
    ),
    _text("网办地址", "online_url", "网上办理入口网址（留空为本平台）"),
    _bool("网上支付", "online_payment", "是否支持网上支付：是 / 否"),
    _bool("预约办理", "appointment", "是否支持预约办理：是 / 否"),
    _bool("物流快递", "express", "是否支持物流快递：是 / 否"),
    Column(
        "通办范围",
        "tongban_scope",
        lambda d: (
            codes.TONGBAN_SCOPES.get(d.get("tongban_scope", ""), "")
            if d.get("tongban_scope")
            else ""
        ),
        _put_scope,
        "全国通办、跨省通办、跨市通办、跨县通办，留空为不通办",
    ),
    _list_col(
        "特别程序",
        "special_procedures",
        _special_cell,
        _parse_special,
        "每行一项：种类（延长审批 / 除延长审批之外的特别程序）|名称|时限|时限说明",
        "除延长审批之外的特别程序|现场核查|10个工作日",
    ),
    _list_col(
        "办理流程",
        "steps",
        _steps_cell,
        _parse_steps,
        "每行一个环节：环节名称|办理人|审批角色|时限|说明|时限说明（后几段可省略）",
        "受理|综合窗口|clerk|即办\n审查|承办科室|approver|3个工作日",
    ),
    Column(
        "结果类型",
        "result",
        lambda d: codes.RESULT_KINDS.get((d.get("result") or {}).get("kind", "document"), ""),
        _put_result_kind,
        "证照、批文或文书、无结果物",
        "证照",
    ),
    _sub("结果名称", "result", "name", "办理结果的名称", "食品经营许可证"),
    _sub(
        "结果证照类型代码",
        "result",
        "licence_type_code",
        "结果为证照时的电子证照类型代码（21 位）",
        optional=True,
    ),
    _sub("结果样本", "result", "sample_file", "结果样本的文件编号", optional=True),
    _text("数量限制", "quantity_limit", "数量限制，没有可留空"),
    _text("中介服务", "intermediary", "中介服务，没有可留空"),
    Column(
        "共同实施部门",
        "joint_departments",
        lambda d: "、".join(d.get("joint_departments") or []),
        _put_words("joint_departments"),
        "多个用“、”分隔",
    ),
    _text("咨询电话", "consult_phone", "咨询电话", "0531-12345"),
    _text("监督投诉电话", "supervise_phone", "监督投诉电话", "12345"),
    Column(
        "主题",
        "themes",
        lambda d: "、".join(d.get("themes") or []),
        _put_words("themes"),
        "主题代码，多个用“、”分隔（birth 出生、marriage 婚育、start_business 开办企业 …，见文档）",
        "permit",
    ),
    Column(
        "关键词",
        "keywords",
        lambda d: "、".join(d.get("keywords") or []),
        _put_words("keywords"),
        "供检索的其他叫法，多个用“、”分隔",
        "餐饮许可、开饭店",
    ),
)
FIELD_HEADER: dict[str, str] = {}  # the first column of each field: where its errors are shown
for _c in ITEM_COLUMNS:
    FIELD_HEADER.setdefault(_c.field, _c.header)

BASE_KEY_COLUMNS = (
    (
        "基本编码",
        "必填。GB/T 39046 基本编码（12 位：2 位范围 + 2 位事项类型 + 5 位主项 + 3 位子项），或按“编码规则”列",
        "370100001000",
    ),
    (
        "编码规则",
        "gbt39046（12 位国家标准编码）或 free（4–40 位字母、数字、短横线）；留空按系统配置",
        "gbt39046",
    ),
    (
        "所属区划代码",
        "基本目录的所属区划：000000000000 为国家级，否则为省级区划代码；留空为国家级",
        "000000000000",
    ),
    ("版本状态", "导出时写明所导出版本的状态；导入时忽略", ""),
)
IMPL_KEY_COLUMNS = (
    (
        "实施编码",
        "必填。GB/T 39046 实施编码（信用代码 18 位 + 行使层级 1 位 + 基本编码 12 位）或四川格式",
        "",
    ),
    ("基本编码", "必填。所依据的基本目录事项（本文件或系统中已有）", "370100001000"),
    ("实施区划代码", "必填。实施部门所在行政区划（2/4/6/9/12 位）", "370102"),
    ("实施部门", "必填。部门名称；该区划没有此部门时新建", "历下区市场监督管理局"),
    ("部门统一社会信用代码", "新建部门时使用（GB 32100 校验）；可留空", ""),
)
LOCAL_COLUMNS = (
    ("办理地点", "address"),
    ("办理时间", "hours"),
    ("办理窗口", "window"),
    ("本地咨询电话", "phone"),
    ("本地收费说明", "fee_note"),
    ("交通指引", "traffic"),
)
FORM_HEADER = "申请表单"
LOCAL_HELP = {
    "address": "办理地点",
    "hours": "办理时间",
    "window": "办理窗口",
    "phone": "本地咨询电话（填写后，基本目录的咨询电话可留空）",
    "fee_note": "本地收费说明",
    "traffic": "交通指引",
}

BASE_HEADERS = [h for h, _, _ in BASE_KEY_COLUMNS] + [c.header for c in ITEM_COLUMNS]
IMPL_HEADERS = (
    [h for h, _, _ in IMPL_KEY_COLUMNS]
    + [h for h, _ in LOCAL_COLUMNS]
    + [FORM_HEADER]
    + [c.header for c in ITEM_COLUMNS]
)
SICHUAN_HEADERS = (
    "department",
    "main_item",
    "name",
    "itemCode",
    "areaCode",
    "taskType",
    "deptCode",
    "link",
)
SICHUAN_TASK_TYPES = {"1": "01", "5": "05", "7": "07", "8": "08", "9": "09", "10": "10", "20": "20"}


def fields_to_cells(doc: dict[str, Any]) -> dict[str, str]:
    return {c.header: c.get(doc) for c in ITEM_COLUMNS}


def cells_to_fields(
    cells: dict[str, str], *, base: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Read the element cells of one row into a field document.

    Without ``base`` (基本目录) a blank cell leaves the element at its default;
    with it (实施清单) a blank cell keeps the base item's value and ``（空）``
    empties it. Returns the document and the ``(column, message)`` problems.
    """
    doc: dict[str, Any] = orjson.loads(orjson.dumps(base)) if base is not None else {}
    problems: list[tuple[str, str]] = []
    for col in ITEM_COLUMNS:
        raw = cells.get(col.header, "")
        if not raw.strip():
            continue
        value = "" if (base is not None and raw.strip() == EMPTY) else raw
        try:
            col.put(doc, value)
        except CellError as e:
            problems.append((col.header, str(e)))
    return doc, problems


def _pydantic_problems(e: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err, fe in zip(e.errors(), field_errors(e.errors()), strict=True):
        loc = list(err.get("loc", ()))
        column = FIELD_HEADER.get(str(loc[0]), "事项要素") if loc else "事项要素"
        if (
            loc
            and loc[0] in ("statutory_limit", "promised_limit")
            and len(loc) > 1
            and loc[1] == "note"
        ):
            column = "法定时限说明" if loc[0] == "statutory_limit" else "承诺时限说明"
        where = f"第 {int(loc[1]) + 1} 项：" if len(loc) > 1 and isinstance(loc[1], int) else ""
        if not loc and "收费" in fe["message"]:
            column = "收费项目"
        out.append((column, where + fe["message"]))
    return out


def validate_fields(doc: dict[str, Any]) -> tuple[ItemFields | None, list[tuple[str, str]]]:
    try:
        return ItemFields.model_validate(doc), []
    except ValidationError as e:
        return None, _pydantic_problems(e)


# --- reading files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An uploaded or named file: its name (for messages and the format) and bytes."""

    name: str
    data: bytes


@dataclass
class Table:
    kind: str  # base | impl | sichuan
    label: str  # how issues name it: 工作表「基本目录」, 文件「x.csv」
    headers: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (row number in the sheet / line in the file, cells)


def _norm_header(h: Any) -> str:
    return re.sub(r"[\s*＊]", "", str(h or ""))


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return _bool_cell(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v).replace("\r\n", "\n").replace("\r", "\n").strip()


def _kind_of(headers: list[str]) -> str | None:
    hs = set(headers)
    if {"itemCode", "taskType"} <= hs:
        return "sichuan"
    if "实施编码" in hs:
        return "impl"
    if "基本编码" in hs:
        return "base"
    return None


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 — what Excel writes on Chinese Windows."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(f"{name} 不是 UTF-8 或 GB18030 编码的 CSV 文件", code="import_encoding")


def _read_csv(src: Source) -> list[Table]:
    text = decode_text(src.data, src.name)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [_norm_header(h) for h in next(reader, [])]
    except csv.Error as e:
        raise ValidationFailed(f"无法读取 {src.name}：{e}", code="import_unreadable") from e
    kind = _kind_of(header)
    if kind is None:
        raise ValidationFailed(
            f"{src.name} 的表头无法识别：基本目录应有“基本编码”列，实施清单应有“实施编码”列，四川事项清单应有 itemCode、taskType 列",
            code="import_unknown_layout",
        )
    rows = []
    try:
        # Rows are numbered as a spreadsheet shows them (the header is row 1), not by
        # physical line: a cell with line breaks (materials) spans several lines.
        for n, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            rows.append((n, {h: _cell_text(v) for h, v in zip(header, values, strict=False) if h}))
    except csv.Error as e:
        raise ValidationFailed(
            f"{src.name} 第 {reader.line_num} 行无法读取：{e}", code="import_unreadable"
        ) from e
    return [Table(kind, f"文件「{src.name}」", header, rows)]


def _read_xlsx(src: Source) -> list[Table]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(src.data), read_only=True, data_only=True)
    except Exception as e:  # a bad zip, or malformed XML inside (ElementTree.ParseError) …
        raise ValidationFailed(
            f"{src.name} 不是有效的 xlsx 文件：{e}", code="import_unreadable"
        ) from e
    tables = []
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some writers state no (or wrong) dimensions; rows are read as they come
            it = ws.iter_rows(values_only=True)
            first = next(it, None)
            header = [_norm_header(h) for h in (first or ())]
            kind = _kind_of(header)
            if kind is None:
                if ws.title in (BASE_SHEET, IMPL_SHEET):
                    raise ValidationFailed(
                        f"工作表「{ws.title}」的表头无法识别（第 1 行应为列名）",
                        code="import_unknown_layout",
                    )
                continue  # 填写说明 and other sheets
            rows = []
            for n, values in enumerate(it, start=2):
                cells = {h: _cell_text(v) for h, v in zip(header, values, strict=False) if h}
                if any(cells.values()):
                    rows.append((n, cells))
            tables.append(Table(kind, f"工作表「{ws.title}」", header, rows))
    except AppError:
        raise
    except Exception as e:  # openpyxl parses rows lazily: a malformed sheet or cell fails here
        raise ValidationFailed(
            f"{src.name} 的工作表内容无法读取，请用 Excel 或 WPS 重新保存后再导入",
            code="import_unreadable",
        ) from e
    finally:
        wb.close()
    if not tables:
        raise ValidationFailed(
            f"{src.name} 中没有“基本目录”或“实施清单”工作表", code="import_unknown_layout"
        )
    return tables


def read_sources(sources: Iterable[Source]) -> list[Table]:
    tables: list[Table] = []
    for src in sources:
        if src.name.lower().endswith((".xlsx", ".xlsm")) or src.data[:2] == b"PK":
            tables.extend(_read_xlsx(src))
        else:
            tables.extend(_read_csv(src))
    return tables


# --- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    sheet: str
    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else ""
        col = f"「{self.column}」" if self.column else ""
        return f"{self.sheet}{where}{col}：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class ImportReport:
    """What an import found and did (or, for a dry run, would do)."""

    layout: str
    sources: list[str]
    dry_run: bool = False
    publish: bool = True
    rows: int = 0
    items: Counter[str] = field(
        default_factory=Counter
    )  # created / updated / unchanged / published
    implementations: Counter[str] = field(default_factory=Counter)
    departments_created: list[str] = field(default_factory=list)
    codes: Counter[str] = field(
        default_factory=Counter
    )  # parsed implementation codes: complete / incomplete / scheme:…
    defaults: list[str] = field(default_factory=list)  # elements filled with defaults (要素待补充)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    seconds: float = 0.0

    def error(self, sheet: str, row: int | None, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(Issue(sheet, row, column, message))

    def warn(self, sheet: str, row: int | None, column: str, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(Issue(sheet, row, column, message))

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> str:
        verb = "将" if self.dry_run else "已"
        i, m = self.items, self.implementations
        text = (
            f"共 {self.rows} 行。基本目录：{verb}新增 {i['created']}，{verb}更新 {i['updated']}，未变 {i['unchanged']}；"
            f"实施清单：{verb}新增 {m['created']}，{verb}更新 {m['updated']}，未变 {m['unchanged']}"
        )
        if self.publish and not self.dry_run:
            text += f"；发布 {i['published'] + m['published']} 个版本"
        if self.departments_created:
            text += f"；{verb}新建部门 {len(self.departments_created)} 个"
        if self.warning_count:
            text += f"；提示 {self.warning_count} 条"
        if not self.dry_run:
            text += f"；用时 {self.seconds:.1f} 秒"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "sources": self.sources,
            "dry_run": self.dry_run,
            "publish": self.publish,
            "rows": self.rows,
            "items": dict(self.items),
            "implementations": dict(self.implementations),
            "departments_created": self.departments_created,
            "codes": dict(self.codes),
            "defaults": self.defaults,
            "error_count": self.error_count,
            "warning_count": self.warning_count,
            "errors": [x.as_dict() for x in self.errors],
            "warnings": [x.as_dict() for x in self.warnings],
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }


class ImportInvalid(ValidationFailed):
    """The file has errors; nothing was written. ``report`` lists every one."""

    def __init__(self, report: ImportReport) -> None:
        more = (
            f"（列出前 {len(report.errors)} 条）" if report.error_count > len(report.errors) else ""
        )
        super().__init__(
            f"导入文件中有 {report.error_count} 处错误{more}，未导入任何数据；请修改后重新导入",
            code="catalogue_import_invalid",
            details=[x.as_dict() for x in report.errors],
        )
        self.report = report


# --- the plan: what each row asks for ---------------------------------------------------------


@dataclass
class _ItemPlan:
    sheet: str
    row: int
    base_code: str
    scheme: str
    region_code: str
    doc: dict[str, Any]  # the target document
    model: ItemFields
    existing: CatalogueItem | None = None
    action: str = "create"  # create | update | unchanged
    merge: Callable[[dict[str, Any]], dict[str, Any]] | None = (
        None  # list layouts: apply onto the existing doc
    )


@dataclass
class _ImplPlan:
    sheet: str
    row: int
    impl_code: str
    scheme: str
    base_code: str
    region_code: str
    dept_key: tuple[str, str]  # (region, name)
    cells: dict[str, str]  # template: element cells (applied onto the base document)
    local: dict[str, Any]
    form: dict[str, Any] | None  # None: default (new) / keep (existing)
    extra: dict[str, Any] | None = None  # list layouts: the elements the list sets on the entry
    doc: dict[str, Any] | None = None
    model: ItemFields | None = None
    existing: Implementation | None = None
    action: str = "create"

    def col(self, what: str) -> str:
        """The column an error about ``what`` (code / base / dept) is shown in."""
        if self.extra is not None:
            return {"code": "itemCode", "base": "itemCode", "dept": "department"}[what]
        return {"code": "实施编码", "base": "基本编码", "dept": "实施部门"}[what]


@dataclass
class _DeptPlan:
    region_code: str
    name: str
    credit_code: str | None
    row: int
    sheet: str
    region_column: str = "实施区划代码"
    candidates: list[str] | None = None  # list layouts: valid body codes, most frequent first
    existing: Department | None = None
    valid: bool = False  # exists, or will be created


@dataclass
class _Plan:
    items: dict[str, _ItemPlan] = field(default_factory=dict)  # by base code
    impls: dict[str, _ImplPlan] = field(default_factory=dict)  # by implementation code
    depts: dict[tuple[str, str], _DeptPlan] = field(default_factory=dict)
    bad_base_codes: set[str] = field(
        default_factory=set
    )  # rows with errors: not reported again downstream


def _chunks(values: list[Any], n: int = 900) -> Iterable[list[Any]]:
    for i in range(0, len(values), n):
        yield values[i : i + n]


def _normalise_region(value: str) -> str:
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) in (2, 4, 6, 9, 12)):
        raise CellError("行政区划代码应为 2、4、6、9 或 12 位数字")
    return scope.normalise(text)


def _province_of(code12: str) -> str:
    return code12[:2].ljust(12, "0")


# --- template rows → plan ---------------------------------------------------------------------


def _plan_template(
    tables: list[Table], report: ImportReport, plan: _Plan, *, default_region: str | None
) -> None:
    default_scheme = get_settings().catalogue_base_code_scheme
    for t in tables:
        if t.kind not in ("base", "impl"):
            continue
        known = set(BASE_HEADERS if t.kind == "base" else IMPL_HEADERS)
        for h in t.headers:
            if h and h not in known:
                report.warn(t.label, None, h, "未识别的列，已忽略")
        required = (
            ("基本编码", "事项名称", "事项类型")
            if t.kind == "base"
            else ("实施编码", "基本编码", "实施部门")
        )
        missing = [h for h in required if h not in t.headers]
        if missing:
            report.error(t.label, None, "", f"缺少必填列：{'、'.join(missing)}")
            continue
        for line, cells in t.rows:
            report.rows += 1
            if t.kind == "base":
                _plan_base_row(t, line, cells, report, plan, default_scheme)
            else:
                _plan_impl_row(t, line, cells, report, plan, default_region)


def _plan_base_row(
    t: Table,
    line: int,
    cells: dict[str, str],
    report: ImportReport,
    plan: _Plan,
    default_scheme: str,
) -> None:
    ok = True
    scheme = (cells.get("编码规则") or default_scheme).strip().lower()
    if scheme not in ("gbt39046", "free"):
        report.error(
            t.label, line, "编码规则", f"编码规则「{scheme}」无效（可填 gbt39046 或 free）"
        )
        ok, scheme = False, default_scheme
    try:
        code = service.validate_base_code(cells.get("基本编码", ""), scheme)
    except ValidationFailed as e:
        report.error(t.label, line, "基本编码", e.message)
        ok, code = False, ""
    region = NATIONAL
    if cells.get("所属区划代码", "").strip():
        try:
            region = _normalise_region(cells["所属区划代码"])
        except CellError as e:
            report.error(t.label, line, "所属区划代码", str(e))
            ok = False
    doc, problems = cells_to_fields(cells)
    for column, message in problems:
        report.error(t.label, line, column, message)
    model = None
    if not problems:
        model, problems = validate_fields(doc)
        for column, message in problems:
            report.error(t.label, line, column, message)
    if model is not None and code and scheme == "gbt39046":
        parsed = codes.parse_base_code(code)
        if parsed.item_type != model.item_type:
            report.error(
                t.label,
                line,
                "事项类型",
                f"基本编码中的事项类型（{parsed.item_type}）与所填事项类型（{model.item_type}）不一致",
            )
            ok = False
    if code in plan.items:
        report.error(
            t.label, line, "基本编码", f"基本编码 {code} 与第 {plan.items[code].row} 行重复"
        )
        return
    if ok and model is not None:
        plan.items[code] = _ItemPlan(t.label, line, code, scheme, region, dump(model), model)
    elif code:
        plan.bad_base_codes.add(code)


def _plan_impl_row(
    t: Table,
    line: int,
    cells: dict[str, str],
    report: ImportReport,
    plan: _Plan,
    default_region: str | None,
) -> None:
    ok = True
    scheme_setting = get_settings().catalogue_impl_code_scheme
    try:
        parsed = codes.parse_implementation_code(cells.get("实施编码", ""), scheme_setting)
        report.codes["complete" if parsed.complete else "incomplete"] += 1
        if not parsed.complete:
            report.warn(
                t.label,
                line,
                "实施编码",
                f"实施编码 {parsed.value} 缺少区划和层级段，按不完整编码导入",
            )
    except codes.CodeError as e:
        report.error(t.label, line, "实施编码", e.message)
        ok, parsed = False, None
    base_code = (cells.get("基本编码") or "").strip().upper()
    if not base_code:
        report.error(t.label, line, "基本编码", "必填项未填写")
        ok = False
    region = default_region
    raw_region = cells.get("实施区划代码", "").strip()
    if raw_region:
        try:
            region = _normalise_region(raw_region)
        except CellError as e:
            report.error(t.label, line, "实施区划代码", str(e))
            ok = False
    elif region is None:
        report.error(t.label, line, "实施区划代码", "必填项未填写")
        ok = False
    dept_name = " ".join(cells.get("实施部门", "").split())
    if not dept_name:
        report.error(t.label, line, "实施部门", "必填项未填写")
        ok = False
    elif len(dept_name) > 100:
        report.error(t.label, line, "实施部门", "部门名称不能超过 100 个字")
        ok = False
    local_doc = {key: cells.get(h, "") for h, key in LOCAL_COLUMNS}
    try:
        local = dump(LocalFields.model_validate(local_doc))
    except ValidationError as e:
        for fe in field_errors(e.errors()):
            header = next((h for h, k in LOCAL_COLUMNS if k == fe["field"]), "实施要素")
            report.error(t.label, line, header, fe["message"])
        ok, local = False, {}
    form = None
    if cells.get(FORM_HEADER, "").strip():
        try:
            form = forms.check_definition(orjson.loads(cells[FORM_HEADER]))
        except orjson.JSONDecodeError:
            report.error(
                t.label, line, FORM_HEADER, "申请表单应为 JSON（表单定义），或留空使用默认表单"
            )
            ok = False
        except AppError as e:
            detail = "；".join(
                f"{d.get('field')}：{d.get('message')}" for d in (e.details or [])[:3]
            )
            report.error(
                t.label, line, FORM_HEADER, e.message + (f"（{detail}）" if detail else "")
            )
            ok = False
    # element cells are checked now (syntax) and again on the resolved document
    _doc, problems = cells_to_fields(cells, base={})
    for column, message in problems:
        report.error(t.label, line, column, message)
        ok = False
    if parsed is None:
        return
    if parsed.value in plan.impls:
        report.error(
            t.label,
            line,
            "实施编码",
            f"实施编码 {parsed.value} 与第 {plan.impls[parsed.value].row} 行重复",
        )
        return
    if not ok or region is None:
        return
    key = (region, dept_name)
    credit = (cells.get("部门统一社会信用代码") or "").strip().upper() or None
    _plan_dept(plan, report, key, credit, t.label, line)
    plan.impls[parsed.value] = _ImplPlan(
        t.label,
        line,
        parsed.value,
        parsed.scheme,
        base_code,
        region,
        key,
        {c.header: cells.get(c.header, "") for c in ITEM_COLUMNS},
        local,
        form,
    )


def _plan_dept(
    plan: _Plan,
    report: ImportReport,
    key: tuple[str, str],
    credit: str | None,
    sheet: str,
    line: int,
) -> None:
    known = plan.depts.get(key)
    if known is not None:
        if credit and known.credit_code and credit != known.credit_code:
            report.warn(
                sheet,
                line,
                "部门统一社会信用代码",
                f"与第 {known.row} 行所填的 {known.credit_code} 不同，按第 {known.row} 行",
            )
        return
    if credit:
        try:
            credit = validate_credit_code(credit).code
        except InvalidIdentifier as e:
            report.error(sheet, line, "部门统一社会信用代码", f"统一社会信用代码不正确：{e}")
            credit = None
    plan.depts[key] = _DeptPlan(key[0], key[1], credit, line, sheet)


# --- the Sichuan list → plan --------------------------------------------------------------

SICHUAN_DEFAULT_NOTE = "要素待补充"


def sichuan_defaults(name: str, item_type: str, level: str) -> dict[str, Any]:
    """The elements the Sichuan list does not carry, as explicit defaults (要素待补充)."""
    general = (
        "暂按《中华人民共和国行政许可法》第四十二条的一般期限填写"
        if item_type == "01"
        else "暂按 20 个工作日填写"
    )
    note = f"{SICHUAN_DEFAULT_NOTE}：{general}"
    return {
        "name": name,
        "item_type": item_type,
        "levels": [level],
        "summary": f"{SICHUAN_DEFAULT_NOTE}：本事项由四川政务服务网事项清单导入，仅含事项名称、类型、实施部门和编码，其他要素待补充。",
        "statutory_limit": {"value": 20, "unit": "working_day", "note": note},
        "promised_limit": {"value": 20, "unit": "working_day", "note": note},
    }


SICHUAN_DEFAULTED = [
    "设定依据（空）",
    "服务对象（自然人）",
    "受理条件（空）",
    "申请材料（空）",
    "法定和承诺办结时限（20 个工作日，注明“要素待补充”）",
    "办件类型（承诺件）",
    "办理形式（窗口办理）",
    "到现场次数（1 次，未说明原因）",
    "网办深度（Ⅰ级）",
    "收费（不收费）",
    "咨询和监督电话（空）",
]


def _plan_sichuan(
    tables: list[Table],
    report: ImportReport,
    plan: _Plan,
    *,
    region_override: str | None,
    themes: list[Theme],
) -> None:
    report.defaults = list(SICHUAN_DEFAULTED)
    bodies: dict[tuple[str, str], Counter[str]] = {}  # dept key → body code → rows
    invalid_bodies: dict[tuple[str, str], Counter[str]] = {}
    for t in tables:
        if t.kind != "sichuan":
            continue
        for line, cells in t.rows:
            report.rows += 1
            row_ok = True
            raw = cells.get("itemCode", "")
            try:
                parsed = codes.parse_implementation_code(raw, "sichuan")
            except codes.CodeError as e:
                report.error(t.label, line, "itemCode", e.message)
                continue
            report.codes["complete" if parsed.complete else "incomplete"] += 1
            if not parsed.complete:
                report.warn(
                    t.label,
                    line,
                    "itemCode",
                    f"实施编码 {parsed.value} 缺少区划和层级段（{parsed.item_code}-{parsed.body_code}），按不完整编码导入",
                )
            item_type = SICHUAN_TASK_TYPES.get(cells.get("taskType", "").strip())
            if item_type is None:
                report.error(
                    t.label,
                    line,
                    "taskType",
                    f"taskType「{cells.get('taskType', '')}」无法对应事项类型（可为 {'、'.join(SICHUAN_TASK_TYPES)}）",
                )
                row_ok = False
            try:
                region = region_override or _normalise_region(
                    cells.get("areaCode", "") or parsed.area_code
                )
            except CellError as e:
                report.error(t.label, line, "areaCode", str(e))
                continue
            if parsed.area_code and parsed.area_code != region:
                report.warn(
                    t.label,
                    line,
                    "areaCode",
                    f"实施编码中的区划 {parsed.area_code} 与 areaCode {region} 不同，按 {region}",
                )
            dept = " ".join(cells.get("department", "").split())
            if not dept:
                report.error(t.label, line, "department", "必填项未填写")
                row_ok = False
            try:
                base_code = service.validate_base_code(parsed.item_code, "free")
            except ValidationFailed as e:
                report.error(t.label, line, "itemCode", e.message)
                row_ok = False
            name = " ".join(cells.get("name", "").split())
            if not row_ok or item_type is None:
                continue
            level = codes.LEVEL_OF_REGION.get(scope.level_of(region), "4")
            doc = sichuan_defaults(name, item_type, level)
            main = cells.get("main_item", "").strip()
            if main and main != "未分类" and main != name:
                doc["keywords"] = [main]
            doc["themes"] = service.suggest_themes(
                name, themes, for_persons=True, for_enterprises=True
            )
            model, problems = validate_fields(doc)
            for column, message in problems:
                report.error(
                    t.label,
                    line,
                    {"事项名称": "name", "事项类型": "taskType"}.get(column, column),
                    message,
                )
            if model is None:
                continue
            if parsed.value in plan.impls:
                report.error(
                    t.label, line, "itemCode", f"实施编码与第 {plan.impls[parsed.value].row} 行重复"
                )
                continue
            item = plan.items.get(base_code)
            if item is None:
                plan.items[base_code] = _ItemPlan(
                    t.label,
                    line,
                    base_code,
                    "free",
                    _province_of(region),
                    dump(model),
                    model,
                    merge=_list_merge(name, item_type, doc.get("keywords", [])),
                )
            elif item.model.name != name:
                report.warn(
                    t.label,
                    line,
                    "name",
                    f"事项编码 {base_code} 在第 {item.row} 行名为「{item.model.name}」，此行为「{name}」：实施清单按此行名称，一致性报告将列出差异",
                )
            link = cells.get("link", "").strip()
            extra: dict[str, Any] = {"name": name, "item_type": item_type}
            if link.startswith(("http://", "https://")) and len(link) <= 500:
                extra["online_url"] = link
            key = (region, dept)
            plan.impls[parsed.value] = _ImplPlan(
                t.label, line, parsed.value, "sichuan", base_code, region, key, {}, {}, None, extra
            )
            if key not in plan.depts:
                plan.depts[key] = _DeptPlan(
                    region, dept, None, line, t.label, region_column="areaCode"
                )
            body = parsed.body_code
            try:
                body = validate_credit_code(body).code
                bodies.setdefault(key, Counter())[body] += 1
            except InvalidIdentifier:
                invalid_bodies.setdefault(key, Counter())[body] += 1
    # a department's credit code: its most frequent valid body code (GB 32100)
    for key, d in plan.depts.items():
        d.candidates = [c for c, _ in bodies.get(key, Counter()).most_common()]
    for key, counter in invalid_bodies.items():
        rows = sum(counter.values())
        listed = "、".join(sorted(counter))
        report.warn(
            "部门", None, key[1], f"{rows} 行的实施主体编码不是有效的统一社会信用代码（{listed}）"
        )


def _list_merge(
    name: str, item_type: str, keywords: list[str]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An existing item takes what the list says (name, type, keywords) and keeps the rest."""

    def merge(old: dict[str, Any]) -> dict[str, Any]:
        return {
            **old,
            "name": name,
            "item_type": item_type,
            "keywords": list(dict.fromkeys([*old.get("keywords", []), *keywords])),
        }

    return merge


# --- checking the plan against the database ---------------------------------------------------


async def _resolve(
    session: AsyncSession, actor: Actor, plan: _Plan, report: ImportReport, *, publish: bool
) -> None:
    """Look up what exists; check references, departments and permissions; fill the targets."""
    await _resolve_departments(session, plan, report)
    items = await _resolve_items(session, actor, plan, report, publish=publish)
    await _resolve_impls(session, actor, plan, report, items, publish=publish)


async def _resolve_departments(session: AsyncSession, plan: _Plan, report: ImportReport) -> None:
    regions = sorted(
        {d.region_code for d in plan.depts.values()} | {i.region_code for i in plan.items.values()}
    )
    found: set[str] = {NATIONAL}
    for chunk in _chunks(regions):
        found |= set(
            (await session.execute(select(Region.code).where(Region.code.in_(chunk)))).scalars()
        )
    for it in plan.items.values():
        if it.region_code not in found:
            report.error(it.sheet, it.row, "所属区划代码", f"行政区划代码 {it.region_code} 不存在")
    existing: dict[tuple[str, str], Department] = {}
    for chunk in _chunks(sorted({d.region_code for d in plan.depts.values()})):
        for dept in (
            await session.execute(select(Department).where(Department.region_code.in_(chunk)))
        ).scalars():
            existing[(dept.region_code, dept.name)] = dept
    wanted = {d.credit_code for d in plan.depts.values() if d.credit_code}
    for d in plan.depts.values():
        wanted.update(d.candidates or ())
    taken: dict[str, str] = {}
    for chunk in _chunks(sorted(wanted)):
        stmt = select(Department.credit_code, Department.name).where(
            Department.credit_code.in_(chunk)
        )
        taken.update({c: n for c, n in (await session.execute(stmt)).all() if c})
    for key, d in plan.depts.items():
        if d.region_code not in found:
            report.error(d.sheet, d.row, d.region_column, f"行政区划代码 {d.region_code} 不存在")
            continue
        d.existing = existing.get(key)
        if d.existing is not None:
            d.valid = True
            continue
        if d.candidates is not None:  # list layouts: the first valid code no other department holds
            d.credit_code = next((c for c in d.candidates if c not in taken), None)
            if d.credit_code is None:
                report.warn(
                    "部门",
                    None,
                    d.name,
                    "未找到可用的统一社会信用代码（GB 32100），新建部门的信用代码留空",
                )
        elif d.credit_code and d.credit_code in taken:
            report.error(
                d.sheet,
                d.row,
                "部门统一社会信用代码",
                f"统一社会信用代码 {d.credit_code} 已登记为“{taken[d.credit_code]}”",
            )
            continue
        elif not d.credit_code:
            report.warn(
                d.sheet, d.row, "实施部门", f"将新建部门“{d.name}”（未填写统一社会信用代码）"
            )
        if d.credit_code:
            taken[d.credit_code] = d.name
        d.valid = True
        report.departments_created.append(d.name)


async def _resolve_items(
    session: AsyncSession, actor: Actor, plan: _Plan, report: ImportReport, *, publish: bool
) -> dict[str, tuple[CatalogueItem, ItemVersion | None]]:
    """Existing base items by code, with their published version (for the entries)."""
    by_code: dict[str, CatalogueItem] = {}
    wanted = sorted(set(plan.items) | {i.base_code for i in plan.impls.values()})
    for chunk in _chunks(wanted):
        for item in (
            await session.execute(select(CatalogueItem).where(CatalogueItem.base_code.in_(chunk)))
        ).scalars():
            by_code[item.base_code] = item
    versions = await _item_versions(session, [i.id for i in by_code.values()])
    for code, it in plan.items.items():
        region_col = "所属区划代码" if it.merge is None else "areaCode"
        if not service.can_manage_base(actor, it.region_code):
            report.error(it.sheet, it.row, region_col, "您没有管理该区划基本目录的权限")
            continue
        item = by_code.get(code)
        if item is None:
            continue
        it.existing = item
        if item.status == "retired":
            report.error(
                it.sheet,
                it.row,
                "基本编码" if it.merge is None else "itemCode",
                f"基本目录事项 {code} 已停用，不能导入",
            )
            continue
        if item.region_code != it.region_code and it.merge is None:
            report.error(
                it.sheet, it.row, region_col, f"基本编码 {code} 已属于区划 {item.region_code}"
            )
            continue
        latest = versions[(item.id, item.current_version)]
        if it.merge is not None:
            model, problems = validate_fields(it.merge(dict(latest.fields)))
            for column, message in problems:
                report.error(it.sheet, it.row, column, message)
            if model is None:
                continue
            it.model, it.doc = model, dump(model)
        if (
            item.code_scheme == "gbt39046"
            and codes.parse_base_code(code).item_type != it.model.item_type
        ):
            report.error(it.sheet, it.row, "事项类型", "事项类型须与基本编码中的类型一致")
            continue
        unchanged = it.doc == latest.fields
        it.action = (
            "update"
            if not unchanged
            else ("publish" if publish and latest.status == "draft" else "unchanged")
        )
    return {
        code: (
            item,
            versions.get((item.id, item.published_version)) if item.published_version else None,
        )
        for code, item in by_code.items()
    }


async def _resolve_impls(
    session: AsyncSession,
    actor: Actor,
    plan: _Plan,
    report: ImportReport,
    items: dict[str, tuple[CatalogueItem, ItemVersion | None]],
    *,
    publish: bool,
) -> None:
    found: dict[str, Implementation] = {}
    for chunk in _chunks(sorted(plan.impls)):
        stmt = select(Implementation).where(Implementation.impl_code.in_(chunk))
        for impl in (await session.execute(stmt)).scalars():
            found[impl.impl_code] = impl
    versions = await _impl_versions(session, list(found.values()))
    block = publish and get_settings().catalogue_block_inconsistent_publish
    for code, ip in plan.impls.items():
        if ip.base_code in plan.bad_base_codes:
            continue  # the base row's own error says it
        d = plan.depts.get(ip.dept_key)
        if d is None or not d.valid:
            continue  # so does the department's
        base_plan = plan.items.get(ip.base_code)
        item, published = items.get(ip.base_code, (None, None))
        if base_plan is None and item is None:
            report.error(
                ip.sheet,
                ip.row,
                ip.col("base"),
                f"基本编码 {ip.base_code} 不存在（本次导入和系统中都没有）",
            )
            continue
        if item is not None and item.status == "retired":
            report.error(ip.sheet, ip.row, ip.col("base"), f"基本目录事项 {ip.base_code} 已停用")
            continue
        # the base document the entry derives from: what this import publishes, else the published one
        if base_plan is not None and publish:
            base_doc = base_plan.doc
        elif published is not None:
            base_doc = published.fields
        else:
            hint = "（请发布后再导入实施清单）" if not publish else ""
            report.error(
                ip.sheet,
                ip.row,
                ip.col("base"),
                f"基本目录事项 {ip.base_code} 尚未发布，不能据此编制实施清单{hint}",
            )
            continue
        probe = Implementation(
            region_code=ip.region_code, department_id=d.existing.id if d.existing else None
        )
        if not service.can_manage_implementation(actor, probe):
            report.error(ip.sheet, ip.row, ip.col("dept"), "您没有管理该部门实施清单的权限")
            continue
        existing = found.get(code)
        latest = None
        if existing is not None:
            ip.existing = existing
            same = (
                item is not None
                and existing.item_id == item.id
                and d.existing is not None
                and existing.department_id == d.existing.id
            )
            if not same:
                report.error(
                    ip.sheet,
                    ip.row,
                    ip.col("code"),
                    f"实施编码 {code} 已用于其他事项或部门的实施清单",
                )
                continue
            if existing.status == "retired":
                report.error(ip.sheet, ip.row, ip.col("code"), f"实施清单 {code} 已停用，不能导入")
                continue
            latest = versions[(existing.id, existing.current_version)]
        if ip.extra is not None:  # list layouts: the entry keeps its elements and takes the list's
            start = dict(latest.fields) if latest is not None else dict(base_doc)
            model, problems = validate_fields({**start, **ip.extra})
            if latest is not None:
                ip.local = dict(latest.local)
        else:
            doc, problems = cells_to_fields(ip.cells, base=base_doc)
            model = None
            if not problems:
                model, problems = validate_fields(doc)
        for column, message in problems:
            report.error(ip.sheet, ip.row, column, message)
        if model is None:
            continue
        ip.model, ip.doc = model, dump(model)
        if latest is not None:
            form = ip.form if ip.form is not None else latest.form
            unchanged = (ip.doc, ip.local, form) == (latest.fields, latest.local, latest.form)
            ip.action = (
                "update"
                if not unchanged
                else ("publish" if publish and latest.status == "draft" else "unchanged")
            )
        if block and ip.action in ("create", "update", "publish"):
            for f in checks.consistency_diffs(ItemFields.model_validate(base_doc), model):
                report.error(
                    ip.sheet,
                    ip.row,
                    FIELD_HEADER.get(f.field, f.field),
                    f"{f.message}（已配置为不一致的实施清单不得发布）",
                )


async def _item_versions(
    session: AsyncSession, item_ids: list[int]
) -> dict[tuple[int, int], ItemVersion]:
    """The latest and the published version of each item, by ``(item id, version)``."""
    out: dict[tuple[int, int], ItemVersion] = {}
    for chunk in _chunks(item_ids):
        stmt = (
            select(ItemVersion)
            .join(CatalogueItem, CatalogueItem.id == ItemVersion.item_id)
            .where(
                ItemVersion.item_id.in_(chunk),
                (ItemVersion.version == CatalogueItem.current_version)
                | (ItemVersion.version == CatalogueItem.published_version),
            )
        )
        for v in (await session.execute(stmt)).scalars():
            out[(v.item_id, v.version)] = v
    return out


async def _impl_versions(
    session: AsyncSession, impls: list[Implementation]
) -> dict[tuple[int, int], ImplementationVersion]:
    """The latest and the published version of each entry, by ``(entry id, version)``."""
    out: dict[tuple[int, int], ImplementationVersion] = {}
    for chunk in _chunks([i.id for i in impls]):
        stmt = (
            select(ImplementationVersion)
            .join(Implementation, Implementation.id == ImplementationVersion.implementation_id)
            .where(
                ImplementationVersion.implementation_id.in_(chunk),
                (ImplementationVersion.version == Implementation.current_version)
                | (ImplementationVersion.version == Implementation.published_version),
            )
        )
        for v in (await session.execute(stmt)).scalars():
            out[(v.implementation_id, v.version)] = v
    return out


# --- writing -------------------------------------------------------------------------------


class _Writer:
    """Writes a checked plan. New rows go in as multi-row INSERTs (``insert()``
    with a list of rows: one statement per batch, no ORM objects — the ORM
    unit of work cost ~1 ms per object here); changes to existing items and
    entries go through the service functions, one by one."""

    def __init__(
        self,
        session: AsyncSession,
        actor: Actor,
        report: ImportReport,
        *,
        publish: bool,
        progress: Progress | None,
        total: int,
        source: str,
    ) -> None:
        self.s, self.actor, self.report, self.publish = session, actor, report, publish
        self.progress, self.total, self.done = progress, total, 0
        self.source = source
        self.at = now()
        self.changes: list[dict[str, Any]] = []

    def tick(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total)

    def change(self, entity: str, entity_id: int, region_code: str) -> None:
        done = "并发布" if self.publish else "为草稿"
        self.changes.append(
            {
                "entity": entity,
                "entity_id": entity_id,
                "version": 1,
                "action": "import",
                "changed": [],
                "summary": f"从 {self.source} 导入{done}",
                "actor_id": self.actor.account_id,
                "region_code": region_code,
                "at": self.at,
            }
        )

    def _version_row(self) -> dict[str, Any]:
        by = self.actor.account_id
        return {
            "status": "published" if self.publish else "draft",
            "note": f"导入：{self.source}"[:500],
            "created_by": by,
            "created_at": self.at,
            "published_by": by if self.publish else None,
            "published_at": self.at if self.publish else None,
        }

    async def _insert(
        self, model: Any, rows: list[dict[str, Any]], *, ids: bool = False
    ) -> list[int]:
        if not rows:
            return []
        table = model.__table__  # Core: the ORM's bulk path costs more than the statement
        if not ids:
            await self.s.execute(insert(table), rows)
            return []
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list((await self.s.execute(stmt, rows)).scalars())

    async def departments(self, plan: _Plan) -> dict[tuple[str, str], int]:
        ids = {key: d.existing.id for key, d in plan.depts.items() if d.existing is not None}
        # regions.create_department requires a credit code; the lists name
        # departments that have none (Department.credit_code is nullable).
        new = [(key, d) for key, d in plan.depts.items() if d.existing is None]
        got = await self._insert(
            Department,
            [
                {
                    "region_code": d.region_code,
                    "credit_code": d.credit_code,
                    "name": d.name,
                    "short_name": d.name[:40],
                    "kind": "",
                    "created_at": self.at,
                }
                for _, d in new
            ],
            ids=True,
        )
        ids.update({key: i for (key, _), i in zip(new, got, strict=True)})
        return ids

    async def items(self, plan: _Plan) -> None:
        new = [it for it in plan.items.values() if it.existing is None]
        status = "published" if self.publish else "draft"
        for chunk in _chunks(new, BATCH):
            got = await self._insert(
                CatalogueItem,
                [
                    {
                        "base_code": it.base_code,
                        "code_scheme": it.scheme,
                        "name": it.model.name,
                        "item_type": it.model.item_type,
                        "region_code": it.region_code,
                        "status": status,
                        "current_version": 1,
                        "published_version": 1 if self.publish else None,
                        "created_at": self.at,
                        "updated_at": self.at,
                    }
                    for it in chunk
                ],
                ids=True,
            )
            await self._insert(
                ItemVersion,
                [
                    {
                        **self._version_row(),
                        "item_id": item_id,
                        "version": 1,
                        "fields": it.doc,
                        "content_hash": service.content_hash(it.doc),
                    }
                    for it, item_id in zip(chunk, got, strict=True)
                ],
            )
            for it, item_id in zip(chunk, got, strict=True):
                self.change("item", item_id, it.region_code)
            self.report.items["created"] += len(chunk)
            if self.publish:
                self.report.items["published"] += len(chunk)
            self.tick(len(chunk))
        for it in plan.items.values():
            if it.existing is None:
                continue
            if it.action == "update":
                await service.save_item_draft(
                    self.s, self.actor, it.existing.id, it.doc, note=f"导入：{self.source}"[:500]
                )
                self.report.items["updated"] += 1
            else:
                self.report.items["unchanged"] += 1
            if self.publish and it.action in ("update", "publish"):
                await service.publish_item(self.s, self.actor, it.existing.id)
                self.report.items["published"] += 1
            self.tick(1)

    async def implementations(self, plan: _Plan, dept_ids: dict[tuple[str, str], int]) -> None:
        # the base items as they are now (created or published by this import)
        wanted = sorted({ip.base_code for ip in plan.impls.values()})
        item_of: dict[str, tuple[int, int | None]] = {}
        for chunk in _chunks(wanted):
            stmt = (
                select(CatalogueItem.base_code, CatalogueItem.id, ItemVersion.id)
                .outerjoin(
                    ItemVersion,
                    (ItemVersion.item_id == CatalogueItem.id)
                    & (ItemVersion.version == CatalogueItem.published_version),
                )
                .where(CatalogueItem.base_code.in_(chunk))
            )
            for code, item_id, version_id in (await self.s.execute(stmt)).all():
                item_of[code] = (item_id, version_id)
        known_themes = set((await self.s.execute(select(Theme.code))).scalars())
        default_forms = {flag: forms.default_form(for_enterprise=flag) for flag in (False, True)}
        status = "published" if self.publish else "draft"
        new = [ip for ip in plan.impls.values() if ip.existing is None]
        for chunk in _chunks(new, BATCH):
            rows = []
            for ip in chunk:
                f = ip.model
                assert f is not None
                online = checks.classify_online(f) if self.publish else ("cannot", "")
                rows.append(
                    {
                        "item_id": item_of[ip.base_code][0],
                        "department_id": dept_ids[ip.dept_key],
                        "region_code": ip.region_code,
                        "impl_code": ip.impl_code,
                        "code_scheme": ip.scheme,
                        "level": codes.LEVEL_OF_REGION.get(scope.level_of(ip.region_code), "4"),
                        "name": f.name,
                        "item_type": f.item_type,
                        "status": status,
                        "current_version": 1,
                        "published_version": 1 if self.publish else None,
                        "published_version_id": None,
                        "for_persons": f.for_persons,
                        "for_enterprises": f.for_enterprises,
                        "online_status": online[0],
                        "online_reason": online[1],
                        "online_override": False,
                        "created_at": self.at,
                        "updated_at": self.at,
                    }
                )
            impl_ids = await self._insert(Implementation, rows, ids=True)
            versions = []
            for ip, impl_id in zip(chunk, impl_ids, strict=True):
                f = ip.model
                assert f is not None and ip.doc is not None
                form = (
                    ip.form
                    if ip.form is not None
                    else default_forms[f.for_enterprises and not f.for_persons]
                )
                versions.append(
                    {
                        **self._version_row(),
                        "implementation_id": impl_id,
                        "version": 1,
                        "base_version_id": item_of[ip.base_code][1],
                        "fields": ip.doc,
                        "local": ip.local,
                        "form": form,
                        "content_hash": service.content_hash(
                            {"fields": ip.doc, "local": ip.local, "form": form}
                        ),
                    }
                )
            version_ids = await self._insert(ImplementationVersion, versions, ids=True)
            for ip, impl_id in zip(chunk, impl_ids, strict=True):
                self.change("implementation", impl_id, ip.region_code)
            if self.publish:
                t = Implementation.__table__
                await self.s.execute(
                    update(t)
                    .where(t.c.id == bindparam("b_id"))
                    .values(published_version_id=bindparam("b_version")),
                    [
                        {"b_id": i, "b_version": v}
                        for i, v in zip(impl_ids, version_ids, strict=True)
                    ],
                )
                await self._insert(
                    ImplementationTheme,
                    [
                        {"implementation_id": impl_id, "theme_code": c}
                        for ip, impl_id in zip(chunk, impl_ids, strict=True)
                        for c in dict.fromkeys(ip.model.themes if ip.model else [])
                        if c in known_themes
                    ],
                )
                await self._record_published(
                    [(i, ip.region_code) for ip, i in zip(chunk, impl_ids, strict=True)]
                )
                self.report.implementations["published"] += len(chunk)
            self.report.implementations["created"] += len(chunk)
            self.tick(len(chunk))
        for ip in plan.impls.values():
            if ip.existing is None:
                continue
            if ip.action == "update":
                await service.save_implementation_draft(
                    self.s,
                    self.actor,
                    ip.existing.id,
                    fields=ip.doc,
                    local=ip.local,
                    form=ip.form,
                    note=f"导入：{self.source}"[:500],
                )
                self.report.implementations["updated"] += 1
            else:
                self.report.implementations["unchanged"] += 1
            if self.publish and ip.action in ("update", "publish"):
                await service.publish_implementation(self.s, self.actor, ip.existing.id)
                self.report.implementations["published"] += 1
            self.tick(1)

    async def _record_published(self, impls: list[tuple[int, str]]) -> None:
        """``catalogue.published`` per new entry, as ``service.publish_implementation``
        records it through ``outbox.record_event`` (which flushes twice per event)."""
        event_ids = await self._insert(
            OutboxEvent,
            [
                {
                    "name": service.EVENT_PUBLISHED,
                    "payload": {"implementation_id": i, "version": 1},
                    "region_code": r,
                    "created_at": self.at,
                }
                for i, r in impls
            ],
            ids=True,
        )
        regs = handlers_for(service.EVENT_PUBLISHED)
        await self._insert(
            OutboxDelivery,
            [
                {"event_id": e, "handler": reg.name, "region_code": r}
                for e, (_i, r) in zip(event_ids, impls, strict=True)
                for reg in regs
            ],
        )

    async def finish(self, digest: str) -> None:
        for chunk in _chunks(self.changes, BATCH):
            await self._insert(CatalogueChange, chunk)
        r = self.report
        await audit.record(
            self.s,
            actor=self.actor.ref,
            action="catalogue.import",
            target_type="catalogue_import",
            target_id=digest[:16],
            region_code=self.actor.region_code,
            details={
                "sources": r.sources,
                "layout": r.layout,
                "rows": r.rows,
                "items": dict(r.items),
                "implementations": dict(r.implementations),
                "departments_created": len(r.departments_created),
                "warnings": r.warning_count,
            },
        )


# --- the entry point -----------------------------------------------------------------------


def detect_layout(tables: list[Table]) -> str:
    kinds = {t.kind for t in tables}
    if "sichuan" in kinds:
        if kinds != {"sichuan"}:
            raise ValidationFailed(
                "四川事项清单不能与模板工作表一起导入", code="import_mixed_layouts"
            )
        return "sichuan-list"
    return "template"


def _drop_nul_cells(tables: list[Table], report: ImportReport) -> None:
    """A NUL (U+0000) in a cell is an error of its row (PostgreSQL refuses it
    in text; no element holds one); it is dropped from the value so that the
    rest of the row is still checked and every error reported."""
    for t in tables:
        for line, cells in t.rows:
            for h, v in cells.items():
                if "\x00" in v:
                    report.error(t.label, line, h, "含有无效字符（空字符）")
                    cells[h] = v.replace("\x00", "")


async def import_catalogue(
    session: AsyncSession,
    actor: Actor,
    sources: list[Source],
    *,
    layout: str = "auto",
    region_code: str | None = None,
    publish: bool = True,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import base items and implementation entries; return the report.

    Raises ``ImportInvalid`` (nothing written) when any row has an error.
    ``region_code``: the implementing region for list layouts (instead of their
    areaCode column); for the template, the region of rows that leave
    实施区划代码 blank. ``dry_run``: check and count, write nothing.
    """
    started = time.perf_counter()
    if layout not in LAYOUTS:
        raise ValidationFailed(
            f"未知的导入格式：{layout}（可为 {'、'.join(LAYOUTS)}）", code="import_layout"
        )
    tables = read_sources(sources)
    found = detect_layout(tables)
    if layout != "auto" and layout != found:
        raise ValidationFailed(
            f"文件内容是“{found}”格式，与指定的“{layout}”不符", code="import_layout"
        )
    region = None
    if region_code:
        try:
            region = _normalise_region(region_code)
        except CellError as e:
            raise ValidationFailed(str(e), code="import_region") from None
    report = ImportReport(found, [s.name for s in sources], dry_run=dry_run, publish=publish)
    _drop_nul_cells(tables, report)
    plan = _Plan()
    if found == "sichuan-list":
        themes = list((await session.execute(select(Theme))).scalars())
        _plan_sichuan(tables, report, plan, region_override=region, themes=themes)
    else:
        _plan_template(tables, report, plan, default_region=region)
    await _resolve(session, actor, plan, report, publish=publish)
    if not report.ok:
        report.seconds = time.perf_counter() - started
        raise ImportInvalid(report)
    if dry_run:
        for it in plan.items.values():
            report.items[
                "created"
                if it.existing is None
                else ("unchanged" if it.action in ("unchanged", "publish") else "updated")
            ] += 1
        for ip in plan.impls.values():
            report.implementations[
                "created"
                if ip.existing is None
                else ("unchanged" if ip.action in ("unchanged", "publish") else "updated")
            ] += 1
        report.seconds = time.perf_counter() - started
        return report
    digest = hashlib.sha256(b"".join(s.data for s in sources)).hexdigest()
    writer = _Writer(
        session,
        actor,
        report,
        publish=publish,
        progress=progress,
        total=len(plan.items) + len(plan.impls),
        source="、".join(report.sources)[:200],
    )
    if progress:
        progress(0, writer.total)
    dept_ids = await writer.departments(plan)
    await writer.items(plan)
    await writer.implementations(plan, dept_ids)
    await writer.finish(digest)
    report.seconds = time.perf_counter() - started
    return report


# --- export -----------------------------------------------------------------------------------


@dataclass
class ExportData:
    base_rows: list[list[str]]
    impl_rows: list[list[str]]


async def collect_export(
    session: AsyncSession, actor: Actor, *, region_code: str | None = None
) -> ExportData:
    """The template rows for the actor's region subtree (or ``region_code`` within it).

    Implementation entries of the subtree that are not retired; base items
    owned in the subtree and those the entries derive from. Each in its latest
    version (a draft when there is one: the spreadsheet is a working copy;
    the 版本状态 column says which).
    """
    root = actor.region_code
    if region_code:
        code = _normalise_region(region_code)
        if not scope.is_within(code, root):
            raise ValidationFailed("只能导出本人管辖区划内的事项", code="export_out_of_scope")
        root = code
    impls = list(
        (
            await session.execute(
                select(Implementation)
                .where(
                    scope.in_subtree(Implementation.region_code, root),
                    Implementation.status != "retired",
                )
                .order_by(
                    Implementation.region_code,
                    Implementation.department_id,
                    Implementation.impl_code,
                )
            )
        ).scalars()
    )
    item_ids = {i.item_id for i in impls}
    own = list(
        (
            await session.execute(
                select(CatalogueItem).where(
                    scope.in_subtree(CatalogueItem.region_code, root),
                    CatalogueItem.status != "retired",
                )
            )
        ).scalars()
    )
    items = {i.id: i for i in own}
    missing = sorted(item_ids - set(items))
    for chunk in _chunks(missing):
        for i in (
            await session.execute(select(CatalogueItem).where(CatalogueItem.id.in_(chunk)))
        ).scalars():
            items[i.id] = i
    iversions = await _item_versions(session, list(items))
    vversions = await _impl_versions(session, impls)
    depts: dict[int, Department] = {}
    for chunk in _chunks(sorted({i.department_id for i in impls})):
        for d in (
            await session.execute(select(Department).where(Department.id.in_(chunk)))
        ).scalars():
            depts[d.id] = d
    base_docs: dict[int, dict[str, Any]] = {}
    base_rows = []
    for item in sorted(items.values(), key=lambda i: (i.region_code, i.base_code)):
        v = iversions[(item.id, item.current_version)]
        base_docs[item.id] = v.fields
        cells = fields_to_cells(v.fields)
        key = [
            item.base_code,
            item.code_scheme,
            item.region_code,
            "已发布" if v.status == "published" else "草稿",
        ]
        base_rows.append(key + [cells[c.header] for c in ITEM_COLUMNS])
    impl_rows = []
    for impl in impls:
        v = vversions[(impl.id, impl.current_version)]
        base = base_docs[impl.item_id]
        d = depts[impl.department_id]
        f = ItemFields.model_validate(v.fields)
        default_form = forms.default_form(for_enterprise=f.for_enterprises and not f.for_persons)
        form = "" if v.form in (None, default_form) else orjson.dumps(v.form).decode()
        row = [
            impl.impl_code,
            items[impl.item_id].base_code,
            impl.region_code,
            d.name,
            d.credit_code or "",
        ]
        row += [str(v.local.get(key, "")) for _, key in LOCAL_COLUMNS] + [form]
        for col in ITEM_COLUMNS:
            mine, theirs = col.get(v.fields), col.get(base)
            row.append("" if mine == theirs else (mine or EMPTY))
        impl_rows.append(row)
    return ExportData(base_rows, impl_rows)


def _help_rows() -> list[list[str]]:
    rows = [["工作表", "列名", "填写说明", "示例"]]
    for h, help_, ex in BASE_KEY_COLUMNS:
        rows.append([BASE_SHEET, h, help_, ex])
    for c in ITEM_COLUMNS:
        rows.append([BASE_SHEET, c.header, c.help, c.example])
    for h, help_, ex in IMPL_KEY_COLUMNS:
        rows.append([IMPL_SHEET, h, help_, ex])
    for h, key in LOCAL_COLUMNS:
        rows.append([IMPL_SHEET, h, LOCAL_HELP[key], ""])
    rows.append([IMPL_SHEET, FORM_HEADER, "申请表单定义（JSON），留空使用默认表单", ""])
    rows.append(
        [
            IMPL_SHEET,
            "（事项要素各列）",
            f"与基本目录相同的列；留空表示与基本目录一致，填“{EMPTY}”表示该要素为空",
            "",
        ]
    )
    return rows


def to_xlsx(data: ExportData) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    wb = Workbook(write_only=True)
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")

    def sheet(title: str, header: list[str], rows: list[list[str]], widths: dict[int, int]) -> None:
        ws = wb.create_sheet(title)
        for i, w in widths.items():
            ws.column_dimensions[_col_letter(i)].width = w
        ws.freeze_panes = "B2"
        head = []
        for h in header:
            c = WriteOnlyCell(ws, h)
            c.font = bold
            head.append(c)
        ws.append(head)
        for r in rows:
            out: list[Any] = []
            for v in r:
                if v == "":
                    out.append(None)  # no cell at all: smaller files, faster to read back
                    continue
                c = WriteOnlyCell(ws, v)
                c.data_type = "s"  # text, never a formula: a cell starting with "=" stays text
                if "\n" in v:
                    c.alignment = wrap
                out.append(c)
            ws.append(out)

    sheet(BASE_SHEET, BASE_HEADERS, data.base_rows, {1: 16, 5: 30, 12: 50})
    sheet(IMPL_SHEET, IMPL_HEADERS, data.impl_rows, {1: 34, 2: 16, 4: 24, 13: 30})
    sheet(HELP_SHEET, _help_rows()[0], _help_rows()[1:], {1: 10, 2: 18, 3: 80, 4: 40})
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i)


def to_csv(header: list[str], rows: list[list[str]]) -> bytes:
    """UTF-8 with a BOM, so that Excel opens it as Chinese text."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


async def export_catalogue(
    session: AsyncSession, actor: Actor, *, fmt: str = "xlsx", region_code: str | None = None
) -> dict[str, bytes]:
    """``{file name: bytes}``: one xlsx workbook, or two CSV files (基本目录, 实施清单)."""
    data = await collect_export(session, actor, region_code=region_code)
    if fmt == "xlsx":
        return {"catalogue.xlsx": to_xlsx(data)}
    if fmt == "csv":
        return {
            f"{BASE_SHEET}.csv": to_csv(BASE_HEADERS, data.base_rows),
            f"{IMPL_SHEET}.csv": to_csv(IMPL_HEADERS, data.impl_rows),
        }
    raise ValidationFailed(f"不支持的导出格式：{fmt}（可为 xlsx 或 csv）", code="export_format")


def blank_template() -> bytes:
    """The xlsx template with headers, the help sheet and no rows."""
    return to_xlsx(ExportData([], []))


def columns_markdown(sheet: str = BASE_SHEET) -> str:
    """The column table of one sheet for docs/catalogue-template.md (a test keeps them in step)."""
    out = ["| 列名 | 填写说明 | 示例 |", "|---|---|---|"]

    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", "<br>")

    if sheet == BASE_SHEET:
        rows = [*BASE_KEY_COLUMNS, *((c.header, c.help, c.example) for c in ITEM_COLUMNS)]
    else:
        rows = [
            *IMPL_KEY_COLUMNS,
            *((h, LOCAL_HELP[k], "") for h, k in LOCAL_COLUMNS),
            (
                FORM_HEADER,
                "申请表单定义（JSON Schema + 界面提示，见 catalogue/forms.py）；留空使用默认表单",
                "",
            ),
        ]
    for h, help_, ex in rows:
        out.append(f"| {h} | {esc(help_)} | {esc(ex)} |")
    return "\n".join(out)


# --- the command line's actor -------------------------------------------------------------------


@dataclass(frozen=True)
class _CommandLineActor(Actor):
    @property
    def ref(self) -> str:
        return "cli"


def command_line_actor(region_code: str) -> Actor:
    """Whoever runs ``tongban catalogue import`` acts as a platform administrator
    of the province of ``region_code`` (they hold the database already); the
    audit log names them ``cli``."""
    return _CommandLineActor(
        kind="staff",
        account_id=None,
        display_name="命令行导入",
        region_code=_province_of(_normalise_region(region_code)),
        via="system",
        roles=frozenset({"platform_admin"}),
    )


def regions_in(sources: list[Source]) -> set[str]:
    """The implementing regions a file names (so the command line can pick its actor)."""
    out: set[str] = set()
    for t in read_sources(sources):
        col = (
            "areaCode"
            if t.kind == "sichuan"
            else ("实施区划代码" if t.kind == "impl" else "所属区划代码")
        )
        for _line, cells in t.rows:
            try:
                code = _normalise_region(cells.get(col, ""))
            except CellError:
                continue
            if code != NATIONAL:
                out.add(code)
    return out
