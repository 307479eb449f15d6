"""证照汇聚: bulk import of historical licences from CSV or xlsx, sealed with the
issuing department's seal.

One file holds licences of one type issued by one department. The columns
(first row) are the GB/T 36903 metadata — 证照编号, 持证主体, 持证主体代码,
颁证日期, 有效期起始 (default: 颁证日期), 有效期截止 (default: the type's
validity rule; "长期" for none) — and the type's fields, headed by their title
(``field_schema.properties.*.title``) or name. See ``docs/licences.md``.

1. **Check every row first** (``check``): required columns, holder codes
   (GB 11643 / GB 32100 check characters), dates, the type's field rules,
   numbers repeated in the file — every error with its row number (the header
   is row 1). Any error: nothing is written.
2. **Write in chunks** (``import_chunk``): rows already imported (same 证照类型代码
   and 证照编号) are skipped, so running a file again imports nothing twice;
   the others get a 流水号 ``H<batch, 6+ digits>R<row, 7+ digits>`` — unique per
   type and issuer as GB/T 36904 asks, and taken from nothing shared, so
   imports neither wait for nor hold the type's issuance counter (whose own
   流水号 are ``<yyyy><7 digits>``: the two never meet) —, a GB/T 36904
   identifier, the seal's signature (the same SES_Signature the core writes:
   ``service.licence_document`` signed as ``seals.sign_document`` does) and the
   QR payload, and are written with their
   history rows (``import``) — on PostgreSQL by ``COPY`` through the
   connection's asyncpg driver, on SQLite by ``executemany`` — plus one audit
   entry per chunk.
3. **Checkpoint** (``LicenceImport.next_row``): the command line commits each
   chunk together with the row it reached, so an interrupted run resumes
   there (``import_file``).

Signing is the cost (two signatures per licence: the SES_Signature and the QR
payload); the canonical JSON is produced by orjson with sorted keys, which is
byte-identical to ``crypto.canonical`` for the NFC strings and small integers
a checked row holds (strings are normalised and control characters refused
at the check; anything else falls back to ``crypto.canonical``).
"""

from __future__ import annotations

import asyncio
import binascii
import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core import audit
from tongban.core.clock import now
from tongban.core.db import lock_for_update, session_scope
from tongban.core.errors import Conflict, NotFound, ValidationFailed
from tongban.core.identifiers import InvalidIdentifier, validate_credit_code, validate_resident_id
from tongban.identity.access import SYSTEM, Actor
from tongban.identity.models import Enterprise, Person
from tongban.licences import (
    access,
    crypto,
    identifier,
    payload,
    seals,
    service,
    wallet,
    wallet_models,
)
from tongban.licences.models import Licence, LicenceType, Seal
from tongban.licences.wallet_models import LicenceImport
from tongban.regions.models import Department

log = logging.getLogger("tongban.licences")

CHUNK = 1000  # rows per write (and per checkpoint)
MAX_ERRORS_KEPT = 1000  # errors listed in a report (all are counted)
MAX_API_ROWS = 50_000  # rows per file through the API (the command line takes any size)
YIELD_EVERY = 32  # licences signed between two yields to the event loop (~3 ms)
KEEP_ROWS = 200_000  # the command line holds the checked rows of a file up to this size (else reads it twice)

META_COLUMNS: dict[str, str] = {
    "证照编号": "number",
    "编号": "number",
    "number": "number",
    "持证主体": "holder_name",
    "持证人": "holder_name",
    "持证主体名称": "holder_name",
    "holder_name": "holder_name",
    "持证主体代码": "holder_code",
    "证件号码": "holder_code",
    "公民身份号码": "holder_code",
    "统一社会信用代码": "holder_code",
    "holder_code": "holder_code",
    "颁证日期": "issued_on",
    "发证日期": "issued_on",
    "issued_on": "issued_on",
    "有效期起始": "valid_from",
    "有效期自": "valid_from",
    "有效期开始": "valid_from",
    "valid_from": "valid_from",
    "有效期截止": "valid_until",
    "有效期至": "valid_until",
    "有效期结束": "valid_until",
    "valid_until": "valid_until",
}
META_LABELS = {
    "number": "证照编号",
    "holder_name": "持证主体",
    "holder_code": "持证主体代码",
    "issued_on": "颁证日期",
    "valid_from": "有效期起始",
    "valid_until": "有效期截止",
}
REQUIRED_META = ("number", "holder_name", "holder_code", "issued_on")
LONG_TERM = {"长期", "长期有效", "永久", "无固定期限"}
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_DIGITS_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TRUE = {"是", "true", "True", "TRUE", "1", "Y", "y", "有"}
_FALSE = {"否", "false", "False", "FALSE", "0", "N", "n", "无"}


class ImportRejected(ValidationFailed):
    """The file failed the check: nothing was written; ``report`` lists the errors by row."""

    code = "licence_import_invalid"
    message = "导入文件未通过校验，未写入任何证照"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"导入文件有 {report.error_count} 处错误，未写入任何证照", details=report.to_dict()
        )
        self.report = report


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return (
            f"第 {self.row} 行"
            + (f"「{self.column}」" if self.column else "")
            + f"：{self.message}"
        )


@dataclass
class ImportReport:
    """What an import did (or would do): counts and the errors by row."""

    file_name: str
    type_code: str
    department_id: int
    total: int = 0
    imported: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)
    job_id: int | None = None
    resumed_from: int | None = None
    dry_run: bool = False
    seconds: float = 0.0

    def add_error(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(RowError(row, column, message))

    def summary(self) -> str:
        rate = (
            f"，{self.imported / self.seconds:,.0f} 份/秒"
            if self.seconds > 0 and self.imported
            else ""
        )
        head = "校验通过（未写入）" if self.dry_run else "导入完成"
        return f"{head}：共 {self.total} 行，导入 {self.imported} 份，跳过已导入 {self.skipped} 份{rate}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "file_name": self.file_name,
            "type_code": self.type_code,
            "department_id": self.department_id,
            "total": self.total,
            "imported": self.imported,
            "skipped": self.skipped,
            "error_count": self.error_count,
            "errors": [
                {"row": e.row, "column": e.column, "message": e.message} for e in self.errors
            ],
            "warnings": self.warnings,
            "resumed_from": self.resumed_from,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
        }


# --- reading the file ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """An xlsx cell as text: dates as ISO dates, whole numbers without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            if (
                abs(value) >= 1e15
            ):  # Excel keeps 15 digits: an ID number typed as a number is already wrong
                return "\x00precision"
            return str(int(value))
        return repr(value)
    return str(value)


