"""Electronic licences (电子证照): types, seals, licences, their history, verifications.

- ``LicenceType`` (证照目录): what a kind of licence is — its 证照类型代码
  (GB/T 36904: the defining body's 统一社会信用代码 + 3 digits), who may issue
  it, whose it is, its data fields (a JSON Schema), how long it is valid.
- ``Seal`` (电子印章): a signing key of a department (``kind='department'``) or
  the platform's seal maker (``kind='maker'``, 制章者) that signs the seals
  themselves. Private keys are stored encrypted (``crypto.KeyStore``).
  Rotation adds a new active seal; retired seals keep verifying what they signed.
- ``Licence`` (证照): one issued licence with the GB/T 36903 metadata, its
  current version's data and signature. A change (变更) updates the row to a
  new version (identifier version + 1); every version stays in
  ``LicenceHistory``.
- ``VerificationLog`` (核验记录): one row per verification, whatever the channel.

See ``docs/licences.md`` for the meaning of every field and the signed forms.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped

NATIONAL = "000000000000"

HOLDER_KINDS = {"person": "自然人", "enterprise": "法人和其他组织"}
# 持证主体代码类型 (GB/T 36903): 111 公民身份号码, 001 统一社会信用代码.
HOLDER_CODE_TYPES = {"111": "公民身份号码", "001": "统一社会信用代码"}
TYPE_STATUSES = {"active": "启用", "retired": "停用"}
ALGORITHMS = {"sm2": "SM2（国密）", "ed25519": "Ed25519"}
SEAL_KINDS = {"department": "部门电子印章", "maker": "制章者密钥"}
SEAL_STATUSES = {"active": "在用", "retired": "已停用"}
# Stored status; "expired" is computed from valid_until, never stored.
LICENCE_STATUSES = {"valid": "有效", "revoked": "已吊销", "annulled": "已注销"}
# What a verification can answer (the stored statuses, plus computed ones).
VERIFY_RESULTS = {
    "valid": "有效",
    "expired": "已过期",
    "revoked": "已吊销",
    "annulled": "已注销",
    "superseded": "已变更（非最新版本）",
    "not_found": "未找到该证照",
    "invalid": "验证失败（签名无效或内容被篡改）",
}
HISTORY_ACTIONS = {
    "issue": "颁发",
    "change": "变更",
    "revoke": "吊销",
    "annul": "注销",
    "import": "汇聚导入",
}
VERIFY_CHANNELS = {"api": "接口核验", "page": "核验页面", "offline-report": "离线核验上报"}
SOURCES = {"manual": "部门颁发", "case": "办件办结颁发", "import": "历史证照汇聚"}


class LicenceType(Base):
    """证照目录: one kind of licence.

    ``issuing_department_ids``: the departments allowed to issue it (staff of
    one of them with the approver or dept_admin role). ``field_schema``: a JSON
    Schema (object with ``properties``; ``title`` of each property is the label
    shown on the licence) that ``Licence.data`` must satisfy.
    ``validity_years``/``validity_months``: both None means 长期有效.
    ``template``: rendering options, ``{"layout": "default", "title": …,
    "fields": [property names in display order], "color": "#…"}``.
    ``reminder_days``: days before expiry on which the holder is reminded.
    ``auto_renewal``: ``{"enabled": bool, "implementation_code": 实施编码 of the
    renewal item, "instant": bool}`` or None.
    """

    __tablename__ = "licence_type"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(21), unique=True)  # 证照类型代码
    name: Mapped[str] = mapped_column(String(100), index=True)  # 证照类型名称
    defining_body: Mapped[str] = mapped_column(
        String(200), default=""
    )  # 定义机构 (name; its code is code[:18])
    region_code: Mapped[str] = mapped_column(
        String(12), default=NATIONAL
    )  # whose catalogue (national by default)
    holder_kind: Mapped[str] = mapped_column(String(12))  # HOLDER_KINDS
    issuing_department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    field_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    validity_years: Mapped[int | None] = mapped_column(SmallInteger)
    validity_months: Mapped[int | None] = mapped_column(SmallInteger)
    template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reminder_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    auto_renewal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="active")  # TYPE_STATUSES
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class Seal(Base):
    """电子印章 (GB/T 38540 shape) with its key pair, or the seal maker's key.

    ``public_key``: PEM (SubjectPublicKeyInfo). ``private_key_enc``: the PKCS#8
    private key encrypted with the deployment key (``crypto.SoftwareKeyStore``,
    AES-256-GCM), base64; None when the key lives in a hardware module, then
    ``key_ref`` names it. Never logged, never in an API response.
    ``document``: the signed SESeal JSON (``seals.seal_document``), None for the
    maker key. Image: ``image_svg`` (generated) or ``image_sha256`` (an
    uploaded PNG in the file store).
    """

    __tablename__ = "licence_seal"
    __table_args__ = (Index("ix_licence_seal_department_status", "department_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default="department")  # SEAL_KINDS
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id")
    )  # None for the maker
    region_code: Mapped[str] = mapped_column(String(12), default=NATIONAL)
    name: Mapped[str] = mapped_column(String(200))  # 印章名称
    esid: Mapped[str] = mapped_column(String(64), unique=True)  # 印章编码 (esID)
    algorithm: Mapped[str] = mapped_column(String(10))  # ALGORITHMS
    key_id: Mapped[str] = mapped_column(String(40), unique=True)  # published kid
    public_key: Mapped[str] = mapped_column(Text)
    private_key_enc: Mapped[str | None] = mapped_column(Text)
    keystore: Mapped[str] = mapped_column(String(20), default="software")
    key_ref: Mapped[str] = mapped_column(String(200), default="")
    image_svg: Mapped[str | None] = mapped_column(Text)
    image_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_file.sha256"))
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # signed SESeal
    maker_seal_id: Mapped[int | None] = mapped_column(
        ForeignKey("licence_seal.id")
    )  # who signed the seal
    valid_from: Mapped[dt.datetime] = mapped_column(default=now)
    valid_until: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(10), default="active")  # SEAL_STATUSES
    retired_at: Mapped[dt.datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Licence(RegionScoped, Base):
    """证照: the current version of one issued licence (GB/T 36903 metadata).

    ``region_code`` is 所属管辖属地编码 (the issuing department's region).
    ``identifier`` (证照标识, GB/T 36904) includes ``version``; a change
    rewrites it with version + 1 and keeps the old one in ``LicenceHistory``.
    ``status`` is stored as valid/revoked/annulled; 已过期 is computed from
    ``valid_until`` (None: 长期有效). ``signature``: the SES_Signature JSON
    over the canonical data whose SM3/SHA-256 digest is ``canonical_hash``.
    ``qr_payload``: the compact signed payload printed as the QR code.
    """

    __tablename__ = "licence"
    __table_args__ = (
        UniqueConstraint("type_code", "issuer_code", "serial", name="uq_licence_serial"),
        # Partial: always probed with ``= id``; a licence has one holder kind, and an
        # imported licence of a holder not yet registered neither (no NULL entries).
        Index(
            "ix_licence_holder_person",
            "holder_person_id",
            "id",
            postgresql_where=text("holder_person_id IS NOT NULL"),
            sqlite_where=text("holder_person_id IS NOT NULL"),
        ),
        Index(
            "ix_licence_holder_enterprise",
            "holder_enterprise_id",
            "id",
            postgresql_where=text("holder_enterprise_id IS NOT NULL"),
            sqlite_where=text("holder_enterprise_id IS NOT NULL"),
        ),
        Index("ix_licence_region_status", "region_code", "status", "id"),
        Index("ix_licence_department_id", "issuer_department_id", "id"),
        Index("ix_licence_type_valid_until", "licence_type_id", "valid_until"),
        Index("ix_licence_holder_code", "holder_code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # These three references (and LicenceHistory.seal_id) are foreign keys on SQLite;
    # on PostgreSQL set-based triggers check them, once per statement for a COPY
    # (migration 0005_licence_import: same refusals, a fraction of the per-row cost).
    licence_type_id: Mapped[int] = mapped_column(ForeignKey("licence_type.id"))
    name: Mapped[str] = mapped_column(String(100))  # 证照名称
    type_name: Mapped[str] = mapped_column(String(100))  # 证照类型名称
    type_code: Mapped[str] = mapped_column(String(21))  # 证照类型代码
    number: Mapped[str] = mapped_column(String(64))  # 证照编号 (printed on the licence)
    identifier: Mapped[str] = mapped_column(
        String(160), unique=True
    )  # 证照标识 of the current version
    serial: Mapped[str] = mapped_column(String(32))  # 流水号
    version: Mapped[int] = mapped_column(Integer, default=1)  # 版本号
    issuer_name: Mapped[str] = mapped_column(String(200))  # 颁发机构
    issuer_code: Mapped[str] = mapped_column(String(18))  # 颁发机构代码
    issuer_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    issued_on: Mapped[dt.date] = mapped_column(Date)  # 颁证日期
    holder_name: Mapped[str] = mapped_column(String(200))  # 持证主体
    holder_code: Mapped[str] = mapped_column(String(18))  # 持证主体代码
    holder_code_type: Mapped[str] = mapped_column(String(3))  # 持证主体代码类型 HOLDER_CODE_TYPES
    holder_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    holder_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    valid_from: Mapped[dt.date] = mapped_column(Date)  # 有效期起始
    valid_until: Mapped[dt.date | None] = mapped_column(Date)  # 有效期截止; None: 长期
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the type's fields
    status: Mapped[str] = mapped_column(String(10), default="valid")  # LICENCE_STATUSES
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[dt.datetime | None]
    source: Mapped[str] = mapped_column(String(10), default="manual")  # SOURCES
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case.id"), unique=True
    )  # one licence per case
    seal_id: Mapped[int] = mapped_column(ForeignKey("licence_seal.id"))
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)  # SES_Signature
    canonical_hash: Mapped[str] = mapped_column(String(64))  # hex digest of the canonical data
    qr_payload: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)
    # Not indexed alone (RegionScoped would): ix_licence_region_status leads with it.
    region_code: Mapped[str] = mapped_column(String(12))


class LicenceHistory(RegionScoped, Base):
    """Every change of a licence, never changed: what it became and why.

    For ``issue``/``change``/``import`` rows, ``identifier``, ``data``,
    ``signature`` and ``canonical_hash`` are those of the version created, so an
    older version's QR code or identifier can still be recognised (as superseded).
    """

    __tablename__ = "licence_history"
    __table_args__ = (Index("ix_licence_history_licence", "licence_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licence.id"))
    action: Mapped[str] = mapped_column(String(10))  # HISTORY_ACTIONS
    version: Mapped[int] = mapped_column(Integer)
    identifier: Mapped[str] = mapped_column(String(160), index=True)
    status: Mapped[str] = mapped_column(String(10))  # status after the action
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    canonical_hash: Mapped[str | None] = mapped_column(String(64))
    seal_id: Mapped[int | None] = mapped_column(ForeignKey("licence_seal.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_ref: Mapped[str] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[dt.datetime] = mapped_column(default=now)
    # Not indexed: the history is read by licence and by identifier, never by region.
    region_code: Mapped[str] = mapped_column(String(12))


class LicenceCounter(Base):
    """Next 流水号 per licence type, issuer and year: ``<yyyy><7 digits>``."""

    __tablename__ = "licence_counter"

    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    issuer_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class VerificationLog(RegionScoped, Base):
    """核验记录: one row per verification (``region_code`` of the licence, or
    the national code when none was found). ``requester``: who asked — an
    account or API client ref, or "anonymous"."""

    __tablename__ = "licence_verification"
    __table_args__ = (Index("ix_licence_verification_licence", "licence_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    licence_id: Mapped[int | None] = mapped_column(ForeignKey("licence.id"))
    identifier: Mapped[str] = mapped_column(String(160), default="")
    channel: Mapped[str] = mapped_column(String(16))  # VERIFY_CHANNELS
    requester: Mapped[str] = mapped_column(String(100), default="anonymous")
    ip: Mapped[str] = mapped_column(String(45), default="")
    result: Mapped[str] = mapped_column(String(12))  # VERIFY_RESULTS
    at: Mapped[dt.datetime] = mapped_column(default=now)
