"""Code sets and item codes of the service catalogue (GB/T 39046-2020, STANDARDS §1).

Code sets are ``{code: 中文名}`` dicts, in the national numbering. Item codes are
stored as strings and validated per *scheme* (STANDARDS: "validate structure
per configured scheme, never assume one length"):

- 基本编码 (``base code``), scheme ``gbt39046``: 12 characters = 2 scope ("00"
  national, else the province's two digits) + 2 item type + 5 main item +
  3 sub-item ("000" when none; may be alphanumeric).
- 实施编码 (``implementation code``):
  ``gbt39046``: implementing body's 统一社会信用代码 (18) + 行使层级 (1) + 基本编码 (12);
  ``sichuan``: ``<事项编码>-<区划 12>-<3>-<实施主体编码>-<1>-<2>``, as the real
  Sichuan data in ``data/service_items_guangan`` (``511Z07001006-511602000000-000-
  11511301008778183N-1-00``); the item code part may itself contain dashes
  (``G-000007-001``), so the code is read from the right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ITEM_TYPES = {  # 事项类型, GB/T 39046 A.1
    "00": "行政权力事项",
    "01": "行政许可",
    "02": "行政处罚",
    "03": "行政强制",
    "04": "行政征收",
    "05": "行政给付",
    "06": "行政检查",
    "07": "行政确认",
    "08": "行政奖励",
    "09": "行政裁决",
    "10": "其他行政权力",
    "20": "公共服务",
}
# "11…" and "21…" are extension codes: accepted, shown as their family.
EXTENSION_TYPE_FAMILIES = {"1": "其他行政权力（扩展）", "2": "公共服务（扩展）"}

EXERCISE_LEVELS = {  # 行使层级
    "1": "国家级",
    "2": "省级",
    "3": "市级",
    "4": "县级",
    "5": "镇（乡、街道）级",
    "6": "村（社区）级",
    "7": "分级管理",
}
BODY_KINDS = {"1": "法定机关", "2": "授权组织", "3": "受委托组织", "9": "其他"}  # 实施主体性质
SERVICE_OBJECTS = {  # 服务对象
    "1": "自然人",
    "2": "企业法人",
    "3": "事业法人",
    "4": "社会组织法人",
    "5": "行政机关",
    "6": "其他组织",
}
HANDLING_FORMS = {
    "1": "窗口办理",
    "2": "网上办理（电脑端）",
    "3": "移动端办理",
    "4": "快递申请",
    "9": "其他",
}
CASE_TYPES = {"1": "即办件", "2": "承诺件", "9": "其他"}  # 办件类型
SPECIAL_PROCEDURE_KINDS = {"1": "延长审批", "2": "除延长审批之外的特别程序"}
LIMIT_UNITS = {"working_day": "个工作日", "natural_day": "个自然日", "hour": "小时"}
TONGBAN_SCOPES = {
    "": "不通办",
    "national": "全国通办",
    "cross_province": "跨省通办",
    "cross_city": "跨市通办",
    "cross_county": "跨县通办",
}
ONLINE_DEPTHS = {  # 网办深度 Ⅰ–Ⅳ; exact Ⅰ–Ⅲ definitions are [U]: labels only
    1: "Ⅰ级（信息公开）",
    2: "Ⅱ级（在线预审）",
    3: "Ⅲ级（网上受理，现场核验）",
    4: "Ⅳ级（全程网办）",
}
RESULT_KINDS = {"licence": "证照", "document": "批文或文书", "none": "无结果物"}

# Region level (core.scope.level_of: 1 省 … 5 村) → 行使层级 of an implementation there.
LEVEL_OF_REGION = {1: "2", 2: "3", 3: "4", 4: "5", 5: "6"}


def item_type_label(code: str) -> str:
    if code in ITEM_TYPES:
        return ITEM_TYPES[code]
    if len(code) == 2 and code[0] in EXTENSION_TYPE_FAMILIES:
        return EXTENSION_TYPE_FAMILIES[code[0]]
    return code


def is_item_type(code: str) -> bool:
    return code in ITEM_TYPES or bool(re.fullmatch(r"[12][1-9]", code))


class CodeError(ValueError):
    """A code that does not follow its scheme. ``code`` is stable, ``message`` Chinese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class BaseCode:
    value: str
    scope: str  # "00" national, else the province's two digits
    item_type: str
    main: str
    sub: str

    @property
    def is_national(self) -> bool:
        return self.scope == "00"


