"""Catalogue rules: create, edit drafts, publish, retire, derive implementations.

Every change is one function that locks the row it changes, checks who may,
writes the change log (``catalogue_change``) and the audit log, and — for
published implementations — records ``catalogue.published`` (the search index
and the guide caches listen). Services flush; the edge commits.

Versions: an item has at most one draft, the newest version. Editing a
published item opens a new draft copied from it; publishing marks the draft
``published`` and the previous one ``superseded``. A published version's
document is never written again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import checks, codes, forms
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
from tongban.catalogue.schemas import ItemFields, LocalFields, OnlineOverride, dump
from tongban.core import audit, scope
from tongban.core.clock import now
from tongban.core.db import lock_for_update
from tongban.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tongban.core.outbox import record_event
from tongban.core.settings import get_settings
from tongban.identity.access import Actor
from tongban.regions.models import Department, Region

EVENT_PUBLISHED = "catalogue.published"
_FREE_CODE = re.compile(r"[0-9A-Z][0-9A-Z\-]{3,39}")


def content_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


# --- who may ------------------------------------------------------------------


def can_manage_base(actor: Actor, region_code: str) -> bool:
    """Base items: platform administrators of the owning region's subtree;
    national items by administrators of a province (who maintain the copy)."""
    if actor.kind != "staff" or "platform_admin" not in actor.roles:
        return False
    if region_code == NATIONAL:
        return scope.level_of(actor.region_code) <= 1
    return scope.is_within(region_code, actor.region_code)


def can_manage_implementation(actor: Actor, impl: Implementation) -> bool:
    if actor.kind != "staff":
        return False
    if "platform_admin" in actor.roles and scope.is_within(impl.region_code, actor.region_code):
        return True
    return "dept_admin" in actor.roles and actor.department_id == impl.department_id


def _require(ok: bool) -> None:
    if not ok:
        raise PermissionDenied("您没有管理该事项的权限", code="catalogue_forbidden")


def validate_base_code(code: str, scheme: str | None = None) -> str:
    """Check a 基本编码 under ``scheme`` (default: the configured one)."""
    v = (code or "").strip().upper()
    if (scheme or get_settings().catalogue_base_code_scheme) == "gbt39046":
        try:
            return codes.parse_base_code(v).value
        except codes.CodeError as e:
            raise ValidationFailed(
                e.message, code=e.code, details=[{"field": "base_code", "message": e.message}]
            ) from None
    if not _FREE_CODE.fullmatch(v):
        raise ValidationFailed(
            "基本编码只能包含字母、数字和短横线，长度 4–40 位", code="base_code_format"
        )
    return v


def validate_impl_code(code: str) -> codes.ImplementationCode:
    try:
        return codes.parse_implementation_code(code, get_settings().catalogue_impl_code_scheme)
    except codes.CodeError as e:
        raise ValidationFailed(
            e.message, code=e.code, details=[{"field": "impl_code", "message": e.message}]
        ) from None


def parse_fields(data: Any) -> ItemFields:
    from pydantic import ValidationError

    from tongban.core.errors import field_errors

    if isinstance(data, ItemFields):
        return data
    try:
        return ItemFields.model_validate(data)
    except ValidationError as e:
        raise ValidationFailed(
            "事项要素填写有误", code="item_fields_invalid", details=field_errors(e.errors())
        ) from None


def parse_local(data: Any) -> LocalFields:
    from pydantic import ValidationError

    from tongban.core.errors import field_errors

    if isinstance(data, LocalFields):
        return data
    try:
        return LocalFields.model_validate(data or {})
    except ValidationError as e:
        raise ValidationFailed(
            "实施要素填写有误", code="local_fields_invalid", details=field_errors(e.errors())
        ) from None


async def _log(
    session: AsyncSession,
    actor: Actor,
    *,
    entity: str,
    entity_id: int,
    version: int,
    action: str,
    region_code: str,
    changed: list[str] | None = None,
    summary: str = "",
) -> None:
    session.add(
        CatalogueChange(
            entity=entity,
            entity_id=entity_id,
            version=version,
            action=action,
            changed=changed or [],
            summary=summary,
            actor_id=actor.account_id,
            region_code=region_code,
        )
    )
    await audit.record(
        session,
        actor=actor.ref,
        action=f"catalogue.{entity}.{action}",
        target_type=entity,
        target_id=entity_id,
        region_code=region_code,
        details={"version": version, "changed": changed or []},
    )


# --- base items (基本目录) ---------------------------------------------------------


async def create_item(
    session: AsyncSession,
    actor: Actor,
    *,
    base_code: str,
    fields: ItemFields | dict[str, Any],
    region_code: str = NATIONAL,
    note: str = "",
    log: bool = True,
    code_scheme: str | None = None,
) -> CatalogueItem:
    """``code_scheme``: how the 基本编码 is checked (default: the configured one;
    an import of provincial codes passes ``free``)."""
    _require(can_manage_base(actor, region_code))
    scheme = code_scheme or get_settings().catalogue_base_code_scheme
    code = validate_base_code(base_code, scheme)
    f = parse_fields(fields)
    if scheme == "gbt39046":
        parsed = codes.parse_base_code(code)
        if parsed.item_type != f.item_type:
            raise ValidationFailed(
                f"基本编码中的事项类型（{parsed.item_type}）与所填事项类型（{f.item_type}）不一致",
                code="base_code_type_mismatch",
            )
    if (
        await session.execute(select(CatalogueItem.id).where(CatalogueItem.base_code == code))
    ).first():
        raise Conflict(f"基本编码 {code} 已存在", code="base_code_taken")
    doc = dump(f)
    item = CatalogueItem(
        base_code=code,
        code_scheme=scheme,
        name=f.name,
        item_type=f.item_type,
        region_code=region_code,
        status="draft",
        current_version=1,
    )
    session.add(item)
    await session.flush()
    session.add(
        ItemVersion(
            item_id=item.id,
            version=1,
            status="draft",
            fields=doc,
            content_hash=content_hash(doc),
            note=note,
            created_by=actor.account_id,
        )
    )
    await session.flush()
    if log:
        await _log(
            session,
            actor,
            entity="item",
            entity_id=item.id,
            version=1,
            action="create",
            region_code=region_code,
            summary=note,
        )
    return item


async def _locked_item(session: AsyncSession, item_id: int) -> CatalogueItem:
    item = (
        await lock_for_update(session, select(CatalogueItem).where(CatalogueItem.id == item_id))
    ).scalar_one_or_none()
    if item is None:
        raise NotFound("事项不存在", code="item_not_found")
    return item


async def item_version(session: AsyncSession, item_id: int, version: int) -> ItemVersion:
    row = (
        await session.execute(
            select(ItemVersion).where(
                ItemVersion.item_id == item_id, ItemVersion.version == version
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("事项版本不存在", code="version_not_found")
    return row


async def save_item_draft(
    session: AsyncSession,
    actor: Actor,
    item_id: int,
    fields: ItemFields | dict[str, Any],
    *,
    note: str = "",
) -> ItemVersion:
    item = await _locked_item(session, item_id)
    _require(can_manage_base(actor, item.region_code))
    if item.status == "retired":
        raise Conflict("事项已停用，不能修改", code="item_retired")
    f = parse_fields(fields)
    if (
        item.code_scheme == "gbt39046"
        and codes.parse_base_code(item.base_code).item_type != f.item_type
    ):
        raise ValidationFailed("事项类型须与基本编码中的类型一致", code="base_code_type_mismatch")
    doc = dump(f)
    latest = await item_version(session, item.id, item.current_version)
    changed = changed_fields(latest.fields, doc)
    if latest.status == "draft":
        if not changed:
            return latest
        latest.fields, latest.content_hash = doc, content_hash(doc)
        latest.note = note or latest.note
        draft = latest
    else:
        if not changed:
            raise ValidationFailed("内容没有变化，无需保存新版本", code="no_changes")
        item.current_version += 1
        draft = ItemVersion(
            item_id=item.id,
            version=item.current_version,
            status="draft",
            fields=doc,
            content_hash=content_hash(doc),
            note=note,
            created_by=actor.account_id,
        )
        session.add(draft)
    item.name, item.item_type, item.updated_at = f.name, f.item_type, now()
    await session.flush()
    await _log(
        session,
        actor,
        entity="item",
        entity_id=item.id,
        version=draft.version,
        action="edit",
        region_code=item.region_code,
        changed=changed,
        summary=note,
    )
    return draft


async def publish_item(
    session: AsyncSession, actor: Actor, item_id: int, *, log: bool = True
) -> ItemVersion:
    item = await _locked_item(session, item_id)
    _require(can_manage_base(actor, item.region_code))
    draft = await item_version(session, item.id, item.current_version)
    if draft.status != "draft":
        raise Conflict("没有待发布的草稿", code="nothing_to_publish")
    if item.published_version:
        prev = await item_version(session, item.id, item.published_version)
        prev.status = "superseded"
    draft.status, draft.published_at, draft.published_by = "published", now(), actor.account_id
    item.status, item.published_version, item.updated_at = "published", draft.version, now()
    await session.flush()
    if log:
        await _log(
            session,
            actor,
            entity="item",
            entity_id=item.id,
            version=draft.version,
            action="publish",
            region_code=item.region_code,
        )
    return draft


async def retire_item(
    session: AsyncSession, actor: Actor, item_id: int, *, reason: str
) -> CatalogueItem:
    item = await _locked_item(session, item_id)
    _require(can_manage_base(actor, item.region_code))
    if len(reason.strip()) < 2:
        raise ValidationFailed("请填写停用原因", code="reason_required")
    active = (
        await session.execute(
            select(Implementation.id)
            .where(Implementation.item_id == item.id, Implementation.status != "retired")
            .limit(1)
        )
    ).first()
    if active:
        raise Conflict("仍有实施清单引用该事项，请先停用相关实施清单", code="item_in_use")
    item.status, item.updated_at = "retired", now()
    await _log(
        session,
        actor,
        entity="item",
        entity_id=item.id,
        version=item.current_version,
        action="retire",
        region_code=item.region_code,
        summary=reason,
    )
    return item


# --- implementations (实施清单) ----------------------------------------------------


async def _department(session: AsyncSession, department_id: int) -> Department:
    dept = await session.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", code="department_not_found")
    return dept


async def create_implementation(
    session: AsyncSession,
    actor: Actor,
    *,
    item_id: int,
    department_id: int,
    impl_code: str | None = None,
    local: LocalFields | dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    note: str = "",
    log: bool = True,
) -> Implementation:
    """Derive an implementation entry from the base item's published version.

    ``overrides`` changes fields of the copy (a shorter 承诺时限, local
    handling forms …); where it changes an element the standard keeps the
    same, the consistency report shows it.
    """
    item = await session.get(CatalogueItem, item_id)
    if item is None:
        raise NotFound("事项不存在", code="item_not_found")
    if not item.published_version or item.status == "retired":
        raise Conflict("基本目录事项尚未发布，不能据此编制实施清单", code="item_not_published")
    dept = await _department(session, department_id)
    region = await session.get(Region, dept.region_code)
    level = codes.LEVEL_OF_REGION.get(scope.level_of(dept.region_code), "4")
    probe = Implementation(region_code=dept.region_code, department_id=dept.id)
    _require(can_manage_implementation(actor, probe))
    base_version = await item_version(session, item.id, item.published_version)
    doc = dict(base_version.fields)
    if overrides:
        doc.update(overrides)
    f = parse_fields(doc)
    doc = dump(f)
    if impl_code:
        parsed = validate_impl_code(impl_code)
        code, scheme = parsed.value, parsed.scheme
    else:
        if not dept.credit_code:
            raise ValidationFailed(
                "部门缺少统一社会信用代码，无法生成实施编码，请手工填写实施编码",
                code="impl_code_required",
            )
        code, scheme = (
            codes.make_implementation_code(dept.credit_code, level, item.base_code),
            "gbt39046",
        )
    if (
        await session.execute(select(Implementation.id).where(Implementation.impl_code == code))
    ).first():
        raise Conflict(f"实施编码 {code} 已存在", code="impl_code_taken")
    loc = dump(parse_local(local))
    form_doc = (
        forms.check_definition(form)
        if form
        else forms.default_form(for_enterprise=f.for_enterprises and not f.for_persons)
    )
    impl = Implementation(
        item_id=item.id,
        department_id=dept.id,
        region_code=dept.region_code,
        impl_code=code,
        code_scheme=scheme,
        level=level,
        name=f.name,
        item_type=f.item_type,
        status="draft",
        current_version=1,
        for_persons=f.for_persons,
        for_enterprises=f.for_enterprises,
    )
    session.add(impl)
    await session.flush()
    session.add(
        ImplementationVersion(
            implementation_id=impl.id,
            version=1,
            status="draft",
            base_version_id=base_version.id,
            fields=doc,
            local=loc,
            form=form_doc,
            content_hash=content_hash({"fields": doc, "local": loc, "form": form_doc}),
            note=note,
            created_by=actor.account_id,
        )
    )
    await session.flush()
    if log:
        summary = (
            note
            or f"由基本目录 {item.base_code} 第 {base_version.version} 版派生（{region.full_name if region else dept.region_code} {dept.name}）"
        )
        await _log(
            session,
            actor,
            entity="implementation",
            entity_id=impl.id,
            version=1,
            action="create",
            region_code=impl.region_code,
            summary=summary,
        )
    return impl


async def _locked_impl(session: AsyncSession, impl_id: int) -> Implementation:
    impl = (
        await lock_for_update(session, select(Implementation).where(Implementation.id == impl_id))
    ).scalar_one_or_none()
    if impl is None:
        raise NotFound("实施清单不存在", code="implementation_not_found")
    return impl


async def impl_version(session: AsyncSession, impl_id: int, version: int) -> ImplementationVersion:
    row = (
        await session.execute(
            select(ImplementationVersion).where(
                ImplementationVersion.implementation_id == impl_id,
                ImplementationVersion.version == version,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("实施清单版本不存在", code="version_not_found")
    return row


async def save_implementation_draft(
    session: AsyncSession,
    actor: Actor,
    impl_id: int,
    *,
    fields: ItemFields | dict[str, Any] | None = None,
    local: LocalFields | dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    note: str = "",
    rebase: bool = False,
) -> ImplementationVersion:
    """Change the draft (opening one from the published version when needed).

    ``rebase``: take the base item's current published version as the new
    starting point for the same-at-every-level elements (the fix link of the
    consistency report does this).
    """
    impl = await _locked_impl(session, impl_id)
    _require(can_manage_implementation(actor, impl))
    if impl.status == "retired":
        raise Conflict("实施清单已停用，不能修改", code="implementation_retired")
    latest = await impl_version(session, impl.id, impl.current_version)
    doc = dump(parse_fields(fields)) if fields is not None else dict(latest.fields)
    base_version_id = latest.base_version_id
    if rebase:
        item = await session.get(CatalogueItem, impl.item_id)
        assert item is not None
        if not item.published_version:
            raise Conflict("基本目录事项没有已发布版本", code="item_not_published")
        bv = await item_version(session, item.id, item.published_version)
        for key in checks.SAME_FIELDS:
            doc[key] = bv.fields[key]
        doc = dump(parse_fields(doc))
        base_version_id = bv.id
    loc = dump(parse_local(local)) if local is not None else dict(latest.local)
    form_doc = forms.check_definition(form) if form is not None else latest.form
    new = {"fields": doc, "local": loc, "form": form_doc}
    changed = [f"fields.{k}" for k in changed_fields(latest.fields, doc)]
    changed += [f"local.{k}" for k in changed_fields(latest.local, loc)]
    if form_doc != latest.form:
        changed.append("form")
    if base_version_id != latest.base_version_id:
        changed.append("base_version")
    if not changed:
        if latest.status == "draft":
            return latest
        raise ValidationFailed("内容没有变化，无需保存新版本", code="no_changes")
    if latest.status == "draft":
        latest.fields, latest.local, latest.form = doc, loc, form_doc
        latest.base_version_id = base_version_id
        latest.content_hash = content_hash(new)
        latest.note = note or latest.note
        draft = latest
    else:
        impl.current_version += 1
        draft = ImplementationVersion(
            implementation_id=impl.id,
            version=impl.current_version,
            status="draft",
            base_version_id=base_version_id,
            fields=doc,
            local=loc,
            form=form_doc,
            content_hash=content_hash(new),
            note=note,
            created_by=actor.account_id,
        )
        session.add(draft)
    f = parse_fields(doc)
    if impl.status == "draft":
        impl.name, impl.item_type = f.name, f.item_type
    impl.updated_at = now()
    await session.flush()
    action = "form" if changed == ["form"] else "edit"
    await _log(
        session,
        actor,
        entity="implementation",
        entity_id=impl.id,
        version=draft.version,
        action=action,
        region_code=impl.region_code,
        changed=changed,
        summary=note,
    )
    return draft


async def consistency_of(
    session: AsyncSession, version: ImplementationVersion, item: CatalogueItem
) -> list[checks.Finding]:
    """Findings of one implementation version against its base item's published version."""
    if not item.published_version:
        return []
    base = await item_version(session, item.id, item.published_version)
    return checks.consistency_diffs(
        ItemFields.model_validate(base.fields), ItemFields.model_validate(version.fields)
    )


