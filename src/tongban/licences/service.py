"""Electronic licences: the rules. Types, seals, issuance, change, revocation, verification.

Every state change is one function here that locks its row, checks the rule,
writes the history row and the audit entry, and records its event
(``licence.issued`` / ``licence.changed`` / ``licence.revoked`` /
``licence.annulled``, payload ``{"licence_id", "identifier", "holder_person_id",
"holder_enterprise_id", "case_id"}``) — in the caller's transaction; services
flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any, Protocol

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import audit
from tongban.core.clock import local, now
from tongban.core.db import lock_for_update
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.identifiers import mask_name, mask_resident_id
from tongban.core.outbox import record_event
from tongban.identity.access import Actor
from tongban.identity.models import Account, Enterprise, Person
from tongban.licences import access, config, crypto, identifier, payload, seals, verifylog
from tongban.licences.models import (
    NATIONAL,
    VERIFY_RESULTS,
    Licence,
    LicenceCounter,
    LicenceHistory,
    LicenceType,
    Seal,
    VerificationLog,
)
from tongban.licences.schemas import LicenceTypeCreate, LicenceTypeUpdate, effective_status
from tongban.regions.models import Department

log = logging.getLogger("tongban.licences")


def _ref(actor: Actor) -> str:
    """How the audit log and the history name the actor ("system" for the platform itself)."""
    return "system" if actor.kind == "system" else actor.ref


# --- licence types (证照目录) ----------------------------------------------------------------


async def get_type_by_code(session: AsyncSession, code: str) -> LicenceType | None:
    return (
        await session.execute(select(LicenceType).where(LicenceType.code == code.strip().upper()))
    ).scalar_one_or_none()


def _refs(schema: Any) -> list[str]:
    """Every ``$ref`` / ``$dynamicRef`` in a schema: a reference the validator
    cannot resolve (another document, a missing anchor) fails every issue."""
    found: list[str] = []
    stack = [schema]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            found += [str(v[k]) for k in ("$ref", "$dynamicRef") if k in v]
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def _check_schema(schema: dict[str, Any]) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise ValidationFailed(
            f"照面信息字段定义不是有效的 JSON Schema：{e.message[:200]}",
            code="invalid_field_schema",
        ) from e
    refs = _refs(schema)
    if refs:
        raise ValidationFailed(
            f"照面信息字段定义不能引用其他定义（$ref）：{refs[0][:100]}",
            code="invalid_field_schema",
        )
    if schema.get("type", "object") != "object":
        raise ValidationFailed(
            "照面信息字段定义的顶层应为对象（type: object）", code="invalid_field_schema"
        )


def _check_validity(years: int | None, months: int | None) -> None:
    if (years or 0) == 0 and (months or 0) == 0 and (years is not None or months is not None):
        raise ValidationFailed(
            "有效期不能为 0；长期有效请将年和月都留空", code="invalid_validity_rule"
        )


async def _check_departments(session: AsyncSession, ids: list[int]) -> None:
    if not ids:
        return
    found = set(
        (await session.execute(select(Department.id).where(Department.id.in_(ids)))).scalars()
    )
    missing = sorted(set(ids) - found)
    if missing:
        raise ValidationFailed(
            f"颁发部门不存在：{', '.join(map(str, missing))}", code="unknown_department"
        )


async def create_type(session: AsyncSession, actor: Actor, data: LicenceTypeCreate) -> LicenceType:
    """Register a licence type (证照目录登记); platform administrators only."""
    if not access.can_manage_types(actor) and actor.kind != "system":
        raise PermissionDenied("只有平台管理员可以维护证照目录")
    code = identifier.check_type_code(data.code)
    if await get_type_by_code(session, code) is not None:
        raise Conflict(f"证照类型代码 {code} 已登记", code="licence_type_exists")
    _check_schema(data.field_schema)
    _check_validity(data.validity_years, data.validity_months)
    await _check_departments(session, data.issuing_department_ids)
    lt = LicenceType(
        code=code,
        name=data.name,
        defining_body=data.defining_body,
        region_code=data.region_code,
        holder_kind=data.holder_kind,
        issuing_department_ids=sorted(set(data.issuing_department_ids)),
        field_schema=data.field_schema,
        validity_years=data.validity_years or None,
        validity_months=data.validity_months or None,
        template=data.template.model_dump(exclude_none=True),
        reminder_days=sorted({d for d in data.reminder_days if d > 0}, reverse=True),
        auto_renewal=data.auto_renewal.model_dump() if data.auto_renewal else None,
    )
    session.add(lt)
    await session.flush()
    await audit.record(
        session,
        actor=_ref(actor),
        action="licence_type.create",
        target_type="licence_type",
        target_id=lt.id,
        region_code=lt.region_code,
        details={"code": code, "name": lt.name},
    )
    return lt


# LicenceTypeUpdate fields that may be left out but not set to null, with their labels.
_NOT_CLEARABLE = {
    "name": "名称",
    "defining_body": "设定机关",
    "issuing_department_ids": "发证部门",
    "field_schema": "字段定义",
    "template": "模板",
    "reminder_days": "到期提醒天数",
    "status": "状态",
}


async def update_type(
    session: AsyncSession, actor: Actor, type_id: int, data: LicenceTypeUpdate
) -> LicenceType:
    """Change a licence type; licences already issued keep the data they were signed with."""
    if not access.can_manage_types(actor) and actor.kind != "system":
        raise PermissionDenied("只有平台管理员可以维护证照目录")
    lt = (
        await lock_for_update(session, select(LicenceType).where(LicenceType.id == type_id))
    ).scalar_one_or_none()
    if lt is None:
        raise NotFound("证照类型不存在", code="licence_type_not_found")
    changes = data.model_dump(exclude_unset=True)
    cleared = [k for k in _NOT_CLEARABLE if k in changes and changes[k] is None]
    if cleared:  # an explicit null for a column that must hold a value (NOT NULL): a 422, not a 500
        raise ValidationFailed(
            "以下项目不能为空：" + "、".join(_NOT_CLEARABLE[k] for k in cleared),
            code="licence_type_invalid",
            details=[{"field": k, "message": "不能为空"} for k in cleared],
        )
    if "field_schema" in changes:
        _check_schema(changes["field_schema"])
    if "issuing_department_ids" in changes:
        await _check_departments(session, changes["issuing_department_ids"])
        changes["issuing_department_ids"] = sorted(set(changes["issuing_department_ids"]))
    years = changes.get("validity_years", lt.validity_years)
    months = changes.get("validity_months", lt.validity_months)
    _check_validity(years, months)
    for k, v in changes.items():
        setattr(lt, k, v)
    lt.updated_at = now()
    await session.flush()
    await audit.record(
        session,
        actor=_ref(actor),
        action="licence_type.update",
        target_type="licence_type",
        target_id=lt.id,
        region_code=lt.region_code,
        details={"fields": sorted(changes)},
    )
    return lt


_FIELD_MESSAGES = {
    "required": "必填项未填写",
    "type": "类型不正确",
    "maxLength": "内容太长",
    "minLength": "内容太短",
    "pattern": "格式不正确",
    "format": "格式不正确",
    "enum": "取值不在允许范围内",
    "const": "取值不在允许范围内",
    "maximum": "数值太大",
    "minimum": "数值太小",
    "additionalProperties": "包含不允许的字段",
}


def validate_data(lt: LicenceType, data: dict[str, Any]) -> dict[str, Any]:
    """The licence's data (照面信息) checked against its type's schema; Chinese errors per field."""
    if not isinstance(data, dict):
        raise ValidationFailed("照面信息应为对象", code="invalid_licence_data")
    validator = Draft202012Validator(lt.field_schema or {"type": "object"})
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in err.path)
        if err.validator == "required":
            missing = [
                p
                for p in err.validator_value
                if isinstance(err.instance, dict) and p not in err.instance
            ]
            errors += [
                {"field": ".".join(filter(None, [path, m])), "message": _FIELD_MESSAGES["required"]}
                for m in missing
            ]
            continue
        errors.append(
            {"field": path, "message": _FIELD_MESSAGES.get(str(err.validator), "取值无效")}
        )
    if errors:
        raise ValidationFailed(
            "照面信息不符合该证照类型的要求", code="invalid_licence_data", details=errors
        )
    try:
        crypto.canonical(data)
    except crypto.CanonicalError as e:
        raise ValidationFailed(
            "照面信息只能包含文本、整数、是否和列表（小数请以文本填写）",
            code="invalid_licence_data",
        ) from e
    return data


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def validity_end(lt: LicenceType, valid_from: dt.date) -> dt.date | None:
    """有效期截止 by the type's rule: start + years/months − 1 day; None for 长期有效."""
    months = (lt.validity_years or 0) * 12 + (lt.validity_months or 0)
    if months == 0:
        return None
    try:
        return add_months(valid_from, months) - dt.timedelta(days=1)
    except (ValueError, OverflowError):  # past year 9999
        raise ValidationFailed(
            f"有效期起始日期 {valid_from.isoformat()} 加上有效期后超出可表示的日期范围，请核对",
            code="validity_out_of_range",
        ) from None


