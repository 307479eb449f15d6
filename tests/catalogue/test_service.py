"""Catalogue service: create, version, publish, derive, immutability, access."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import builders
from tests.catalogue.helpers import admin, base_code, fields, published_impl, published_item
from tongban.catalogue import service
from tongban.catalogue.models import (
    CatalogueChange,
    ImplementationTheme,
    ImplementationVersion,
    ItemVersion,
)
from tongban.core.errors import Conflict, PermissionDenied, ValidationFailed
from tongban.identity.service import actor_for_account

pytestmark = pytest.mark.asyncio


async def test_item_versions_publish_and_supersede(session):
    a = await admin(session)
    await service.ensure_default_themes(session)
    item = await service.create_item(session, a, base_code=base_code(), fields=fields())
    assert item.status == "draft" and item.current_version == 1
    v1 = await service.publish_item(session, a, item.id)
    assert v1.status == "published" and item.published_version == 1
    with pytest.raises(Conflict) as e:
        await service.publish_item(session, a, item.id)
    assert e.value.code == "nothing_to_publish"
    v2 = await service.save_item_draft(
        session,
        a,
        item.id,
        fields(promised_limit={"value": 5, "unit": "working_day"}),
        note="压缩承诺时限",
    )
    assert v2.version == 2 and v2.status == "draft"
    assert v1.fields["promised_limit"]["value"] == 10  # the published version is untouched
    await service.publish_item(session, a, item.id)
    rows = (
        await session.execute(
            select(ItemVersion.version, ItemVersion.status)
            .where(ItemVersion.item_id == item.id)
            .order_by(ItemVersion.version)
        )
    ).all()
    assert rows == [(1, "superseded"), (2, "published")]
    log = (
        await session.execute(
            select(CatalogueChange.action, CatalogueChange.changed)
            .where(CatalogueChange.entity_id == item.id, CatalogueChange.entity == "item")
            .order_by(CatalogueChange.id)
        )
    ).all()
    assert [r[0] for r in log] == ["create", "publish", "edit", "publish"]
    assert log[2][1] == ["promised_limit"]


async def test_base_code_structure_is_checked(session):
    a = await admin(session)
    for bad, code in (
        ("3701000010", "base_code_length"),
        ("37AB00001000", "base_code_format"),
        ("373300001000", "base_code_type"),
    ):
        with pytest.raises(ValidationFailed) as e:
            await service.create_item(session, a, base_code=bad, fields=fields())
        assert e.value.code == code
    with pytest.raises(ValidationFailed) as e:
        await service.create_item(
            session, a, base_code=base_code("20"), fields=fields(item_type="01")
        )
    assert e.value.code == "base_code_type_mismatch"


async def test_bad_fields_give_chinese_field_errors(session):
    a = await admin(session)
    with pytest.raises(ValidationFailed) as e:
        await service.create_item(
            session, a, base_code=base_code(), fields=fields(visits=-1, service_objects=["8"])
        )
    fields_named = {d["field"] for d in e.value.details}
    assert {"visits", "service_objects"} <= fields_named
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in d["message"]) for d in e.value.details)


async def test_implementation_derives_from_published_base(session):
    a = await admin(session)
    await service.ensure_default_themes(session)
    item = await published_item(session, a)
    impl = await published_impl(
        session, a, item, overrides={"promised_limit": {"value": 3, "unit": "working_day"}}
    )
    assert impl.status == "published" and impl.level == "4"  # a county
    assert len(impl.impl_code) == 31 and impl.impl_code.endswith(item.base_code)
    assert impl.online_status == "done"
    themes = (
        (
            await session.execute(
                select(ImplementationTheme.theme_code).where(
                    ImplementationTheme.implementation_id == impl.id
                )
            )
        )
        .scalars()
        .all()
    )
    assert themes == ["permit"]
    v = await service.impl_version(session, impl.id, 1)
    assert v.fields["promised_limit"]["value"] == 3 and v.form["schema"]["properties"]
    assert await service.consistency_of(session, v, item) == []


async def test_published_implementation_version_is_immutable_and_edits_open_a_draft(session):
    a = await admin(session)
    item = await published_item(session, a)
    impl = await published_impl(session, a, item)
    v1 = await service.impl_version(session, impl.id, 1)
    draft = await service.save_implementation_draft(
        session, a, impl.id, local={"address": "新地址", "hours": "9-17"}
    )
    assert draft.version == 2 and v1.status == "published" and v1.local["address"] != "新地址"
    assert impl.published_version_id == v1.id  # new cases still file under v1 until v2 is published
    await service.publish_implementation(session, a, impl.id)
    assert impl.published_version_id == draft.id
    statuses = (
        (
            await session.execute(
                select(ImplementationVersion.status)
                .where(ImplementationVersion.implementation_id == impl.id)
                .order_by(ImplementationVersion.version)
            )
        )
        .scalars()
        .all()
    )
    assert statuses == ["superseded", "published"]


async def test_block_inconsistent_publish_when_configured(session, settings, monkeypatch):
    from tongban.core.settings import get_settings

    a = await admin(session)
    item = await published_item(session, a)
    dept = await builders.department(session)
    impl = await service.create_implementation(
        session,
        a,
        item_id=item.id,
        department_id=dept.id,
        overrides={"name": "食品经营许可（县级）"},
    )
    monkeypatch.setattr(get_settings(), "catalogue_block_inconsistent_publish", True)
    with pytest.raises(Conflict) as e:
        await service.publish_implementation(session, a, impl.id)
    assert e.value.code == "inconsistent_with_base" and e.value.details[0]["code"] == "name_differs"
    await service.save_implementation_draft(session, a, impl.id, rebase=True)  # the fix link
    await service.publish_implementation(session, a, impl.id)


async def test_access_rules(session):
    a = await admin(session)
    item = await published_item(session, a)
    impl = await published_impl(session, a, item)
    other_admin = await admin(session, region=builders.QINGDAO_SHINAN)
    with pytest.raises(PermissionDenied):
        await service.save_implementation_draft(
            session, other_admin, impl.id, local={"address": "x"}
        )
    dept_admin_acc = await builders.staff(
        session, roles=["dept_admin"], dept=await builders.department(session)
    )
    dept_admin = await actor_for_account(session, dept_admin_acc, via="session")
    with pytest.raises(PermissionDenied):
        await service.save_implementation_draft(
            session, dept_admin, impl.id, local={"address": "x"}
        )
    clerk_acc = await builders.staff(
        session, roles=["clerk"], dept=await builders.department(session)
    )
    clerk = await actor_for_account(session, clerk_acc, via="session")
    with pytest.raises(PermissionDenied):
        await service.create_item(session, clerk, base_code=base_code(), fields=fields())


async def test_online_override_and_reset(session):
    a = await admin(session)
    item = await published_item(session, a, visits=1, online_depth=3, visit_reason="")
    impl = await published_impl(session, a, item)
    assert impl.online_status == "can"
    await service.set_online_override(
        session, a, impl.id, {"status": "cannot", "reason": "需现场核验原件"}
    )
    assert impl.online_status == "cannot" and impl.online_override
    with pytest.raises(ValidationFailed):
        await service.set_online_override(session, a, impl.id, {"status": "done", "reason": ""})
    await service.set_online_override(session, a, impl.id, None)
    assert impl.online_status == "can" and not impl.online_override


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE implementation_version SET fields = '{}' WHERE id = :id",
        "UPDATE implementation_version SET form = NULL WHERE id = :id",
        "DELETE FROM implementation_version WHERE id = :id",
    ],
)
async def test_database_refuses_to_rewrite_a_published_version(session, sql):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    a = await admin(session)
    item = await published_item(session, a)
    impl = await published_impl(session, a, item)
    impl_id, version_id = impl.id, impl.published_version_id
    await session.commit()
    with pytest.raises(DBAPIError, match="immutable"):
        await session.execute(text(sql), {"id": version_id})
    await session.rollback()
    # a draft may still be edited, and a status change to superseded is allowed
    draft = await service.save_implementation_draft(
        session, a, impl_id, local={"address": "新地址", "hours": "9-17"}
    )
    await session.execute(
        text("UPDATE implementation_version SET local = '{}' WHERE id = :id"), {"id": draft.id}
    )
    await service.publish_implementation(session, a, impl_id)
    await session.commit()