async def publish_implementation(
    session: AsyncSession, actor: Actor, impl_id: int, *, log: bool = True
) -> ImplementationVersion:
    impl = await _locked_impl(session, impl_id)
    _require(can_manage_implementation(actor, impl))
    draft = await impl_version(session, impl.id, impl.current_version)
    if draft.status != "draft":
        raise Conflict("没有待发布的草稿", code="nothing_to_publish")
    item = await session.get(CatalogueItem, impl.item_id)
    assert item is not None
    if item.status == "retired":
        raise Conflict("基本目录事项已停用，不能发布", code="item_retired")
    if get_settings().catalogue_block_inconsistent_publish:
        findings = await consistency_of(session, draft, item)
        if findings:
            raise Conflict(
                "实施清单与基本目录不一致（同标同源），请修正后再发布",
                code="inconsistent_with_base",
                details=[x.as_dict() for x in findings],
            )
    if impl.published_version:
        prev = await impl_version(session, impl.id, impl.published_version)
        prev.status = "superseded"
    draft.status, draft.published_at, draft.published_by = "published", now(), actor.account_id
    f = ItemFields.model_validate(draft.fields)
    impl.status, impl.published_version, impl.published_version_id = (
        "published",
        draft.version,
        draft.id,
    )
    impl.name, impl.item_type = f.name, f.item_type
    impl.for_persons, impl.for_enterprises = f.for_persons, f.for_enterprises
    if not impl.online_override:
        impl.online_status, impl.online_reason = checks.classify_online(f)
    impl.updated_at = now()
    await set_themes(session, impl.id, f.themes)
    await session.flush()
    if log:
        await _log(
            session,
            actor,
            entity="implementation",
            entity_id=impl.id,
            version=draft.version,
            action="publish",
            region_code=impl.region_code,
        )
        await record_event(
            session,
            EVENT_PUBLISHED,
            {"implementation_id": impl.id, "version": draft.version},
            region_code=impl.region_code,
        )
    return draft