def read_rows(name: str, data: bytes) -> Iterator[list[str]]:
    """The file's rows as lists of text (CSV in UTF-8 or GB 18030, or the first sheet of an xlsx)."""
    if name.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as e:
            raise ValidationFailed(
                "无法读取 Excel 文件，请确认是 .xlsx 格式", code="unreadable_file"
            ) from e
        try:
            ws = wb.worksheets[0]
            rows = ws.iter_rows(values_only=True)
            while True:
                try:  # openpyxl parses each row as it is read: a malformed sheet fails here
                    row = next(rows)
                except StopIteration:
                    break
                except Exception as e:
                    raise ValidationFailed(
                        "无法读取 Excel 文件，请确认是 .xlsx 格式", code="unreadable_file"
                    ) from e
                yield [_cell(v) for v in row]
        finally:
            wb.close()
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as e:
            raise ValidationFailed(
                "无法识别文件编码，请保存为 UTF-8 编码的 CSV", code="unreadable_file"
            ) from e
    yield from csv.reader(io.StringIO(text, newline=""))


# --- the type's fields: conversion and a fast check --------------------------------------------------------

_SIMPLE_TOP = {
    "type",
    "properties",
    "required",
    "title",
    "description",
    "additionalProperties",
    "$schema",
    "$id",
    "$comment",
    "examples",
    "default",
}
_SIMPLE_PROP = {
    "type",
    "title",
    "description",
    "maxLength",
    "minLength",
    "pattern",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "format",
    "default",
    "examples",
    "$comment",
}
_MESSAGES = {
    "required": "必填项未填写",
    "type": "类型不正确",
    "maxLength": "内容太长",
    "minLength": "内容太短",
    "pattern": "格式不正确",
    "enum": "取值不在允许范围内",
    "const": "取值不在允许范围内",
    "maximum": "数值太大",
    "minimum": "数值太小",
    "exclusiveMaximum": "数值太大",
    "exclusiveMinimum": "数值太小",
    "additionalProperties": "包含不允许的字段",
}


@dataclass(frozen=True)
class FieldRule:
    name: str
    label: str
    kind: str  # string | integer | boolean
    checks: tuple[tuple[str, Any], ...]


def _simple(schema: dict[str, Any]) -> bool:
    """The schema uses only what ``FieldRule`` checks (else jsonschema checks each row)."""
    if not set(schema) <= _SIMPLE_TOP or schema.get("type", "object") != "object":
        return False
    for prop in (schema.get("properties") or {}).values():
        if not isinstance(prop, dict) or not set(prop) <= _SIMPLE_PROP:
            return False
        if prop.get("type", "string") not in ("string", "integer", "boolean", "number"):
            return False
    return True


def field_rules(schema: dict[str, Any]) -> list[FieldRule]:
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        kind = prop.get("type", "string")
        kind = (
            "integer"
            if kind == "number"
            else kind
            if kind in ("string", "integer", "boolean")
            else "string"
        )
        checks = []
        for key in (
            "maxLength",
            "minLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "enum",
            "const",
        ):
            if key in prop:
                checks.append((key, prop[key]))
        if "pattern" in prop:
            checks.append(("pattern", re.compile(prop["pattern"])))
        out.append(FieldRule(str(name), str(prop.get("title") or name), kind, tuple(checks)))
    return out


def _fails(check: str, arg: Any, value: Any) -> bool:
    if check == "maxLength":
        return isinstance(value, str) and len(value) > arg
    if check == "minLength":
        return isinstance(value, str) and len(value) < arg
    if check == "pattern":
        return isinstance(value, str) and arg.search(value) is None
    if check == "enum":
        return value not in arg
    if check == "const":
        return value != arg
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    if check == "minimum":
        return value < arg
    if check == "maximum":
        return value > arg
    if check == "exclusiveMinimum":
        return value <= arg
    if check == "exclusiveMaximum":
        return value >= arg
    return False


# --- the check ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    row: int
    number: str
    holder_name: str
    holder_code: str
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    data: dict[str, Any]


def _text(value: str) -> str:
    value = value.strip()
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    return value


def _has_control(value: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) if not value.isprintable() else False


def parse_date(value: str) -> dt.date:
    m = _DATE_RE.match(value) or _DIGITS_DATE.match(value)
    if not m:
        raise ValueError(value)
    return dt.date(int(m[1]), int(m[2]), int(m[3]))


