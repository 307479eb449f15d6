"""Concurrent edits of the catalogue: drafts saved at once, and an
administrator's lock on an implementation while applications are filed under it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.cases.test_lifecycle import form_for
from tests.catalogue.helpers import admin, published_impl, published_item
from tongban.cases import service as cases_service
from tongban.catalogue.models import Implementation, ImplementationVersion
from tongban.core.db import lock_for_update
from tongban.identity.service import actor_for_account


async def _world(sessionmaker_):
    async with sessionmaker_() as s:
        a = await admin(s)
        item = await published_item(s, a, name="公共场所卫生许可", service_objects=["1"])
        impl = await published_impl(s, a, item)
        person, acc = await builders.citizen(s)
        applicant = await actor_for_account(s, acc, via="session")
        await s.commit()
        return a, impl.id, impl.current_version, applicant, form_for(person)


async def test_an_edit_lock_does_not_hold_up_applications(sessionmaker_, database_kind) -> None:
    """While an administrator's transaction holds an implementation for
    update, an application under it is filed (its foreign-key check takes a
    KEY SHARE lock: ``FOR UPDATE`` made it wait, and with the audit chain head
    the two could deadlock)."""
    if database_kind != "postgresql":
        pytest.skip("SQLite serialises writers on the database lock")
    _a, impl_id, _v, applicant, form = await _world(sessionmaker_)
    async with sessionmaker_() as editor:
        await lock_for_update(editor, select(Implementation).where(Implementation.id == impl_id))

        async def file() -> int:
            async with sessionmaker_() as s:
                case, _ = await cases_service.submit(
                    s, applicant, implementation_id=impl_id, form_data=form,
                    idempotency_key="lock-free-0001",
                )  # fmt: skip
                await s.commit()
                return case.id

        case_id = await asyncio.wait_for(file(), timeout=10)
        assert case_id
        await editor.commit()


async def test_drafts_saved_at_once_over_http(settings, sessionmaker_) -> None:
    """Four PUTs of a draft at once, on an implementation whose latest version
    is published. Each loads it first (the access check), then locks it: the
    lock must read the row again, or the later saves, holding the stale
    ``current_version``, each insert version n + 1 (a unique violation: 500)."""
    _a, impl_id, published, _applicant, _form = await _world(sessionmaker_)
    async with sessionmaker_() as s:
        await builders.staff(s, roles=["platform_admin"], region=builders.SHANDONG, username="ed1")
        await s.commit()
    async with builders.asgi_client(settings, "ed1") as c:
        answers = await asyncio.gather(
            *[
                c.put(
                    f"/api/v1/catalogue/implementations/{impl_id}",
                    json={"local": {"window": f"窗口{k}"}},
                )
                for k in range(4)
            ]
        )
    assert [r.status_code for r in answers] == [200] * 4, [r.text[:200] for r in answers]
    async with sessionmaker_() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(ImplementationVersion)
            .where(ImplementationVersion.implementation_id == impl_id)
        )
        assert n == published + 1