async def set_themes(session: AsyncSession, impl_id: int, themes: list[str]) -> None:
    await session.execute(
        delete(ImplementationTheme).where(ImplementationTheme.implementation_id == impl_id)
    )
    if not themes:
        return
    known = set((await session.execute(select(Theme.code).where(Theme.code.in_(themes)))).scalars())
    for code in dict.fromkeys(themes):
        if code in known:
            session.add(ImplementationTheme(implementation_id=impl_id, theme_code=code))


async def set_online_override(
    session: AsyncSession,
    actor: Actor,
    impl_id: int,
    override: OnlineOverride | dict[str, Any] | None,
) -> Implementation:
    """An administrator's 全程网办 classification with a reason; ``None`` returns to the computed one."""
    impl = await _locked_impl(session, impl_id)
    _require(can_manage_implementation(actor, impl) and "platform_admin" in actor.roles)
    if override is None:
        impl.online_override, impl.online_override_by, impl.online_override_at = False, None, None
        if impl.published_version:
            v = await impl_version(session, impl.id, impl.published_version)
            impl.online_status, impl.online_reason = checks.classify_online(
                ItemFields.model_validate(v.fields)
            )
        summary = "恢复按事项要素自动认定"
    else:
        from pydantic import ValidationError

        from tongban.core.errors import field_errors

        try:
            o = (
                override
                if isinstance(override, OnlineOverride)
                else OnlineOverride.model_validate(override)
            )
        except ValidationError as e:
            raise ValidationFailed(
                "请选择认定结果并填写理由",
                code="override_invalid",
                details=field_errors(e.errors()),
            ) from None
        impl.online_override, impl.online_status, impl.online_reason = True, o.status, o.reason
        impl.online_override_by, impl.online_override_at = actor.account_id, now()
        summary = f"人工认定为「{o.status}」：{o.reason}"
    impl.updated_at = now()
    await session.flush()
    await _log(
        session,
        actor,
        entity="implementation",
        entity_id=impl.id,
        version=impl.current_version,
        action="online",
        region_code=impl.region_code,
        summary=summary,
    )
    return impl