class Plan:
    """How one file's columns map onto a licence type, and the per-row check."""

    def __init__(self, lt: LicenceType, header: list[str], *, today: dt.date) -> None:
        self.lt = lt
        self.today = today
        self.person = lt.holder_kind != "enterprise"
        schema = lt.field_schema or {"type": "object"}
        self.rules = field_rules(schema)
        self.required = [str(r) for r in schema.get("required") or []]
        self.slow = None if _simple(schema) else Draft202012Validator(schema)
        by_label: dict[str, str] = {}
        for r in self.rules:
            by_label[r.name] = r.name
            by_label[r.label] = r.name
        self.meta: dict[str, int] = {}
        self.fields: list[tuple[int, FieldRule]] = []
        self.header_errors: list[RowError] = []
        self.warnings: list[str] = []
        rules = {r.name: r for r in self.rules}
        seen: set[str] = set()
        for i, raw in enumerate(header):
            col = _text(raw or "").lstrip("\ufeff")
            if not col:
                continue
            key = META_COLUMNS.get(col)
            target = key or by_label.get(col)
            if target is None:
                self.warnings.append(f"忽略未知的列「{col}」")
                continue
            if target in seen:
                self.header_errors.append(RowError(1, col, "列重复"))
                continue
            seen.add(target)
            if key:
                self.meta[key] = i
            else:
                self.fields.append((i, rules[target]))
        for key in REQUIRED_META:
            if key not in self.meta:
                self.header_errors.append(RowError(1, META_LABELS[key], "缺少该列"))
        for name in self.required:
            if name not in seen and name in rules:
                self.header_errors.append(RowError(1, rules[name].label, "缺少该列（必填字段）"))
        self.width = len(header)
        # the columns of the metadata, in the order ``parse`` reads them (None: absent)
        self._meta_ix = tuple(
            self.meta.get(k)
            for k in (
                "number",
                "holder_name",
                "holder_code",
                "issued_on",
                "valid_from",
                "valid_until",
            )
        )
        self._codes: dict[str, str] = {}  # holder codes already checked in this file
        # validity ends by start date (the type's rule), or why there is none
        self._ends: dict[dt.date, dt.date | ValidationFailed | None] = {}

    @staticmethod
    def _date(text: str, key: str, bad: Callable[[str, str], None]) -> dt.date | None:
        try:
            return parse_date(text)
        except ValueError:
            bad(META_LABELS[key], "日期格式不正确（应为 2020-01-31）")
            return None

    def parse(self, row_no: int, cells: list[str], report: ImportReport) -> Row | None:
        """One row checked and converted, or None with its errors added to ``report``."""
        errors_before = report.error_count

        def bad(column: str, message: str) -> None:
            report.add_error(row_no, column, message)

        # One scan of the whole row: printable text has no control character (nor
        # the xlsx reader's precision marker); only a row with some looks cell by cell.
        if not "".join(cells).isprintable():
            for c in cells:
                if c and (c == "\x00precision" or _has_control(c)):
                    bad(
                        "",
                        "单元格数值超出 Excel 精度，请将该列设置为文本格式"
                        if c == "\x00precision"
                        else "包含换行或控制字符",
                    )
                    return None
        width = len(cells)
        number, holder_name, code_text, issued_text, from_text, until_text = (
            _text(cells[i]) if i is not None and i < width else "" for i in self._meta_ix
        )
        if not number:
            bad("证照编号", "必填项未填写")
        elif len(number) > 64:
            bad("证照编号", "超过 64 个字符")
        if not holder_name:
            bad("持证主体", "必填项未填写")
        elif len(holder_name) > 200:
            bad("持证主体", "超过 200 个字符")
        raw_code = code_text.replace(" ", "").upper()
        code = self._codes.get(raw_code, "")
        if not code:
            try:
                code = (
                    validate_resident_id(raw_code, today=self.today).number
                    if self.person
                    else validate_credit_code(raw_code).code
                )
                self._codes[raw_code] = code
            except InvalidIdentifier as e:
                bad("持证主体代码", e.message)
        issued = valid_from = valid_until = None
        if not issued_text:
            bad(META_LABELS["issued_on"], "必填项未填写")
        else:
            issued = self._date(issued_text, "issued_on", bad)
        if from_text:
            valid_from = self._date(from_text, "valid_from", bad)
        long_term = until_text in LONG_TERM
        if until_text and not long_term:
            valid_until = self._date(until_text, "valid_until", bad)
        if issued is not None and issued > self.today:
            bad("颁证日期", "晚于今天")
        valid_from = valid_from or issued
        if valid_until is None and valid_from is not None and not long_term:
            ends = self._ends
            if valid_from not in ends:
                try:
                    ends[valid_from] = service.validity_end(self.lt, valid_from)
                except ValidationFailed as e:  # past year 9999
                    ends[valid_from] = e
            end = ends[valid_from]
            if isinstance(end, ValidationFailed):
                bad(META_LABELS["valid_from"], end.message)
            else:
                valid_until = end
        if valid_from is not None and valid_until is not None and valid_until < valid_from:
            bad("有效期截止", "早于有效期起始")
        data: dict[str, Any] = {}
        for i, rule in self.fields:
            text = _text(cells[i]) if i < width else ""
            if not text:
                continue
            value: Any = text
            if rule.kind == "integer":
                if not re.fullmatch(r"-?\d{1,15}", text):
                    bad(rule.label, "应为整数")
                    continue
                value = int(text)
            elif rule.kind == "boolean":
                if text not in _TRUE and text not in _FALSE:
                    bad(rule.label, "应填“是”或“否”")
                    continue
                value = text in _TRUE
            data[rule.name] = value
            if self.slow is None:
                for check, arg in rule.checks:
                    if _fails(check, arg, value):
                        bad(rule.label, _MESSAGES[check])
                        break
        if self.slow is None:
            for name in self.required:
                if name not in data:
                    bad(next((r.label for r in self.rules if r.name == name), name), "必填项未填写")
        else:
            labels = {r.name: r.label for r in self.rules}
            for err in self.slow.iter_errors(data):
                path = ".".join(str(p) for p in err.path)
                if err.validator == "required":
                    for m in err.validator_value:
                        if m not in data:
                            bad(labels.get(m, m), "必填项未填写")
                else:
                    bad(labels.get(path, path), _MESSAGES.get(str(err.validator), "取值无效"))
        if report.error_count > errors_before or issued is None or valid_from is None:
            return None
        return Row(row_no, number, holder_name, code, issued, valid_from, valid_until, data)


def check(
    lt: LicenceType, rows: Iterable[list[str]], report: ImportReport, *, today: dt.date
) -> Iterator[Row]:
    """Check every row (errors into ``report``); yield the good ones."""
    it = iter(rows)
    header = next(it, None)
    if header is None:
        report.add_error(1, "", "文件为空")
        return
    plan = Plan(lt, header, today=today)
    report.warnings.extend(plan.warnings)
    for e in plan.header_errors:
        report.add_error(e.row, e.column, e.message)
    if plan.header_errors:
        return
    numbers: dict[str, int] = {}
    for row_no, cells in enumerate(it, start=2):
        if not "".join(cells).strip():  # a blank row
            continue
        report.total += 1
        parsed = plan.parse(row_no, cells, report)
        if parsed is None:
            continue
        first = numbers.setdefault(parsed.number, row_no)
        if first != row_no:
            report.add_error(row_no, "证照编号", f"与第 {first} 行重复")
            continue
        yield parsed


# --- sealing ---------------------------------------------------------------------------------------------


