"""Licence I/O: request bodies and the dicts the API and pages show.

Holder codes (公民身份号码) leave the server masked unless the reader is the
holder or a role that needs them (``access.sees_full_identifiers``); private
keys never leave it at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tongban.core.identifiers import mask_name, mask_resident_id
from tongban.licences.models import (
    HISTORY_ACTIONS,
    HOLDER_CODE_TYPES,
    HOLDER_KINDS,
    LICENCE_STATUSES,
    SOURCES,
    Licence,
    LicenceHistory,
    LicenceType,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AutoRenewal(_In):
    enabled: bool = False
    implementation_code: str = Field("", max_length=80, description="续期事项的实施编码")
    instant: bool = Field(False, description="有秒批规则时直接办结，否则请持证人确认后提交")


class LicenceTemplate(_In):
    """版式 of a licence type: what the licence page, its PDF and its QR code show."""

    title: str | None = Field(
        None, min_length=1, max_length=100, description="证照标题；空为类型名称"
    )
    fields: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=100, description="照面字段的显示顺序"
    )
    qr_fields: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=4, description="二维码中携带的照面字段（至多 4 个）"
    )
    case_fields: dict[str, Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None,
        max_length=100,
        description="照面字段 → 办件来源（如 case.item_name、holder.name、form.字段）",
    )
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$", description="主色，如 #8a1c1c")


class LicenceTypeCreate(_In):
    code: str = Field(
        min_length=21,
        max_length=21,
        description="证照类型代码：定义机构统一社会信用代码 + 3 位顺序号",
    )
    name: str = Field(min_length=2, max_length=100, description="证照类型名称")
    defining_body: str = Field("", max_length=200, description="定义机构名称")
    holder_kind: Literal["person", "enterprise"] = Field(description="持证主体类别")
    issuing_department_ids: list[int] = Field(
        default_factory=list, max_length=500, description="可颁发该证照的部门"
    )
    field_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="照面信息字段（JSON Schema）",
    )
    validity_years: int | None = Field(
        None, ge=0, le=100, description="有效期（年）；与月均为空表示长期有效"
    )
    validity_months: int | None = Field(None, ge=0, le=1200, description="有效期（月）")
    template: LicenceTemplate = Field(
        default_factory=LicenceTemplate,
        description="版式：title、fields（显示顺序）、qr_fields、case_fields、color",
    )
    reminder_days: list[int] = Field(
        default_factory=lambda: [90, 30, 7], max_length=10, description="到期前提醒天数"
    )
    auto_renewal: AutoRenewal | None = None
    region_code: str = Field("000000000000", pattern=r"^\d{12}$")


class LicenceTypeUpdate(_In):
    name: str | None = Field(None, min_length=2, max_length=100)
    defining_body: str | None = Field(None, max_length=200)
    issuing_department_ids: list[int] | None = Field(None, max_length=500)
    field_schema: dict[str, Any] | None = None
    validity_years: int | None = Field(None, ge=0, le=100)
    validity_months: int | None = Field(None, ge=0, le=1200)
    template: LicenceTemplate | None = None
    reminder_days: list[int] | None = Field(None, max_length=10)
    auto_renewal: AutoRenewal | None = None
    status: Literal["active", "retired"] | None = None


class LicenceIssue(_In):
    type_code: str = Field(min_length=21, max_length=21, description="证照类型代码")
    holder_person_id: int | None = Field(None, ge=1, description="持证人（自然人）")
    holder_enterprise_id: int | None = Field(None, ge=1, description="持证主体（法人）")
    data: dict[str, Any] = Field(default_factory=dict, description="照面信息")
    number: str | None = Field(
        None, min_length=1, max_length=64, description="证照编号；空则自动生成"
    )
    valid_from: dt.date | None = Field(None, description="有效期起始；空为颁证日")
    valid_until: dt.date | None = Field(None, description="有效期截止；空则按证照类型的有效期规则")


class LicenceChange(_In):
    data: dict[str, Any] | None = Field(None, description="变更后的完整照面信息")
    valid_until: dt.date | None = Field(None, description="变更后的有效期截止")
    reason: str = Field(min_length=2, max_length=1000, description="变更原因")


class StatusChange(_In):
    reason: str = Field(min_length=2, max_length=1000, description="吊销或注销的原因")


class VerifyRequest(_In):
    identifier: str | None = Field(None, max_length=160, description="证照标识（GB/T 36904）")
    payload: str | None = Field(
        None, max_length=2000, description="证照二维码内容（TB1.… 或含 p= 的链接）"
    )


class SealCreate(_In):
    department_id: int = Field(ge=1)
    algorithm: Literal["sm2", "ed25519"] | None = Field(None, description="空则使用部署默认算法")
    image_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="印章图片（已上传的 PNG）"
    )


# --- output -------------------------------------------------------------------------------


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def holder_code_shown(lic: Licence, *, full: bool) -> str:
    if lic.holder_code_type == "111" and not full:
        return mask_resident_id(lic.holder_code)
    return lic.holder_code


def holder_name_shown(lic: Licence, *, full: bool) -> str:
    if lic.holder_code_type == "111" and not full:
        return mask_name(lic.holder_name)
    return lic.holder_name


def effective_status(lic: Licence, today: dt.date) -> str:
    """valid / expired / revoked / annulled: 已过期 is computed, never stored."""
    if lic.status != "valid":
        return lic.status
    if lic.valid_until is not None and lic.valid_until < today:
        return "expired"
    return "valid"


STATUS_TEXT = {**LICENCE_STATUSES, "expired": "已过期"}


def licence_dict(lic: Licence, *, full: bool, today: dt.date) -> dict[str, Any]:
    status = effective_status(lic, today)
    return {
        "id": lic.id,
        "identifier": lic.identifier,
        "name": lic.name,
        "type_name": lic.type_name,
        "type_code": lic.type_code,
        "number": lic.number,
        "version": lic.version,
        "issuer_name": lic.issuer_name,
        "issuer_code": lic.issuer_code,
        "issued_on": _d(lic.issued_on),
        "holder_name": holder_name_shown(lic, full=full),
        "holder_code": holder_code_shown(lic, full=full),
        "holder_code_type": lic.holder_code_type,
        "holder_code_type_name": HOLDER_CODE_TYPES.get(lic.holder_code_type, ""),
        "holder_kind": "person" if lic.holder_code_type == "111" else "enterprise",
        "valid_from": _d(lic.valid_from),
        "valid_until": _d(lic.valid_until),
        "long_term": lic.valid_until is None,
        "region_code": lic.region_code,
        "data": lic.data,
        "status": status,
        "status_text": STATUS_TEXT[status],
        "status_reason": lic.status_reason if lic.status != "valid" else "",
        "status_changed_at": lic.status_changed_at.isoformat() if lic.status_changed_at else None,
        "source": lic.source,
        "source_text": SOURCES.get(lic.source, ""),
        "case_id": lic.case_id,
        "key_id": (lic.signature.get("cert") or {}).get("kid", ""),
        "qr_payload": lic.qr_payload,
        "pdf_url": f"/licences/{lic.id}.pdf",
    }


def history_dict(h: LicenceHistory) -> dict[str, Any]:
    return {
        "action": h.action,
        "action_text": HISTORY_ACTIONS.get(h.action, h.action),
        "version": h.version,
        "identifier": h.identifier,
        "status": h.status,
        "reason": h.reason,
        "actor_name": h.actor_name,
        "at": h.at.isoformat(),
    }


def type_dict(t: LicenceType) -> dict[str, Any]:
    return {
        "id": t.id,
        "code": t.code,
        "name": t.name,
        "defining_body": t.defining_body,
        "holder_kind": t.holder_kind,
        "holder_kind_text": HOLDER_KINDS.get(t.holder_kind, ""),
        "issuing_department_ids": list(t.issuing_department_ids or []),
        "field_schema": t.field_schema,
        "validity_years": t.validity_years,
        "validity_months": t.validity_months,
        "template": t.template,
        "reminder_days": list(t.reminder_days or []),
        "auto_renewal": t.auto_renewal,
        "status": t.status,
        "region_code": t.region_code,
    }