async def retire_implementation(
    session: AsyncSession, actor: Actor, impl_id: int, *, reason: str
) -> Implementation:
    impl = await _locked_impl(session, impl_id)
    _require(can_manage_implementation(actor, impl))
    if len(reason.strip()) < 2:
        raise ValidationFailed("请填写停用原因", code="reason_required")
    impl.status, impl.updated_at = "retired", now()
    await session.flush()
    await _log(
        session,
        actor,
        entity="implementation",
        entity_id=impl.id,
        version=impl.current_version,
        action="retire",
        region_code=impl.region_code,
        summary=reason,
    )
    await record_event(
        session,
        EVENT_PUBLISHED,
        {"implementation_id": impl.id, "retired": True},
        region_code=impl.region_code,
    )
    return impl


# --- themes -------------------------------------------------------------------------

DEFAULT_THEMES: tuple[tuple[str, str, str, str], ...] = (
    # code, name, audience, keywords that place an item under it
    ("birth", "出生", "person", "出生 新生儿 生育 出生医学证明 母婴 预防接种 落户"),
    ("school", "上学", "person", "入学 学生 学籍 教育 资助 助学 转学 学历"),
    ("work", "就业", "person", "就业 失业 职业 技能 人才 劳动 社保 社会保险 培训"),
    ("marriage", "婚育", "person", "婚姻 结婚 离婚 生育 计划生育 独生子女"),
    ("housing", "住房", "person", "住房 公积金 不动产 房屋 租赁 保障房"),
    ("driving", "出行", "person", "驾驶 机动车 驾驶证 车辆 交通 出入境 护照"),
    ("medical", "医疗", "person", "医疗 医保 医师 护士 就医 疾病 残疾"),
    ("retire", "退休", "person", "退休 养老 老年 高龄 养老金"),
    ("death", "身后事", "person", "死亡 殡葬 丧葬 抚恤 遗属"),
    ("start_business", "开办企业", "enterprise", "设立 开办 营业执照 登记 刻章 开户"),
    ("permit", "经营许可", "enterprise", "经营许可 生产许可 许可证 食品经营 资质"),
    ("change", "变更", "enterprise", "变更 备案 延续 换证"),
    ("invest", "投资建设", "enterprise", "投资 项目 建设 工程 施工 规划 用地 环评"),
    ("tax", "纳税", "enterprise", "税 纳税 发票 税务"),
    ("cancel", "注销", "enterprise", "注销 歇业 清算"),
)


async def ensure_default_themes(session: AsyncSession) -> int:
    have = set((await session.execute(select(Theme.code))).scalars())
    added = 0
    for i, (code, name, audience, keywords) in enumerate(DEFAULT_THEMES):
        if code not in have:
            session.add(Theme(code=code, name=name, audience=audience, keywords=keywords, sort=i))
            added += 1
    await session.flush()
    return added


def suggest_themes(
    name: str, themes: list[Theme], *, for_persons: bool, for_enterprises: bool
) -> list[str]:
    """Themes whose keywords occur in an item name (used by imports that carry none)."""
    out = []
    for t in themes:
        if (t.audience == "person" and not for_persons) or (
            t.audience == "enterprise" and not for_enterprises
        ):
            continue
        if any(k and k in name for k in t.keywords.split()):
            out.append(t.code)
    return out