def fast_canonical(obj: Any) -> bytes:
    """``crypto.canonical`` for checked rows: orjson with sorted keys gives the same bytes
    for NFC strings without control characters and 64-bit integers; anything else
    takes the reference path."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return crypto.canonical(obj)


class _Doc:
    """The attributes ``service.licence_document`` reads, without an ORM object."""

    __slots__ = (
        "data",
        "holder_code",
        "holder_code_type",
        "holder_name",
        "identifier",
        "issued_on",
        "issuer_code",
        "issuer_name",
        "name",
        "number",
        "region_code",
        "type_code",
        "type_name",
        "valid_from",
        "valid_until",
        "version",
    )

    def __init__(  # every attribute, by name (a loop of setattr costs ~2 µs a licence)
        self,
        *,
        data: dict[str, Any],
        holder_code: str,
        holder_code_type: str,
        holder_name: str,
        identifier: str,
        issued_on: dt.date,
        issuer_code: str,
        issuer_name: str,
        name: str,
        number: str,
        region_code: str,
        type_code: str,
        type_name: str,
        valid_from: dt.date,
        valid_until: dt.date | None,
        version: int,
    ) -> None:
        self.data = data
        self.holder_code = holder_code
        self.holder_code_type = holder_code_type
        self.holder_name = holder_name
        self.identifier = identifier
        self.issued_on = issued_on
        self.issuer_code = issuer_code
        self.issuer_name = issuer_name
        self.name = name
        self.number = number
        self.region_code = region_code
        self.type_code = type_code
        self.type_name = type_name
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.version = version


@dataclass(frozen=True)
class SealSpec:
    """What signing with one seal needs, as plain data (it crosses to the signing processes):
    the seal's key by reference (encrypted PKCS#8 or the key store's own reference), never
    the key itself."""

    algorithm: str
    key_id: str
    private_key_enc: str | None
    key_ref: str
    record: dict[str, str]
    seal_hash: str
    esid: str
    qr_fields: tuple[str, ...]


class Signing:
    """A seal ready to sign licences (a ``SealSpec`` and its loaded private key)."""

    def __init__(self, spec: SealSpec, signer: crypto.PrivateKey) -> None:
        self.spec = spec
        self.signer = signer

    def digest(self, data: bytes) -> bytes:
        if self.spec.algorithm == "ed25519":
            return hashlib.sha256(data).digest()
        return crypto.digest(self.spec.algorithm, data)

    def sign(self, doc: _Doc, at_text: str) -> tuple[dict[str, Any], str, str]:
        """(SES_Signature, canonical hash hex, QR payload) — as ``service._seal_licence`` makes them."""
        spec = self.spec
        alg = spec.algorithm
        data_digest = self.digest(fast_canonical(service.licence_document(doc)))  # type: ignore[arg-type]
        tbs = {
            "version": seals.SEAL_VERSION,
            "eseal": {"esID": spec.esid, "sealHash": spec.seal_hash},
            "timeInfo": at_text,
            "dataHash": crypto.b64u(data_digest),
            "hashAlgID": crypto.HASH_OIDS[alg],
            "propertyInfo": doc.identifier,
        }
        sig = {
            "TBS_Sign": tbs,
            "cert": spec.record,
            "signatureAlgID": crypto.SIGN_OIDS[alg],
            "signature": crypto.b64u(self.signer.sign(fast_canonical(tbs))),
        }
        extra = {
            n: doc.data[n]
            for n in spec.qr_fields
            if n in doc.data and isinstance(doc.data[n], str | int | bool)
        }
        claims = payload.claims_for(
            identifier=doc.identifier,
            name=doc.name,
            number=doc.number,
            holder_name=doc.holder_name,
            holder_code=doc.holder_code,
            holder_code_type=doc.holder_code_type,
            issuer_name=doc.issuer_name,
            issued_on=doc.issued_on.isoformat(),
            valid_from=doc.valid_from.isoformat(),
            valid_until=doc.valid_until.isoformat() if doc.valid_until else "",
            key_id=spec.key_id,
            extra=extra or None,
        )
        body = fast_canonical(claims)
        qr = f"{payload.PREFIX}.{crypto.b64u(body)}.{crypto.b64u(self.signer.sign(body))}"
        return sig, data_digest.hex(), qr

    def sign_texts(self, docs: list[_Doc], at_text: str) -> list[tuple[str, str, str]]:
        """Each doc's (SES_Signature JSON text, canonical hash hex, QR payload): what
        ``sign`` gives, the signature as ``_dumps`` writes it — the same bytes, made
        with the JSON parts that do not change from licence to licence written once
        (``tests/licences/test_bulk.py`` compares the two)."""
        spec = self.spec
        alg = spec.algorithm
        sign = self.signer.sign
        sha256 = hashlib.sha256 if alg == "ed25519" else None
        q = _json_str
        seal_part = f'{{"esID":{q(spec.esid)},"sealHash":{q(spec.seal_hash)}}}'
        # TBS_Sign canonical (keys sorted) and as stored (insertion order, as ``sign`` builds it)
        tbs_mid = f'","eseal":{seal_part},"hashAlgID":{q(crypto.HASH_OIDS[alg])},"propertyInfo":'
        tbs_end = f',"timeInfo":{q(at_text)},"version":{seals.SEAL_VERSION}}}'
        stored_head = (
            f'{{"TBS_Sign":{{"version":{seals.SEAL_VERSION},"eseal":{seal_part},'
            f'"timeInfo":{q(at_text)},"dataHash":"'
        )
        stored_mid = f'","hashAlgID":{q(crypto.HASH_OIDS[alg])},"propertyInfo":'
        stored_tail = (
            f'}},"cert":{_dumps(spec.record)},"signatureAlgID":{q(crypto.SIGN_OIDS[alg])},'
            '"signature":"'
        )
        qr_fields, key_id, prefix = spec.qr_fields, spec.key_id, payload.PREFIX + "."
        b64u, document = _b64u, service.licence_document
        out = []
        for doc in docs:
            canon = fast_canonical(document(doc))  # type: ignore[arg-type]
            data_digest = sha256(canon).digest() if sha256 else crypto.digest(alg, canon)
            data_hash = b64u(data_digest)
            ident = q(doc.identifier)
            tbs = f'{{"dataHash":"{data_hash}{tbs_mid}{ident}{tbs_end}'.encode()
            sig_text = (
                f'{stored_head}{data_hash}{stored_mid}{ident}{stored_tail}{b64u(sign(tbs))}"}}'
            )
            data = doc.data
            extra = {
                n: data[n] for n in qr_fields if n in data and isinstance(data[n], str | int | bool)
            }
            valid_until = doc.valid_until
            claims = payload.claims_for(
                identifier=doc.identifier,
                name=doc.name,
                number=doc.number,
                holder_name=doc.holder_name,
                holder_code=doc.holder_code,
                holder_code_type=doc.holder_code_type,
                issuer_name=doc.issuer_name,
                issued_on=doc.issued_on.isoformat(),
                valid_from=doc.valid_from.isoformat(),
                valid_until=valid_until.isoformat() if valid_until else "",
                key_id=key_id,
                extra=extra or None,
            )
            body = fast_canonical(claims)
            out.append((sig_text, data_digest.hex(), f"{prefix}{b64u(body)}.{b64u(sign(body))}"))
        return out


_B64_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64u(data: bytes) -> str:
    """``crypto.b64u`` (unpadded base64url) in one pass."""
    return binascii.b2a_base64(data, newline=False).translate(_B64_URLSAFE).rstrip(b"=").decode()


def _json_str(value: str) -> str:
    """A string as JSON text, as orjson writes it (in the signed and the stored forms alike)."""
    return orjson.dumps(value).decode()


@dataclass
class Sealer:
    """Everything signing a licence of one type by one department needs, computed once."""

    lt: LicenceType
    dept: Department
    seal: Seal
    signing: Signing
    name: str

    @classmethod
    async def for_department(
        cls, session: AsyncSession, lt: LicenceType, dept: Department
    ) -> Sealer:
        seal = await service.active_seal(session, dept)
        spec = SealSpec(
            algorithm=seal.algorithm,
            key_id=seal.key_id,
            private_key_enc=seal.private_key_enc,
            key_ref=seal.key_ref,
            record=seals.key_record(algorithm=seal.algorithm, public_pem=seal.public_key),
            seal_hash=seals.seal_hash(seal.document or {}, seal.algorithm),
            esid=(seal.document or {})["sealInfo"]["esID"],
            qr_fields=tuple(((lt.template or {}).get("qr_fields") or [])[:4]),
        )
        return cls(
            lt=lt,
            dept=dept,
            seal=seal,
            signing=Signing(spec, service.signer_for(seal)),
            name=(lt.template or {}).get("title") or lt.name,
        )

    def sign(self, doc: _Doc, at_text: str) -> tuple[dict[str, Any], str, str]:
        return self.signing.sign(doc, at_text)


# --- signing processes ---------------------------------------------------------------------------------
#
# Two signatures per licence are most of an import's CPU. One process signs on one
# core, and a web worker's event loop would be busy signing instead of serving; so
# large chunks are signed by a small pool of processes (``SIGNING_PROCESSES``,
# started on first use from a clean fork server). They receive the seal by
# reference (``SealSpec``: the private key still encrypted) and the deployment key
# that opens it, as the web worker itself holds it; a key store other than the
# software one (a hardware module) signs in the web worker instead. Any failure of
# the pool falls back to signing here.

SIGNING_PROCESSES = max(1, (os.cpu_count() or 2) - 1)
POOL_MIN_ROWS = 200  # smaller chunks are signed in the process (the round trip is not worth it)
_pools: dict[int, Any] = {}
_child_signings: dict[str, Signing] = {}


def _child_init(kek: bytes) -> None:
    crypto.configure_keystore(crypto.SoftwareKeyStore(kek))


def _child_sign(
    spec: SealSpec, docs: list[tuple[Any, ...]], at_text: str
) -> list[tuple[str, str, str]]:
    signing = _child_signings.get(spec.key_id)
    if signing is None:
        signer = crypto.keystore().signer(
            algorithm=spec.algorithm,
            key_id=spec.key_id,
            private_key_enc=spec.private_key_enc,
            key_ref=spec.key_ref,
        )
        signing = _child_signings[spec.key_id] = Signing(spec, signer)
    return signing.sign_texts(
        [_Doc(**dict(zip(_Doc.__slots__, d, strict=True))) for d in docs], at_text
    )


def _signing_pool() -> Any:
    """This process's signing pool, or None when signing stays here."""
    if SIGNING_PROCESSES < 1 or not isinstance(crypto.keystore(), crypto.SoftwareKeyStore):
        return None
    pid = os.getpid()  # a forked web worker makes its own
    pool = _pools.get(pid)
    if pool is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from tongban.licences import config

        s = config.settings()
        kek = crypto.derive_kek(
            dedicated=s.licence_key_encryption_key, secret_key=s.resolved_secret_key()
        )
        if not _pools:
            import atexit

            atexit.register(_shutdown_pools)
        pool = _pools[pid] = ProcessPoolExecutor(
            max_workers=SIGNING_PROCESSES,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_child_init,
            initargs=(kek,),
        )
    return pool


