"""证照标识 (GB/T 36904-2018 电子证照 标识规范): make, parse and check.

    1.2.156.3005.2.<证照类型代码>.<颁发机构代码>.<流水号>.<版本号>.<校验位>

- 证照类型代码: the defining body's 统一社会信用代码 (18) + a 3-digit sequence;
- 颁发机构代码: the issuer's 统一社会信用代码 (18);
- 流水号: 7–32 digits and capital letters, unique per type and issuer;
- 版本号: 3 digits, 001 for the first version, +1 at each change (变更);
- 校验位: ISO/IEC 7064 MOD 37,36 over 类型代码 + 机构代码 + 流水号 + 版本号
  concatenated without dots and without the root OID (STANDARDS §4, checked
  against the real identifier in the tests).

Pure functions, no database. Errors are ``InvalidLicenceIdentifier`` with a
Chinese message and a stable code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tongban.core.errors import ValidationFailed
from tongban.core.identifiers import InvalidIdentifier, validate_credit_code

ROOT = "1.2.156.3005.2"
# ISO/IEC 7064 MOD 37,36: the 36 characters, valued 0–35 in this order.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_TYPE_CODE = re.compile(r"^[0-9A-Z]{18}[0-9]{3}$")
_SERIAL = re.compile(r"^[0-9A-Z]{7,32}$")
_VERSION = re.compile(r"^[0-9]{3}$")
MAX_VERSION = 999


class InvalidLicenceIdentifier(ValidationFailed):
    code = "invalid_licence_identifier"
    message = "证照标识格式不正确"


def check_char(text: str) -> str:
    """ISO/IEC 7064 MOD 37,36 (hybrid system, M = 36) check character of ``text``."""
    p = 36
    for ch in text:
        v = _VALUE.get(ch)
        if v is None:
            raise InvalidLicenceIdentifier(
                f"证照标识含有不允许的字符“{ch}”（只允许数字和大写字母）"
            )
        s = (p + v) % 36 or 36
        p = (s * 2) % 37
    return ALPHABET[(37 - p) % 36]


def check_type_code(code: str, *, validate_body: bool = True) -> str:
    """A 证照类型代码 (21 characters), upper-cased; the first 18 must be a valid credit code."""
    code = (code or "").strip().upper()
    if not _TYPE_CODE.match(code):
        raise InvalidLicenceIdentifier(
            "证照类型代码应为 21 位：定义机构的统一社会信用代码（18 位）加 3 位顺序号",
            code="invalid_licence_type_code",
        )
    if validate_body:
        try:
            validate_credit_code(code[:18])
        except InvalidIdentifier as e:
            raise InvalidLicenceIdentifier(
                f"证照类型代码的前 18 位不是有效的统一社会信用代码：{e.message}",
                code="invalid_licence_type_code",
            ) from e
    return code


def check_issuer_code(code: str) -> str:
    code = (code or "").strip().upper()
    try:
        validate_credit_code(code)
    except InvalidIdentifier as e:
        raise InvalidLicenceIdentifier(
            f"颁发机构代码不是有效的统一社会信用代码：{e.message}", code="invalid_issuer_code"
        ) from e
    return code


@dataclass(frozen=True)
class LicenceIdentifier:
    type_code: str
    issuer_code: str
    serial: str
    version: int

    @property
    def check(self) -> str:
        return check_char(f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}")

    def __str__(self) -> str:
        return f"{ROOT}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check}"

    def with_version(self, version: int) -> LicenceIdentifier:
        return make(self.type_code, self.issuer_code, self.serial, version, validate_codes=False)


def make(
    type_code: str, issuer_code: str, serial: str, version: int = 1, *, validate_codes: bool = True
) -> LicenceIdentifier:
    """A new identifier; ``validate_codes`` also checks both credit codes' own check characters."""
    if validate_codes:
        type_code, issuer_code = check_type_code(type_code), check_issuer_code(issuer_code)
    else:
        type_code, issuer_code = type_code.upper(), issuer_code.upper()
    serial = (serial or "").strip().upper()
    if not _SERIAL.match(serial):
        raise InvalidLicenceIdentifier(
            "流水号应为 7 至 32 位数字或大写字母", code="invalid_licence_serial"
        )
    if not 1 <= version <= MAX_VERSION:
        raise InvalidLicenceIdentifier("版本号应在 001 至 999 之间", code="invalid_licence_version")
    return LicenceIdentifier(type_code, issuer_code, serial, version)


def parse(text: str, *, validate_codes: bool = False) -> LicenceIdentifier:
    """Parse and check an identifier; ``InvalidLicenceIdentifier`` says what is wrong, in Chinese.

    ``validate_codes`` also checks the two embedded credit codes' own check
    characters (off by default: identifiers issued elsewhere are read as they are).
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidLicenceIdentifier("请填写证照标识")
    if len(raw) > 160:
        raise InvalidLicenceIdentifier("证照标识过长")
    if not raw.startswith(ROOT + "."):
        raise InvalidLicenceIdentifier(f"证照标识应以 {ROOT}. 开头")
    parts = raw[len(ROOT) + 1 :].split(".")
    if len(parts) != 5:
        raise InvalidLicenceIdentifier(
            "证照标识应由类型代码、颁发机构代码、流水号、版本号和校验位五段组成，以“.”分隔"
        )
    type_code, issuer_code, serial, version, check = (p.upper() for p in parts)
    if not _TYPE_CODE.match(type_code):
        raise InvalidLicenceIdentifier(
            "证照标识中的证照类型代码应为 21 位（18 位统一社会信用代码加 3 位数字）"
        )
    if not re.fullmatch(r"[0-9A-Z]{18}", issuer_code):
        raise InvalidLicenceIdentifier("证照标识中的颁发机构代码应为 18 位统一社会信用代码")
    if not _SERIAL.match(serial):
        raise InvalidLicenceIdentifier("证照标识中的流水号应为 7 至 32 位数字或大写字母")
    if not _VERSION.match(version) or version == "000":
        raise InvalidLicenceIdentifier("证照标识中的版本号应为 3 位数字（从 001 起）")
    if len(check) != 1:
        raise InvalidLicenceIdentifier("证照标识的校验位应为 1 位")
    ident = LicenceIdentifier(type_code, issuer_code, serial, int(version))
    if ident.check != check:
        raise InvalidLicenceIdentifier(
            "证照标识校验位不正确，请核对是否抄录有误", code="licence_identifier_check_failed"
        )
    if validate_codes:
        check_type_code(type_code)
        check_issuer_code(issuer_code)
    return ident


def is_identifier(text: str) -> bool:
    return (text or "").strip().startswith(ROOT + ".")