# --- seals (电子印章) -----------------------------------------------------------------------------


def _seal_years() -> int:
    return config.settings().licence_seal_years


def plus_years(at: dt.datetime, years: int) -> dt.datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February
        return at.replace(year=at.year + years, day=28)


def _cert(seal: Seal) -> dict[str, str]:
    return seals.key_record(algorithm=seal.algorithm, public_pem=seal.public_key)


def signer_for(seal: Seal) -> crypto.PrivateKey:
    return crypto.keystore().signer(
        algorithm=seal.algorithm,
        key_id=seal.key_id,
        private_key_enc=seal.private_key_enc,
        key_ref=seal.key_ref,
    )


async def _new_key(algorithm: str) -> tuple[crypto.StoredKey, str]:
    stored = crypto.keystore().create(algorithm, key_id_hint="")
    return stored, crypto.key_id(algorithm, stored.public_pem)


async def maker_seal(session: AsyncSession, *, algorithm: str | None = None) -> Seal:
    """The platform's active seal maker key (制章者), made on first use."""
    found = (
        await session.execute(
            select(Seal)
            .where(Seal.kind == "maker", Seal.status == "active")
            .order_by(Seal.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    algorithm = algorithm or config.settings().licence_algorithm
    stored, kid = await _new_key(algorithm)
    at = now()
    maker = Seal(
        kind="maker",
        department_id=None,
        region_code=NATIONAL,
        name="通办平台制章者密钥",
        esid=f"MAKER-{kid}",
        algorithm=algorithm,
        key_id=kid,
        public_key=stored.public_pem,
        private_key_enc=stored.private_key_enc,
        keystore=crypto.keystore().name,
        key_ref=stored.key_ref,
        valid_from=at,
        valid_until=plus_years(at, 30),
        status="active",
    )
    session.add(maker)
    await session.flush()
    await audit.record(
        session,
        actor="system",
        action="licence_seal.maker",
        target_type="licence_seal",
        target_id=maker.id,
        region_code=NATIONAL,
        details={"key_id": kid, "algorithm": algorithm},
    )
    return maker


async def create_seal(
    session: AsyncSession,
    actor: Actor,
    department_id: int,
    *,
    algorithm: str | None = None,
    image_png: bytes | None = None,
    image_sha256: str | None = None,
    valid_years: int | None = None,
) -> Seal:
    """Make a department's new electronic seal (制章) and retire its current one (rotation).

    Licences signed with a retired seal keep verifying: the seal stays
    published with its validity period.
    """
    dept = (
        await lock_for_update(session, select(Department).where(Department.id == department_id))
    ).scalar_one_or_none()
    if dept is None:
        raise NotFound("部门不存在", code="department_not_found")
    if actor.kind != "system" and not access.can_manage_seals(
        actor, department_id=dept.id, department_region=dept.region_code
    ):
        raise PermissionDenied("只有本部门管理员或平台管理员可以制作或更换电子印章")
    algorithm = algorithm or config.settings().licence_algorithm
    if algorithm not in crypto.ALGORITHMS:
        raise ValidationFailed("签名算法应为 sm2 或 ed25519", code="invalid_algorithm")
    maker = await maker_seal(session)
    stored, kid = await _new_key(algorithm)
    at = now()
    until = plus_years(at, valid_years or _seal_years())
    name = f"{dept.name}电子证照专用章"
    svg = None
    if image_png is not None:
        picture_type, picture = "png", image_png
    else:
        svg = seals.seal_svg(dept.name)
        picture_type, picture = "svg", svg.encode("utf-8")
    esid = seals.new_esid(dept.region_code)
    cert = seals.key_record(algorithm=algorithm, public_pem=stored.public_pem)
    info = seals.seal_info(
        esid=esid,
        name=name,
        certs=[cert],
        created=at,
        valid_from=at,
        valid_until=until,
        picture_type=picture_type,
        picture=picture,
    )
    doc = seals.make_seal_document(info, maker=signer_for(maker), maker_record=_cert(maker))
    await session.execute(
        update(Seal)
        .where(Seal.department_id == dept.id, Seal.kind == "department", Seal.status == "active")
        .values(status="retired", retired_at=at)
    )
    seal = Seal(
        kind="department",
        department_id=dept.id,
        region_code=dept.region_code,
        name=name,
        esid=esid,
        algorithm=algorithm,
        key_id=kid,
        public_key=stored.public_pem,
        private_key_enc=stored.private_key_enc,
        keystore=crypto.keystore().name,
        key_ref=stored.key_ref,
        image_svg=svg,
        image_sha256=image_sha256,
        document=doc,
        maker_seal_id=maker.id,
        valid_from=at,
        valid_until=until,
        status="active",
        created_by=actor.account_id,
    )
    session.add(seal)
    await session.flush()
    await audit.record(
        session,
        actor=_ref(actor),
        action="licence_seal.create",
        target_type="licence_seal",
        target_id=seal.id,
        region_code=dept.region_code,
        details={"department_id": dept.id, "key_id": kid, "algorithm": algorithm},
    )
    return seal


async def active_seal(session: AsyncSession, department: Department) -> Seal:
    """The department's seal in use; one is made (by the system) when it has none or it lapsed."""
    found = (
        await session.execute(
            select(Seal)
            .where(
                Seal.department_id == department.id,
                Seal.kind == "department",
                Seal.status == "active",
            )
            .order_by(Seal.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if found is not None and found.valid_from <= now() < found.valid_until:
        return found
    from tongban.identity.access import SYSTEM

    return await create_seal(session, SYSTEM, department.id)


async def get_seals(session: AsyncSession, *, department_id: int | None = None) -> list[Seal]:
    stmt = select(Seal).order_by(Seal.id)
    if department_id is not None:
        stmt = stmt.where(Seal.department_id == department_id)
    return list((await session.execute(stmt)).scalars())


_makers: dict[str, dict[str, dict[str, str]]] = {}


async def maker_records(
    session: AsyncSession, *, need: str | None = None
) -> dict[str, dict[str, str]]:
    """The seal maker keys the platform trusts (kid → key record). Maker keys
    never change once made, so they are kept per process and reloaded when
    ``need`` (a maker kid a seal names) is not among them."""
    db = str(session.bind.url)
    got = _makers.get(db)
    if got is None or (need is not None and need not in got):
        stmt = select(Seal.key_id, Seal.algorithm, Seal.public_key).where(Seal.kind == "maker")
        rows = (await session.execute(stmt)).all()
        got = _makers[db] = {
            kid: seals.key_record(algorithm=alg, public_pem=pem) for kid, alg, pem in rows
        }
    return got


# --- the signed document ---------------------------------------------------------------------


def licence_document(lic: Licence) -> dict[str, Any]:
    """What a licence's seal signs (GB/T 36903 metadata + the data), in canonical form.

    Status is not in it: it changes without a new version (revocation).
    """
    return {
        "name": lic.name,  # 证照名称
        "type_name": lic.type_name,  # 证照类型名称
        "type_code": lic.type_code,  # 证照类型代码
        "number": lic.number,  # 证照编号
        "identifier": lic.identifier,  # 证照标识
        "version": lic.version,
        "issuer_name": lic.issuer_name,  # 颁发机构
        "issuer_code": lic.issuer_code,  # 颁发机构代码
        "issued_on": lic.issued_on.isoformat(),  # 颁证日期
        "holder_name": lic.holder_name,  # 持证主体
        "holder_code": lic.holder_code,  # 持证主体代码
        "holder_code_type": lic.holder_code_type,  # 持证主体代码类型
        "valid_from": lic.valid_from.isoformat(),  # 有效期起始
        "valid_until": lic.valid_until.isoformat() if lic.valid_until else "",  # 有效期截止
        "region_code": lic.region_code,  # 所属管辖属地编码
        "data": lic.data,  # 照面信息
    }


def _qr_extra(lt: LicenceType | None, data: dict[str, Any]) -> dict[str, Any] | None:
    names = (lt.template or {}).get("qr_fields") if lt is not None else None
    if not names:
        return None
    extra = {n: data[n] for n in names[:4] if n in data and isinstance(data[n], str | int | bool)}
    return extra or None


def _seal_licence(lic: Licence, seal: Seal, *, at: dt.datetime, lt: LicenceType | None) -> None:
    """Sign the current version: the SES_Signature, its hash and the QR payload."""
    signer = signer_for(seal)
    sig, digest_hex = seals.sign_document(
        licence_document(lic),
        identifier=lic.identifier,
        seal_doc=seal.document or {},
        signer=signer,
        signer_record=_cert(seal),
        at=at,
    )
    lic.signature, lic.canonical_hash, lic.seal_id = sig, digest_hex, seal.id
    claims = payload.claims_for(
        identifier=lic.identifier,
        name=lic.name,
        number=lic.number,
        holder_name=lic.holder_name,
        holder_code=lic.holder_code,
        holder_code_type=lic.holder_code_type,
        issuer_name=lic.issuer_name,
        issued_on=lic.issued_on.isoformat(),
        valid_from=lic.valid_from.isoformat(),
        valid_until=lic.valid_until.isoformat() if lic.valid_until else "",
        key_id=seal.key_id,
        extra=_qr_extra(lt, lic.data),
    )
    lic.qr_payload = payload.encode(claims, signer)


# --- issuance -----------------------------------------------------------------------------------


def _counter_stmt(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    t = LicenceCounter.__table__
    return (
        upsert(t)
        .values(type_code=bindparam("t"), issuer_code=bindparam("i"), year=bindparam("y"), value=1)
        .on_conflict_do_update(
            index_elements=[t.c.type_code, t.c.issuer_code, t.c.year], set_={"value": t.c.value + 1}
        )
        .returning(t.c.value)
    )


_counter: dict[str, Any] = {}


async def next_serial(session: AsyncSession, type_code: str, issuer_code: str, year: int) -> str:
    """流水号 ``<yyyy><7 digits>`` (as the real 20230000403), per type, issuer and year."""
    dialect = session.bind.dialect.name
    stmt = _counter.get(dialect)
    if stmt is None:
        stmt = _counter[dialect] = _counter_stmt(dialect)
    value = (
        await session.execute(stmt, {"t": type_code, "i": issuer_code, "y": year})
    ).scalar_one()
    return f"{year:04d}{value:07d}"


@dataclass(frozen=True)
class Holder:
    name: str
    code: str
    code_type: str  # 111 / 001
    person_id: int | None
    enterprise_id: int | None


async def holder_of(
    session: AsyncSession, lt: LicenceType, *, person_id: int | None, enterprise_id: int | None
) -> Holder:
    if lt.holder_kind == "enterprise":
        if enterprise_id is None:
            raise ValidationFailed(
                f"{lt.name}的持证主体应为法人，请选择企业或组织", code="holder_enterprise_required"
            )
        ent = await session.get(Enterprise, enterprise_id)
        if ent is None:
            raise ValidationFailed("持证主体（法人）不存在", code="holder_not_found")
        return Holder(ent.name, ent.credit_code, "001", None, ent.id)
    if person_id is None:
        raise ValidationFailed(
            f"{lt.name}的持证人应为自然人，请选择持证人", code="holder_person_required"
        )
    p = await session.get(Person, person_id)
    if p is None:
        raise ValidationFailed("持证人不存在", code="holder_not_found")
    return Holder(p.name, p.id_number, "111", p.id, None)


def _history(
    lic: Licence, action: str, actor: Actor, reason: str = "", *, signed: bool
) -> LicenceHistory:
    return LicenceHistory(
        licence_id=lic.id,
        region_code=lic.region_code,
        action=action,
        version=lic.version,
        identifier=lic.identifier,
        status=lic.status,
        data=lic.data if signed else None,
        signature=lic.signature if signed else None,
        canonical_hash=lic.canonical_hash if signed else None,
        seal_id=lic.seal_id if signed else None,
        reason=reason,
        actor_ref=_ref(actor),
        actor_name=actor.display_name[:100],
        at=now(),
    )


def _event_payload(lic: Licence) -> dict[str, Any]:
    return {
        "licence_id": lic.id,
        "identifier": lic.identifier,
        "holder_person_id": lic.holder_person_id,
        "holder_enterprise_id": lic.holder_enterprise_id,
        "case_id": lic.case_id,
    }


async def notify_holder(session: AsyncSession, lic: Licence, title: str, body: str = "") -> int:
    """站内消息 to the holder's person account(s) — for an enterprise, its legal
    representative's — and, for a licence from a case, the applicant's."""
    from tongban.cases.models import Case, Notification

    people = {lic.holder_person_id}
    if lic.holder_enterprise_id is not None:
        people.add(
            (
                await session.execute(
                    select(Enterprise.legal_rep_id).where(Enterprise.id == lic.holder_enterprise_id)
                )
            ).scalar()
        )
    if lic.case_id is not None:
        people.add(
            (
                await session.execute(
                    select(Case.applicant_person_id).where(Case.id == lic.case_id)
                )
            ).scalar()
        )
    people.discard(None)
    if not people:
        return 0
    accounts = (
        (
            await session.execute(
                select(Account.id)
                .where(Account.kind == "person", Account.person_id.in_(people))
                .order_by(Account.id)
            )
        )
        .scalars()
        .all()
    )
    for acc in accounts:
        session.add(Notification(account_id=acc, case_id=lic.case_id, title=title[:200], body=body))
    return len(accounts)


async def issue(
    session: AsyncSession,
    actor: Actor,
    *,
    type_code: str,
    data: dict[str, Any],
    holder_person_id: int | None = None,
    holder_enterprise_id: int | None = None,
    department_id: int | None = None,
    number: str | None = None,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    case_id: int | None = None,
    source: str = "manual",
) -> Licence:
    """颁发: a new sealed licence, version 001, from its type, holder and data."""
    lt = await get_type_by_code(session, type_code)
    if lt is None:
        raise NotFound(f"证照类型 {type_code} 未在证照目录中登记", code="licence_type_not_found")
    if lt.status != "active":
        raise Conflict(f"证照类型“{lt.name}”已停用，不能颁发", code="licence_type_retired")
    department_id = department_id if department_id is not None else actor.department_id
    dept = await session.get(Department, department_id) if department_id is not None else None
    if dept is None:
        raise ValidationFailed("请指定颁发部门", code="issuer_required")
    access.require_issuer(
        actor, lt, dept.id
    )  # the system (a concluded case, an import) decided already
    if not dept.credit_code:
        raise ValidationFailed(
            f"{dept.name}缺少统一社会信用代码，无法生成证照标识", code="issuer_code_missing"
        )
    holder = await holder_of(
        session, lt, person_id=holder_person_id, enterprise_id=holder_enterprise_id
    )
    data = validate_data(lt, data)
    at = now()
    tz = config.settings().timezone
    issued_on = local(at, tz).date()
    valid_from = valid_from or issued_on
    if valid_until is None:
        valid_until = validity_end(lt, valid_from)
    if valid_until is not None and valid_until < valid_from:
        raise ValidationFailed("有效期截止日期不能早于起始日期", code="invalid_validity")
    seal = await active_seal(session, dept)
    serial = await next_serial(session, lt.code, dept.credit_code, issued_on.year)
    ident = identifier.make(lt.code, dept.credit_code, serial, 1, validate_codes=False)
    lic = Licence(
        region_code=dept.region_code,
        licence_type_id=lt.id,
        name=(lt.template or {}).get("title") or lt.name,
        type_name=lt.name,
        type_code=lt.code,
        number=number or f"{dept.region_code[:6]}{serial}",
        identifier=str(ident),
        serial=serial,
        version=1,
        issuer_name=dept.name,
        issuer_code=dept.credit_code,
        issuer_department_id=dept.id,
        issued_on=issued_on,
        holder_name=holder.name,
        holder_code=holder.code,
        holder_code_type=holder.code_type,
        holder_person_id=holder.person_id,
        holder_enterprise_id=holder.enterprise_id,
        valid_from=valid_from,
        valid_until=valid_until,
        data=data,
        status="valid",
        source=source,
        case_id=case_id,
        issued_by=actor.account_id,
        created_at=at,
        updated_at=at,
    )
    _seal_licence(lic, seal, at=at, lt=lt)
    session.add(lic)
    await session.flush()
    session.add(_history(lic, "issue", actor, signed=True))
    await audit.record(
        session,
        actor=_ref(actor),
        action="licence.issue",
        target_type="licence",
        target_id=lic.id,
        region_code=lic.region_code,
        details={"identifier": lic.identifier, "type_code": lt.code, "case_id": case_id},
    )
    await record_event(session, "licence.issued", _event_payload(lic), region_code=lic.region_code)
    await notify_holder(
        session,
        lic,
        f"您的电子证照已签发：{lic.name}",
        f"证照编号 {lic.number}。可在“我的证照”中查看、下载和出示。",
    )
    return lic


async def _locked(session: AsyncSession, licence_id: int) -> Licence:
    lic = (
        await lock_for_update(session, select(Licence).where(Licence.id == licence_id))
    ).scalar_one_or_none()
    if lic is None:
        raise NotFound("未找到该证照，或您无权查看", code="licence_not_found")
    return lic


async def _require_manage(session: AsyncSession, actor: Actor, lic: Licence) -> LicenceType:
    lt = await session.get(LicenceType, lic.licence_type_id)
    assert lt is not None
    if actor.kind != "system" and not access.can_issue(actor, lt, lic.issuer_department_id):
        # outside the actor's licences: not found; inside but not theirs to change: forbidden
        await access.access_licence(session, actor, lic.id)
        raise PermissionDenied(
            "只有颁发部门的审批人员或部门管理员可以办理", code="not_licence_issuer"
        )
    return lt


async def change(
    session: AsyncSession,
    actor: Actor,
    licence_id: int,
    *,
    reason: str,
    data: dict[str, Any] | None = None,
    valid_until: dt.date | None = None,
) -> Licence:
    """变更: a new version (identifier version + 1), signed again; the old one stays in the history."""
    lic = await _locked(session, licence_id)
    lt = await _require_manage(session, actor, lic)
    if lic.status != "valid":
        raise Conflict("已吊销或注销的证照不能变更", code="licence_not_valid")
    reason = _reason(reason)
    new_data = validate_data(lt, data) if data is not None else lic.data
    new_until = valid_until if valid_until is not None else lic.valid_until
    if new_until is not None and new_until < lic.valid_from:
        raise ValidationFailed("有效期截止日期不能早于起始日期", code="invalid_validity")
    if new_data == lic.data and new_until == lic.valid_until:
        raise ValidationFailed("变更内容与当前版本相同", code="nothing_changed")
    if lic.version >= identifier.MAX_VERSION:
        raise Conflict("该证照的版本号已达上限，请注销后重新颁发", code="licence_version_limit")
    dept = await session.get(Department, lic.issuer_department_id)
    assert dept is not None
    seal = await active_seal(session, dept)
    at = now()
    lic.version += 1
    lic.identifier = str(
        identifier.make(
            lic.type_code, lic.issuer_code, lic.serial, lic.version, validate_codes=False
        )
    )
    lic.data, lic.valid_until, lic.updated_at = new_data, new_until, at
    _seal_licence(lic, seal, at=at, lt=lt)
    await session.flush()
    session.add(_history(lic, "change", actor, reason, signed=True))
    await audit.record(
        session,
        actor=_ref(actor),
        action="licence.change",
        target_type="licence",
        target_id=lic.id,
        region_code=lic.region_code,
        details={"identifier": lic.identifier, "version": lic.version},
    )
    await record_event(session, "licence.changed", _event_payload(lic), region_code=lic.region_code)
    await notify_holder(
        session, lic, f"您的电子证照已变更：{lic.name}", f"变更原因：{reason}。请使用新版本。"
    )
    return lic


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationFailed("请填写原因", code="reason_required")
    return reason[:1000]


async def _end(
    session: AsyncSession, actor: Actor, licence_id: int, *, status: str, reason: str
) -> Licence:
    lic = await _locked(session, licence_id)
    await _require_manage(session, actor, lic)
    reason = _reason(reason)
    if lic.status != "valid":
        raise Conflict("该证照已吊销或注销", code="licence_not_valid")
    at = now()
    lic.status, lic.status_reason, lic.status_changed_at, lic.updated_at = status, reason, at, at
    await session.flush()
    action = "revoke" if status == "revoked" else "annul"
    session.add(_history(lic, action, actor, reason, signed=False))
    await audit.record(
        session,
        actor=_ref(actor),
        action=f"licence.{action}",
        target_type="licence",
        target_id=lic.id,
        region_code=lic.region_code,
        details={"identifier": lic.identifier},
    )
    await record_event(
        session, f"licence.{status}", _event_payload(lic), region_code=lic.region_code
    )
    word = "吊销" if status == "revoked" else "注销"
    await notify_holder(session, lic, f"您的电子证照已{word}：{lic.name}", f"原因：{reason}")
    return lic


async def revoke(session: AsyncSession, actor: Actor, licence_id: int, *, reason: str) -> Licence:
    """吊销, with the reason (shown as 已吊销 by every verification from now on)."""
    return await _end(session, actor, licence_id, status="revoked", reason=reason)


async def annul(session: AsyncSession, actor: Actor, licence_id: int, *, reason: str) -> Licence:
    """注销, with the reason."""
    return await _end(session, actor, licence_id, status="annulled", reason=reason)


async def get_history(session: AsyncSession, licence_id: int) -> list[LicenceHistory]:
    stmt = (
        select(LicenceHistory)
        .where(LicenceHistory.licence_id == licence_id)
        .order_by(LicenceHistory.id)
    )
    return list((await session.execute(stmt)).scalars())


# --- integrity of a stored licence ------------------------------------------------------------

_seal_checks: dict[tuple[str, int, str], bool] = {}


async def check_record(session: AsyncSession, lic: Licence) -> seals.SealCheck:
    """Verify a stored licence's seal signature over its current data (STANDARDS §4 order).

    The seal is read fresh each time (a tampered seal row is caught); the
    maker's signature over it is checked once per process per seal digest.
    """
    seal = await session.get(Seal, lic.seal_id)
    if seal is None or seal.document is None:
        return seals.SealCheck(False, "cert_in_seal")
    maker_kid = str((seal.document.get("cert") or {}).get("kid", ""))
    makers = await maker_records(session, need=maker_kid)
    sig_alg = str((lic.signature or {}).get("signatureAlgID"))
    alg = crypto.OID_ALGORITHMS.get(sig_alg, seal.algorithm)
    try:
        digest = seals.seal_hash(seal.document, alg)
    except crypto.CanonicalError:
        return seals.SealCheck(False, "format")
    key = (str(session.bind.url), seal.id, digest)
    seal_ok = _seal_checks.get(key)
    if seal_ok is None:
        seal_ok = _seal_checks[key] = seals.verify_seal(seal.document, makers=makers)
    return seals.verify_signature(
        lic.signature,
        seal_doc=seal.document,
        makers=makers,
        document=licence_document(lic),
        identifier=lic.identifier,
        seal_ok=seal_ok,
        seal_digest=digest,
    )


# --- published keys -------------------------------------------------------------------------

JWK_ALG = {"sm2": "SM2-SM3", "ed25519": "EdDSA"}


async def public_keys(session: AsyncSession) -> dict[str, Any]:
    """The published verification keys (JWKS-like): every seal and maker key,
    active or retired, with validity — never a private key."""
    rows = (
        await session.execute(
            select(Seal, Department.name, Department.credit_code)
            .outerjoin(Department, Department.id == Seal.department_id)
            .order_by(Seal.id)
        )
    ).all()
    keys = []
    for seal, dept_name, dept_code in rows:
        entry: dict[str, Any] = {
            "kid": seal.key_id,
            **crypto.jwk(seal.algorithm, seal.public_key),
            "alg": JWK_ALG[seal.algorithm],
            "use": "sig",
            "tb_alg": seal.algorithm,
            "kind": seal.kind,
            "status": seal.status,
            "valid_from": seals.utc_text(seal.valid_from),
            "valid_until": seals.utc_text(seal.valid_until),
            "esid": seal.esid,
            "name": seal.name,
        }
        if seal.kind == "department":
            entry |= {
                "issuer": dept_name or "",
                "issuer_code": dept_code or "",
                "seal": seal.document,
            }
        keys.append(entry)
    return {"keys": keys, "issued_at": seals.utc_text(now())}


# --- verification (核验) ----------------------------------------------------------------------------
#
# Two ways in, one logic: ``SessionLookup`` (the ORM session of a request or a
# job) and ``RawLookup`` (the driver connection of the hot API path,
# ``api.verify_hot``: no ORM, two indexed reads at most). The answer is built
# from a ``LicenceRow`` either way.


@dataclass
class KeyInfo:
    seal_id: int
    algorithm: str
    public_pem: str
    kind: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    public: Any = None  # the loaded key object (None: the PEM does not load; nothing verifies)


@dataclass
class _KeyCache:
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    missing: dict[str, float] = field(default_factory=dict)  # kid → when it was not found


_key_caches: dict[str, _KeyCache] = {}
NEGATIVE_SECONDS = 5.0  # an unknown key id is looked up again after this long
NEGATIVE_MAX = 10_000

LicenceRow = namedtuple(
    "LicenceRow",
    "id identifier name type_name number version issuer_name issuer_code issued_on holder_name holder_code "
    "holder_code_type valid_from valid_until status status_changed_at region_code seal_id",
)
_LOOKUP_COLUMNS = (
    Licence.id,
    Licence.identifier,
    Licence.name,
    Licence.type_name,
    Licence.number,
    Licence.version,
    Licence.issuer_name,
    Licence.issuer_code,
    Licence.issued_on,
    Licence.holder_name,
    Licence.holder_code,
    Licence.holder_code_type,
    Licence.valid_from,
    Licence.valid_until,
    Licence.status,
    Licence.status_changed_at,
    Licence.region_code,
    Licence.seal_id,
)
_by_identifier = select(*_LOOKUP_COLUMNS).where(Licence.identifier == bindparam("ident"))
_history_by_identifier = (
    select(LicenceHistory.licence_id, Licence.identifier, Licence.region_code)
    .join(Licence, Licence.id == LicenceHistory.licence_id)
    .where(LicenceHistory.identifier == bindparam("ident"))
    .limit(1)
)
_key_stmt = select(
    Seal.id,
    Seal.key_id,
    Seal.algorithm,
    Seal.public_key,
    Seal.kind,
    Seal.valid_from,
    Seal.valid_until,
).where(Seal.key_id == bindparam("kid"))


class Lookup(Protocol):
    """Where verification reads from."""

    cache_key: str  # the database (for the per-process key cache)

    async def licence(self, ident: str) -> LicenceRow | None: ...

    async def history(self, ident: str) -> tuple[int, str, str] | None: ...

    async def key(self, kid: str) -> tuple[Any, ...] | None: ...


class SessionLookup:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.cache_key = str(session.bind.url)

    async def licence(self, ident: str) -> LicenceRow | None:
        row = (await self.session.execute(_by_identifier, {"ident": ident})).first()
        return LicenceRow(*row) if row is not None else None

    async def history(self, ident: str) -> tuple[int, str, str] | None:
        row = (await self.session.execute(_history_by_identifier, {"ident": ident})).first()
        return (row[0], row[1], row[2]) if row is not None else None

    async def key(self, kid: str) -> tuple[Any, ...] | None:
        row = (await self.session.execute(_key_stmt, {"kid": kid})).first()
        return tuple(row) if row is not None else None


class RawLookup:
    """The same reads on a pooled connection's driver (``web.deps.raw_connection``), in autocommit."""

    def __init__(self, conn: Any, cache_key: str) -> None:
        self.conn = conn
        self.cache_key = cache_key

    async def licence(self, ident: str) -> LicenceRow | None:
        rows = await self.conn.fetch(_RAW_LICENCE, ident)
        if not rows:
            return None
        r = list(rows[0])
        if self.conn.is_sqlite:  # Date columns come back as text, datetimes as naive UTC text
            for i in (8, 12, 13):
                r[i] = dt.date.fromisoformat(r[i]) if r[i] else None
            r[15] = self.conn.datetime(r[15])
        elif r[15] is not None:
            r[15] = self.conn.datetime(r[15])
        return LicenceRow(*r)

    async def history(self, ident: str) -> tuple[int, str, str] | None:
        rows = await self.conn.fetch(_RAW_HISTORY, ident)
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def key(self, kid: str) -> tuple[Any, ...] | None:
        rows = await self.conn.fetch(_RAW_KEY, kid)
        if not rows:
            return None
        r = rows[0]
        return (r[0], r[1], r[2], r[3], r[4], self.conn.datetime(r[5]), self.conn.datetime(r[6]))


def _raw(sql: str) -> Any:
    from tongban.identity.repository import RawStatement

    return RawStatement(sql)


_RAW_LICENCE = _raw(
    "SELECT id, identifier, name, type_name, number, version, issuer_name, issuer_code, issued_on, holder_name, "
    "holder_code, holder_code_type, valid_from, valid_until, status, status_changed_at, region_code, seal_id "
    "FROM licence WHERE identifier = $1"
)
_RAW_HISTORY = _raw(
    "SELECT h.licence_id, l.identifier, l.region_code FROM licence_history h JOIN licence l ON l.id = h.licence_id "
    "WHERE h.identifier = $1 LIMIT 1"
)
_RAW_KEY = _raw(
    "SELECT id, key_id, algorithm, public_key, kind, valid_from, valid_until FROM licence_seal WHERE key_id = $1"
)


async def _key(lookup: Lookup, kid: str) -> KeyInfo | None:
    """A seal's public key by key id. Keys never change once made (a retired
    seal still verifies what it signed), so found keys stay cached in the
    process; an unknown key id is looked up again after ``NEGATIVE_SECONDS``."""
    cache = _key_caches.setdefault(lookup.cache_key, _KeyCache())
    got = cache.keys.get(kid)
    if got is not None:
        return got
    missed = cache.missing.get(kid)
    if missed is not None and time.monotonic() - missed < NEGATIVE_SECONDS:
        return None
    row = await lookup.key(kid)
    if row is None:
        if len(cache.missing) >= NEGATIVE_MAX:
            cache.missing.clear()
        cache.missing[kid] = time.monotonic()
        return None
    try:
        public = crypto.load_public(row[2], row[3])
    except Exception:
        public = None
    got = cache.keys[kid] = KeyInfo(row[0], row[2], row[3], row[4], row[5], row[6], public)
    cache.missing.pop(kid, None)
    return got


@dataclass
class Verification:
    """The answer to one verification."""

    result: str  # models.VERIFY_RESULTS
    message: str
    method: str  # payload | identifier
    signature_checked: bool = False
    licence: dict[str, Any] | None = None  # the public facts (holder masked)
    current_identifier: str = ""  # for a superseded version: the current one
    licence_id: int | None = None
    region_code: str = NATIONAL
    identifier: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "result_text": VERIFY_RESULTS[self.result],
            "message": self.message,
            "method": self.method,
            "signature_checked": self.signature_checked,
            "identifier": self.identifier,
            "current_identifier": self.current_identifier or None,
            "licence": self.licence,
            "checked_at": now().isoformat(timespec="seconds"),
        }


MESSAGES = {
    "valid": "该电子证照真实有效。",
    "expired": "该电子证照真实，但已超过有效期。",
    "revoked": "该电子证照已被颁发机构吊销，不能再作为有效证照使用。",
    "annulled": "该电子证照已被注销，不能再作为有效证照使用。",
    "superseded": "该电子证照已变更，您核验的是旧版本，请持证人出示最新版本。",
    "not_found": "未找到该电子证照，请核对证照标识或联系颁发机构。",
    "invalid": "验证失败：二维码或证照内容被篡改，或不是本平台签发的电子证照。",
}


def _row_status(row: LicenceRow, today: dt.date) -> str:
    if row.status != "valid":
        return str(row.status)
    if row.valid_until is not None and row.valid_until < today:
        return "expired"
    return "valid"


def _public_facts(row: LicenceRow, today: dt.date) -> dict[str, Any]:
    person = row.holder_code_type == "111"
    return {
        "identifier": row.identifier,
        "name": row.name,
        "type_name": row.type_name,
        "number": row.number,
        "version": row.version,
        "issuer_name": row.issuer_name,
        "issuer_code": row.issuer_code,
        "issued_on": row.issued_on.isoformat(),
        "holder_name": mask_name(row.holder_name) if person else row.holder_name,
        "holder_code": mask_resident_id(row.holder_code) if person else row.holder_code,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else "",
        "status": _row_status(row, today),
        "status_changed_on": local(row.status_changed_at).date().isoformat()
        if row.status_changed_at and row.status != "valid"
        else None,
    }


async def _superseded(lookup: Lookup, ident: str, v: Verification) -> Verification:
    hist = await lookup.history(ident)
    if hist is None:
        v.result, v.message = "not_found", MESSAGES["not_found"]
        return v
    v.result, v.message = "superseded", MESSAGES["superseded"]
    v.licence_id, v.current_identifier, v.region_code = hist
    return v


async def verify_payload(lookup: Lookup, text: str, *, today: dt.date) -> Verification:
    """QR payload: the seal's signature over it, then the licence's current status."""
    decoded = payload.decode(text)
    claims = decoded.claims
    ident = claims["id"]
    v = Verification(
        result="invalid", message=MESSAGES["invalid"], method="payload", identifier=ident[:160]
    )
    key = await _key(lookup, claims["k"])
    if key is None or key.kind != "department" or key.public is None:
        return v
    if not crypto.verify_loaded(key.algorithm, key.public, decoded.signature, decoded.body):
        return v
    v.signature_checked = True
    row = await lookup.licence(ident)
    if row is None:
        return await _superseded(lookup, ident, v)
    if (
        row.seal_id != key.seal_id
    ):  # signed by a real seal, but not the one this licence version carries
        v.signature_checked = False
        return v
    status = _row_status(row, today)
    v.result, v.message = status, MESSAGES[status]
    v.licence, v.licence_id, v.region_code = _public_facts(row, today), row.id, row.region_code
    return v


async def verify_identifier(session: AsyncSession, text: str, *, today: dt.date) -> Verification:
    """证照标识: checked, looked up, and the stored record's seal signature verified."""
    ident = str(identifier.parse(text))
    v = Verification(
        result="not_found", message=MESSAGES["not_found"], method="identifier", identifier=ident
    )
    stmt = select(Licence).where(Licence.identifier == ident)
    lic = (await session.execute(stmt)).scalar_one_or_none()
    if lic is None:
        return await _superseded(SessionLookup(session), ident, v)
    row = LicenceRow(*(getattr(lic, c.key) for c in _LOOKUP_COLUMNS))
    v.licence_id, v.region_code = lic.id, lic.region_code
    check = await check_record(session, lic)
    if not check.ok:
        log.warning(
            "licence record failed its seal check",
            extra={"fields": {"licence_id": lic.id, "step": check.step}},
        )
        v.result, v.message = "invalid", f"验证失败：{check.message}"
        return v
    v.signature_checked = True
    status = effective_status(lic, today)
    v.result, v.message = status, MESSAGES[status]
    v.licence = _public_facts(row, today)
    return v


def today_local() -> dt.date:
    return local(now(), config.settings().timezone).date()


async def verify(
    session: AsyncSession,
    *,
    text: str,
    channel: str,
    requester: str = "anonymous",
    ip: str = "",
    maker: Any = None,
) -> Verification:
    """核验 by QR payload or identifier; every verification is logged (``verifylog``).

    ``maker``: the request's sessionmaker, for the batched log writer; without
    it (or with batching off) the log row joins the caller's transaction.
    """
    today = today_local()
    text = (text or "").strip()
    try:
        if payload.looks_like_payload(text):
            v = await verify_payload(SessionLookup(session), text, today=today)
        else:
            v = await verify_identifier(session, text, today=today)
    except ValidationFailed as e:
        log_verification(
            session,
            maker,
            licence_id=None,
            identifier=text[:160] if identifier.is_identifier(text) else "",
            channel=channel,
            requester=requester,
            ip=ip,
            result="invalid",
            region_code=NATIONAL,
        )
        e.persist = True  # keep the log row (unbatched mode) though the request fails
        raise
    log_verification(
        session,
        maker,
        licence_id=v.licence_id,
        identifier=v.identifier,
        channel=channel,
        requester=requester,
        ip=ip,
        result=v.result,
        region_code=v.region_code,
    )
    return v


def log_batched() -> bool:
    return config.settings().licence_verify_log_batch_ms > 0


def log_verification(
    session: AsyncSession | None,
    maker: Any,
    *,
    licence_id: int | None,
    identifier: str,
    channel: str,
    requester: str,
    ip: str,
    result: str,
    region_code: str,
) -> None:
    batch_ms = config.settings().licence_verify_log_batch_ms
    if maker is not None and batch_ms > 0:
        # verifylog.COLUMNS order
        verifylog.recorder(maker, batch_ms).add(
            (licence_id, identifier, channel, requester[:100], ip[:45], result, region_code, now())
        )
    else:
        assert session is not None
        session.add(
            VerificationLog(
                licence_id=licence_id,
                identifier=identifier,
                channel=channel,
                requester=requester[:100],
                ip=ip[:45],
                result=result,
                region_code=region_code,
                at=now(),
            )
        )


async def get_verifications(
    session: AsyncSession, licence_id: int, *, limit: int = 50
) -> list[VerificationLog]:
    stmt = (
        select(VerificationLog)
        .where(VerificationLog.licence_id == licence_id)
        .order_by(VerificationLog.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