def _shutdown_pools() -> None:
    for pool in _pools.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _pools.clear()


async def sign_all(
    sealer: Sealer, docs: list[_Doc], at_text: str, *, processes: bool = True
) -> list[tuple[str, str, str]]:
    """Sign a chunk's licences: in the signing processes when it is large (and
    ``processes``), else here, yielding to the event loop now and then so other
    requests keep moving."""
    pool = _signing_pool() if processes and len(docs) >= POOL_MIN_ROWS else None
    if pool is not None:
        spec = sealer.signing.spec
        parts = max(1, SIGNING_PROCESSES)
        size = -(-len(docs) // parts)
        slices = [docs[k : k + size] for k in range(0, len(docs), size)]
        loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool,
                        _child_sign,
                        spec,
                        [tuple(getattr(d, f) for f in _Doc.__slots__) for d in part],
                        at_text,
                    )
                    for part in slices
                )
            )
            return [r for part in results for r in part]
        except Exception:
            log.exception("signing processes failed; signing in the web worker")
            _pools.pop(os.getpid(), None)
    out: list[tuple[str, str, str]] = []
    for k in range(0, len(docs), YIELD_EVERY):
        out += sealer.signing.sign_texts(docs[k : k + YIELD_EVERY], at_text)
        await asyncio.sleep(
            0
        )  # one holding the region's audit chain head reaches its commit sooner
    return out


# --- writing -----------------------------------------------------------------------------------------------


@dataclass
class Target:
    """One import's fixed parts: who, what type, which department, the sealer."""

    actor: Actor
    lt: LicenceType
    dept: Department
    sealer: Sealer
    file_name: str = ""
    job_id: int | None = None  # the batch (LicenceImport): part of each imported licence's 流水号
    # The command line signs large chunks in the signing processes; a web request signs in
    # its worker (measured: the round trips cost a web worker more than they save it,
    # with a web worker per core already).
    sign_in_processes: bool = False

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        actor: Actor,
        *,
        type_code: str,
        department_id: int,
        file_name: str = "",
    ) -> Target:
        lt = await service.get_type_by_code(session, type_code)
        if lt is None:
            raise NotFound(
                f"证照类型 {type_code} 未在证照目录中登记", code="licence_type_not_found"
            )
        if lt.status != "active":
            raise ValidationFailed(
                f"证照类型“{lt.name}”已停用，不能导入", code="licence_type_retired"
            )
        dept = await session.get(Department, department_id)
        if dept is None:
            raise NotFound("颁发部门不存在", code="department_not_found")
        if department_id not in (lt.issuing_department_ids or []):
            raise ValidationFailed(
                f"{dept.name}不是“{lt.name}”的颁发部门", code="not_licence_issuer"
            )
        access.require_issuer(actor, lt, dept.id)
        if not dept.credit_code:
            raise ValidationFailed(
                f"{dept.name}缺少统一社会信用代码，无法生成证照标识", code="issuer_code_missing"
            )
        return cls(actor, lt, dept, await Sealer.for_department(session, lt, dept), file_name)


def _among(column: Any, values: list[str], dialect: str) -> Any:
    """``column IN (values)``: one array parameter on PostgreSQL (500 bound values
    cost more to render than to look up)."""
    if dialect == "postgresql":
        from sqlalchemy import String, any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam("values", values, type_=ARRAY(String)))
    return column.in_(values)


async def _existing_numbers(session: AsyncSession, type_code: str, numbers: list[str]) -> set[str]:
    """The numbers of this type already imported.

    By number alone, the type compared here: the only index whose first column is the
    number is ``uq_licence_import_number`` (number, type), so the plan is index probes
    even while a bulk load outruns the table's statistics (given the type as well, the
    planner trusts stale statistics of the type and scans the whole type instead).
    ``source = 'import'`` is a literal so that a generic plan may use the partial index.
    """
    dialect = session.bind.dialect.name
    stmt = select(Licence.number, Licence.type_code).where(
        wallet_models.IMPORTED, _among(Licence.number, numbers, dialect)
    )
    return {n for n, t in (await session.execute(stmt)).all() if t == type_code}