_BASE_RE = re.compile(r"(?P<scope>\d{2})(?P<type>\d{2})(?P<main>\d{5})(?P<sub>[0-9A-Z]{3})")


def parse_base_code(value: str) -> BaseCode:
    """Parse a 12-character GB/T 39046 基本编码; raise ``CodeError`` naming what is wrong."""
    v = (value or "").strip().upper()
    if len(v) != 12:
        raise CodeError("base_code_length", f"基本编码应为 12 位，实际 {len(v)} 位：{value}")
    m = _BASE_RE.fullmatch(v)
    if not m:
        raise CodeError(
            "base_code_format",
            f"基本编码格式不正确：{value}（应为 2 位范围 + 2 位事项类型 + 5 位主项 + 3 位子项）",
        )
    if not is_item_type(m["type"]):
        raise CodeError(
            "base_code_type", f"基本编码中的事项类型 {m['type']} 不是国家标准代码：{value}"
        )
    return BaseCode(v, m["scope"], m["type"], m["main"], m["sub"])


@dataclass(frozen=True, slots=True)
class ImplementationCode:
    value: str
    scheme: str
    item_code: str  # the 事项编码 / 基本编码 part
    body_code: str  # 实施主体编码 (统一社会信用代码 when well formed)
    level: str = ""  # 行使层级 digit (gbt39046) or the scheme's level digit
    area_code: str = ""  # 12-digit region (sichuan)
    unit: str = ""  # sichuan: the 3-digit segment after the region
    handling: str = ""  # sichuan: 业务办理项 (last two digits)
    complete: bool = True  # False: a known shape with parts missing (reported, kept)


_GB_IMPL_RE = re.compile(r"(?P<body>[0-9A-HJ-NPQRTUWXY]{18})(?P<level>[1-7])(?P<base>[0-9A-Z]{12})")
# The body may be an old 组织机构代码 written with its check digit after a dash
# (GB 11714: ``00877868-5``), as 16 rows of the Guang'an data are.
_SC_TAIL_RE = re.compile(
    r"(?P<item>.+?)-(?P<area>\d{12})-(?P<unit>[0-9A-Z]{3})-(?P<body>[0-9A-Z]{8}-[0-9A-Z]|[0-9A-Z]+)-(?P<level>\d)-(?P<handling>\d{2})"
)
_SC_SHORT_RE = re.compile(r"(?P<item>[A-Z0-9]+(?:-[0-9A-Z]+)*)-(?P<body>[0-9A-Z]{9,18})")

IMPLEMENTATION_SCHEMES = ("gbt39046", "sichuan")


def parse_implementation_code(value: str, scheme: str = "auto") -> ImplementationCode:
    """Parse a 实施编码 under ``scheme`` (``auto`` tries each known scheme)."""
    v = (value or "").strip().upper()
    if not v:
        raise CodeError("impl_code_empty", "实施编码不能为空")
    if len(v) > 80:
        raise CodeError("impl_code_length", f"实施编码过长（{len(v)} 位，最多 80 位）")
    schemes = IMPLEMENTATION_SCHEMES if scheme == "auto" else (scheme,)
    for s in schemes:
        if s == "gbt39046":
            m = _GB_IMPL_RE.fullmatch(v)
            if m:
                return ImplementationCode(v, s, m["base"], m["body"], m["level"])
        elif s == "sichuan":
            m = _SC_TAIL_RE.fullmatch(v)
            if m:
                return ImplementationCode(
                    v, s, m["item"], m["body"], m["level"], m["area"], m["unit"], m["handling"]
                )
            m = _SC_SHORT_RE.fullmatch(v)
            if m and "-" in m["item"]:  # E-000004-001-<body>: region and level missing
                return ImplementationCode(v, s, m["item"], m["body"], complete=False)
        else:
            raise CodeError("impl_code_scheme", f"未知的实施编码规则：{s}")
    names = "、".join(schemes)
    raise CodeError("impl_code_format", f"实施编码不符合编码规则（{names}）：{value}")


def make_implementation_code(body_credit_code: str, level: str, base_code: str) -> str:
    """A GB/T 39046 实施编码: credit code (18) + 行使层级 (1) + 基本编码 (12)."""
    return f"{body_credit_code}{level}{base_code}"