async def _holders(session: AsyncSession, person: bool, codes: list[str]) -> dict[str, int]:
    dialect = session.bind.dialect.name
    if person:
        stmt = select(Person.id_number, Person.id).where(_among(Person.id_number, codes, dialect))
    else:
        stmt = select(Enterprise.credit_code, Enterprise.id).where(
            _among(Enterprise.credit_code, codes, dialect)
        )
    return {c: i for c, i in (await session.execute(stmt)).all()}


# The columns written, in order (``tests/licences/test_bulk.py`` checks they are all of the tables').
LICENCE_COLUMNS = (
    "id",
    "licence_type_id",
    "name",
    "type_name",
    "type_code",
    "number",
    "identifier",
    "serial",
    "version",
    "issuer_name",
    "issuer_code",
    "issuer_department_id",
    "issued_on",
    "holder_name",
    "holder_code",
    "holder_code_type",
    "holder_person_id",
    "holder_enterprise_id",
    "valid_from",
    "valid_until",
    "data",
    "status",
    "status_reason",
    "status_changed_at",
    "source",
    "case_id",
    "seal_id",
    "signature",
    "canonical_hash",
    "qr_payload",
    "issued_by",
    "created_at",
    "updated_at",
    "region_code",
)
HISTORY_COLUMNS = (
    "licence_id",
    "action",
    "version",
    "identifier",
    "status",
    "data",
    "signature",
    "canonical_hash",
    "seal_id",
    "reason",
    "actor_ref",
    "actor_name",
    "at",
    "region_code",
)
# constant column lists, no input in them
_INSERT_LICENCE = f"INSERT INTO licence ({', '.join(LICENCE_COLUMNS)}) VALUES ({', '.join('?' * len(LICENCE_COLUMNS))})"  # noqa: S608
_INSERT_HISTORY = f"INSERT INTO licence_history ({', '.join(HISTORY_COLUMNS)}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})"  # noqa: S608


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_ts(at: dt.datetime) -> str:
    """A UTC instant as SQLAlchemy keeps it in SQLite (naive UTC text)."""
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# ISO 7064 MOD 37,36, one step per character: the next state by (state, character value)
_MOD_VALUE = {
    c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
}
_MOD_STEP = tuple(tuple(((p + v) % 36 or 36) * 2 % 37 for v in range(36)) for p in range(37))


class _Identifiers:
    """GB/T 36904 identifiers of one type and issuer, version 001: the ISO 7064
    MOD 37,36 state after the fixed type and issuer codes is computed once
    (``identifier.check_char`` over the whole text gives the same character)."""

    def __init__(self, type_code: str, issuer_code: str) -> None:
        self.head = f"{identifier.ROOT}.{type_code}.{issuer_code}."
        self.p = self._run(36, type_code + issuer_code)

    @staticmethod
    def _run(p: int, text: str) -> int:
        step, value = _MOD_STEP, _MOD_VALUE
        for ch in text:
            p = step[p][value[ch]]
        return p

    def make(self, serial: str) -> str:
        p = self._run(self.p, serial + "001")
        return f"{self.head}{serial}.001.{identifier.ALPHABET[(37 - p) % 36]}"

    def maker(self, serial_head: str) -> Callable[[str], str]:
        """``make`` for serials starting with ``serial_head`` (the batch's part, run once)
        given the rest of the serial."""
        p0 = self._run(self.p, serial_head)
        head, run, alphabet = f"{self.head}{serial_head}", self._run, identifier.ALPHABET

        def make(rest: str) -> str:
            p = run(p0, rest + "001")
            return f"{head}{rest}.001.{alphabet[(37 - p) % 36]}"

        return make


async def _next_ids(session: AsyncSession, n: int) -> list[int]:
    """Ids for ``n`` new licences (PostgreSQL: from the sequence; SQLite: after the
    largest, under the database write lock, taken here)."""
    conn = await session.connection()
    if session.bind.dialect.name == "postgresql":
        # one array rather than n rows to decode
        got = await conn.exec_driver_sql(
            f"SELECT array_agg(nextval(pg_get_serial_sequence('licence', 'id'))) FROM generate_series(1, {int(n)})"  # noqa: S608 - an int
        )
        return list(got.scalar_one())
    top = (
        await lock_for_update(session, select(func.coalesce(func.max(Licence.id), 0)))
    ).scalar_one()
    return list(range(top + 1, top + 1 + n))


def _duplicate(e: Exception) -> bool:
    """A unique violation of ``uq_licence_import_number`` (as PostgreSQL or SQLite words it)."""
    text = str(e)
    return (
        "uq_licence_import_number" in text
        or "UNIQUE constraint failed: licence.number, licence.type_code" in text
    )


async def _write(
    session: AsyncSession, pg: bool, licences: list[list[Any]], history: list[list[Any]]
) -> None:
    conn = await session.connection()
    if pg:
        # COPY through the session's own asyncpg connection: the same transaction.
        apg = (await conn.get_raw_connection()).driver_connection
        await apg.copy_records_to_table("licence", records=licences, columns=LICENCE_COLUMNS)
        await apg.copy_records_to_table("licence_history", records=history, columns=HISTORY_COLUMNS)
    else:
        await conn.exec_driver_sql(_INSERT_LICENCE, [tuple(x) for x in licences])
        await conn.exec_driver_sql(_INSERT_HISTORY, [tuple(x) for x in history])


async def import_chunk(
    session: AsyncSession,
    target: Target,
    rows: list[Row],
    report: ImportReport,
    *,
    audited: bool = True,
) -> int:
    """Write one chunk of checked rows (skipping those already imported); returns how many were written.

    Nothing shared is locked while signing (the CPU work), so concurrent imports overlap.
    """
    if not rows:
        return 0
    lt, dept, sealer = target.lt, target.dept, target.sealer
    if target.job_id is None:
        raise ValueError("an import chunk needs its batch (LicenceImport) for the 流水号")
    existing = await _existing_numbers(session, lt.code, [r.number for r in rows])
    todo = [r for r in rows if r.number not in existing]
    if not todo:
        report.skipped += len(rows)
        return 0
    person = lt.holder_kind != "enterprise"
    holders = await _holders(session, person, sorted({r.holder_code for r in todo}))
    pg = session.bind.dialect.name == "postgresql"
    at = now()
    at_text = seals.utc_text(at)
    at_db: Any = at if pg else _sqlite_ts(at)
    day: Any = (lambda d: d) if pg else (lambda d: d.isoformat() if d is not None else None)
    code_type = "111" if person else "001"
    actor = target.actor
    actor_ref = actor.ref if actor.kind != "system" else "system"
    actor_name = actor.display_name[:100]
    serial_head = (
        f"H{target.job_id:06d}R"  # 流水号 of imported licences: H<batch>R<row> (module docstring)
    )
    ident_of = _Identifiers(lt.code, dept.credit_code).maker(serial_head)
    seal_id = sealer.seal.id
    # plain locals: ORM attribute reads cost ~0.5 µs each, 20 of them per licence
    lt_id, lt_code, lt_name, name = lt.id, lt.code, lt.name, sealer.name
    dept_id, dept_name, dept_code, region = dept.id, dept.name, dept.credit_code, dept.region_code
    issued_by = None  # not issued by the importer: who imported is in the history row and the batch
    reason = f"证照汇聚：{target.file_name}"[:900]
    licences: list[list[Any]] = []
    history: list[list[Any]] = []
    docs: list[_Doc] = []
    serials: list[str] = []
    for r in todo:
        row_part = f"{r.row:07d}"
        serials.append(serial_head + row_part)
        docs.append(
            _Doc(
                name=name,
                type_name=lt_name,
                type_code=lt_code,
                number=r.number,
                identifier=ident_of(row_part),
                version=1,
                issuer_name=dept_name,
                issuer_code=dept_code,
                issued_on=r.issued_on,
                holder_name=r.holder_name,
                holder_code=r.holder_code,
                holder_code_type=code_type,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
                region_code=region,
                data=r.data,
            )
        )
    signed = await sign_all(sealer, docs, at_text, processes=target.sign_in_processes)
    for r, doc, serial, (sig_text, digest_hex, qr) in zip(todo, docs, serials, signed, strict=True):
        ident = doc.identifier
        data_text = _dumps(r.data)
        holder_id = holders.get(r.holder_code)
        licences.append(
            [
                None,
                lt_id,
                name,
                lt_name,
                lt_code,
                r.number,
                ident,
                serial,
                1,
                dept_name,
                dept_code,
                dept_id,
                day(r.issued_on),
                r.holder_name,
                r.holder_code,
                code_type,
                holder_id if person else None,
                None if person else holder_id,
                day(r.valid_from),
                day(r.valid_until),
                data_text,
                "valid",
                "",
                None,
                "import",
                None,
                seal_id,
                sig_text,
                digest_hex,
                qr,
                issued_by,
                at_db,
                at_db,
                region,
            ]
        )
        history.append(
            [
                None,
                "import",
                1,
                ident,
                "valid",
                data_text,
                sig_text,
                digest_hex,
                seal_id,
                f"{reason} 第 {r.row} 行",
                actor_ref,
                actor_name,
                at_db,
                region,
            ]
        )
    ids = await _next_ids(session, len(todo))
    for lid, lic_row, hist_row in zip(ids, licences, history, strict=True):
        lic_row[0] = hist_row[0] = lid
    # Another batch may have written some of these numbers since the check: the
    # unique index refuses them, the savepoint undoes this attempt, and the rows
    # left are written again (PostgreSQL waits for the other batch's outcome first).
    for _attempt in range(3):
        try:
            async with session.begin_nested():
                await _write(session, pg, licences, history)
            break
        except Exception as e:  # the driver's unique violation, raw or wrapped
            if not _duplicate(e):
                raise
            late = await _existing_numbers(session, lt.code, [r.number for r in todo])
            keep = [k for k, r in enumerate(todo) if r.number not in late]
            todo = [todo[k] for k in keep]
            licences = [licences[k] for k in keep]
            history = [history[k] for k in keep]
            if not todo:
                break
    else:
        raise Conflict("导入与其他批次冲突，请稍后重试", code="licence_import_conflict")
    report.skipped += len(rows) - len(todo)
    if not todo:
        return 0
    report.imported += len(licences)
    if audited:
        await _audit(
            session, target, count=len(licences), first_row=todo[0].row, last_row=todo[-1].row
        )
    return len(licences)


async def _audit(
    session: AsyncSession, target: Target, *, count: int, first_row: int, last_row: int
) -> None:
    """The audit entry of an import (last in its transaction: it holds the region's chain head until the commit)."""
    actor = target.actor
    await audit.record(
        session,
        actor=actor.ref if actor.kind != "system" else "system",
        action="licence.import",
        target_type="licence_type",
        target_id=target.lt.id,
        region_code=target.dept.region_code,
        details={
            "department_id": target.dept.id,
            "count": count,
            "file": target.file_name[:100],
            "rows": [first_row, last_row],
            "batch": target.job_id,
        },
    )


# --- running an import ------------------------------------------------------------------------------------


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def import_data(
    session: AsyncSession,
    actor: Actor,
    *,
    file_name: str,
    data: bytes,
    type_code: str,
    department_id: int,
    dry_run: bool = False,
    max_rows: int | None = MAX_API_ROWS,
) -> ImportReport:
    """Check and import a whole file in the caller's transaction (the API): all or nothing.

    At most ``IMPORTS_PER_PROCESS`` imports run at once in a process; the others
    wait their turn before doing anything. Signing is CPU work on the event loop:
    with many imports interleaved, the one that holds the region's audit chain head
    (from its audit entry to its commit) would wait a slice of every other import
    at each step, and every import queues behind it.
    """
    async with _import_slot():
        return await _import_data(
            session,
            actor,
            file_name=file_name,
            data=data,
            type_code=type_code,
            department_id=department_id,
            dry_run=dry_run,
            max_rows=max_rows,
        )


IMPORTS_PER_PROCESS = 2  # one signing while the other waits for the database
_slots: dict[int, asyncio.Semaphore] = {}


def _import_slot() -> asyncio.Semaphore:
    loop = id(asyncio.get_running_loop())
    got = _slots.get(loop)
    if got is None:
        got = _slots[loop] = asyncio.Semaphore(IMPORTS_PER_PROCESS)
    return got


async def _import_data(
    session: AsyncSession,
    actor: Actor,
    *,
    file_name: str,
    data: bytes,
    type_code: str,
    department_id: int,
    dry_run: bool,
    max_rows: int | None,
) -> ImportReport:
    t0 = time.perf_counter()
    target = await Target.load(
        session, actor, type_code=type_code, department_id=department_id, file_name=file_name
    )
    report = ImportReport(file_name, target.lt.code, department_id, dry_run=dry_run)
    rows = list(check(target.lt, read_rows(file_name, data), report, today=wallet.today()))
    if max_rows is not None and report.total > max_rows:
        raise ValidationFailed(
            f"单个文件最多 {max_rows} 行，请分批导入或使用命令行", code="import_too_large"
        )
    if report.error_count:
        raise ImportRejected(report)
    if not dry_run:
        job = _job(target, data, report, status="done")
        session.add(job)
        await session.flush()
        report.job_id = target.job_id = job.id
        for chunk in _chunks(rows, CHUNK):
            await import_chunk(session, target, chunk, report, audited=False)
        report.seconds = time.perf_counter() - t0
        _finish(job, report, next_row=(rows[-1].row + 1) if rows else 2)
        await session.flush()
        if report.imported:
            # One entry for the batch, last of all (it flushes what is pending first):
            # the region's chain head stays locked only until the commit.
            await _audit(
                session, target, count=report.imported, first_row=rows[0].row, last_row=rows[-1].row
            )
    report.seconds = time.perf_counter() - t0
    return report


def _job(target: Target, data: bytes, report: ImportReport, *, status: str) -> LicenceImport:
    return LicenceImport(
        file_name=target.file_name[:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        type_code=target.lt.code,
        department_id=target.dept.id,
        region_code=target.dept.region_code,
        status=status,
        total_rows=report.total,
        next_row=2,
        actor_ref=target.actor.ref if target.actor.kind != "system" else "system",
        started_at=now(),
    )


def _finish(job: LicenceImport, report: ImportReport, *, next_row: int) -> None:
    job.imported, job.skipped, job.next_row = report.imported, report.skipped, next_row
    job.error_count = report.error_count
    job.report = report.to_dict()
    if job.status == "done":
        job.finished_at = now()


async def import_file(
    maker: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    type_code: str,
    department_id: int,
    actor: Actor = SYSTEM,
    dry_run: bool = False,
    chunk: int = CHUNK,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """The command line's import: check the whole file, then write chunk by chunk, each
    chunk committed with its checkpoint; a batch interrupted before is resumed."""
    t0 = time.perf_counter()
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    async with session_scope(maker) as session:
        target = await Target.load(
            session, actor, type_code=type_code, department_id=department_id, file_name=path.name
        )
    report = ImportReport(path.name, target.lt.code, department_id, dry_run=dry_run)
    today = wallet.today()
    kept: list[Row] | None = []  # the checked rows, unless the file is too big to hold them
    for row in check(target.lt, read_rows(path.name, data), report, today=today):
        if kept is not None:
            kept.append(row)
            if len(kept) > KEEP_ROWS:
                kept = None
    if report.error_count:
        raise ImportRejected(report)
    if dry_run:
        report.seconds = time.perf_counter() - t0
        return report
    total = report.total
    async with session_scope(maker) as session:
        job = (
            await session.execute(
                select(LicenceImport)
                .where(
                    LicenceImport.file_sha256 == sha,
                    LicenceImport.type_code == target.lt.code,
                    LicenceImport.department_id == department_id,
                    LicenceImport.status == "running",
                )
                .order_by(LicenceImport.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if job is None:
            job = _job(target, data, report, status="running")
            session.add(job)
            await session.flush()
        else:
            report.resumed_from = job.next_row
            report.imported, report.skipped = job.imported, job.skipped
        job_id, start_row = job.id, job.next_row
    report.job_id = target.job_id = job_id
    target.sign_in_processes = True
    report.error_count = 0
    report.total = total
    if kept is None:  # read the file again rather than hold every row
        scratch = ImportReport(path.name, target.lt.code, department_id)  # its counts are discarded
        source: Iterable[Row] = check(target.lt, read_rows(path.name, data), scratch, today=today)
    else:
        source = kept
    rows = (r for r in source if r.row >= start_row)
    chunks = enumerate(_chunks(rows, chunk))  # shared by the workers (next() never awaits)
    # chunk index → the row after it, for chunks committed out of order
    finished: dict[int, int] = {}
    state = {"next": 0, "checkpoint": start_row, "done": report.imported + report.skipped}

    def advance(index: int, after: int) -> int:
        """The checkpoint once chunk ``index`` is in: the row after the last chunk of an unbroken run."""
        pending = dict(finished)
        pending[index] = after
        nxt, point = state["next"], state["checkpoint"]
        while nxt in pending:
            point = pending.pop(nxt)
            nxt += 1
        return point

    async def worker() -> None:
        for index, part in chunks:
            after = part[-1].row + 1
            async with session_scope(maker) as session:
                await import_chunk(session, target, part, report)
                await session.execute(
                    update(LicenceImport)
                    .where(LicenceImport.id == job_id)
                    .values(
                        next_row=advance(index, after),
                        imported=report.imported,
                        skipped=report.skipped,
                    )
                )
            finished[index] = after
            while state["next"] in finished:
                state["checkpoint"] = finished.pop(state["next"])
                state["next"] += 1
            state["done"] += len(part)
            if progress is not None:
                progress(state["done"], total)

    # Two workers: while one waits for the database (COPY, commit) the other checks
    # and signs the next chunk. The checkpoint only covers chunks committed without a
    # gap before them; a chunk committed past a gap is skipped by number on resume.
    if workers <= 1:
        await worker()
    else:
        async with asyncio.TaskGroup() as tg:
            for _ in range(workers):
                tg.create_task(worker())
    report.seconds = time.perf_counter() - t0
    async with session_scope(maker) as session:
        # Counted from what is stored: after a resume, chunks committed past the
        # checkpoint were gone through again (and skipped), so the running counts
        # would count them twice.
        report.imported = await _written_by(session, target)
        report.skipped = report.total - report.imported
        job = await session.get(LicenceImport, job_id)
        assert job is not None
        job.status = "done"
        _finish(job, report, next_row=state["checkpoint"])
    return report


async def _written_by(session: AsyncSession, target: Target) -> int:
    """Licences a batch wrote: their 流水号 start with H<batch>R."""
    stmt = (
        select(func.count())
        .select_from(Licence)
        .where(
            Licence.type_code == target.lt.code,
            Licence.issuer_code == target.dept.credit_code,
            Licence.serial.startswith(f"H{target.job_id:06d}R", autoescape=True),
        )
    )
    return int((await session.execute(stmt)).scalar() or 0)


async def get_import(session: AsyncSession, actor: Actor, import_id: int) -> LicenceImport:
    """An import batch, for staff of its department (or a platform admin of its region)."""
    job = await session.get(LicenceImport, import_id)
    if job is None or actor.kind != "staff":
        raise NotFound("未找到该导入批次", code="licence_import_not_found")
    from tongban.core import scope

    if actor.department_id != job.department_id and not (
        "platform_admin" in actor.roles and scope.is_within(job.region_code, actor.region_code)
    ):
        raise NotFound("未找到该导入批次", code="licence_import_not_found")
    return job
