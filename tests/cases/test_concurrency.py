"""Concurrent work on one case: exactly one transition wins; one key makes one case."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.cases.test_lifecycle import form_for
from tests.catalogue.helpers import admin, published_impl, published_item
from tongban.cases import service
from tongban.cases.models import Case, CaseTrail
from tongban.core.errors import AppError
from tongban.identity.service import actor_for_account

pytestmark = pytest.mark.asyncio


async def _prepare(sessionmaker_):
    async with sessionmaker_() as s:
        a = await admin(s)
        item = await published_item(s, a, name="公共场所卫生许可", service_objects=["1"])
        impl = await published_impl(s, a, item)
        from tongban.regions.models import Department

        dept = await s.get(Department, impl.department_id)
        person, acc = await builders.citizen(s)
        clerks = [await builders.staff(s, roles=["clerk"], dept=dept) for _ in range(4)]
        applicant = await actor_for_account(s, acc, via="session")
        clerk_actors = [await actor_for_account(s, c, via="session") for c in clerks]
        form = form_for(person)
        await s.commit()
        return impl.id, applicant, clerk_actors, form


async def _attempt(sessionmaker_, fn):
    async with sessionmaker_() as s:
        try:
            result = await fn(s)
            await s.commit()
            return result
        except AppError as e:
            await s.rollback()
            return e


async def test_parallel_accepts_one_wins(sessionmaker_):
    impl_id, applicant, clerks, form = await _prepare(sessionmaker_)

    async def submit(s):
        return (
            await service.submit(
                s,
                applicant,
                implementation_id=impl_id,
                form_data=form,
                idempotency_key="race-case-1",
            )
        )[0].id

    case_id = await _attempt(sessionmaker_, submit)
    results = await asyncio.gather(
        *[
            _attempt(sessionmaker_, lambda s, c=c: service.transition(s, c, case_id, "accept"))
            for c in clerks
        ]
    )
    wins = [r for r in results if not isinstance(r, AppError)]
    losses = [r for r in results if isinstance(r, AppError)]
    assert len(wins) == 1 and len(losses) == 3 and {e.code for e in losses} == {"invalid_state"}
    async with sessionmaker_() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(CaseTrail)
                .where(CaseTrail.case_id == case_id, CaseTrail.action == "accept")
            )
        ).scalar_one()
        assert n == 1


async def test_parallel_submissions_with_one_key_make_one_case(sessionmaker_):
    impl_id, applicant, _clerks, form = await _prepare(sessionmaker_)

    async def submit(s):
        return (
            await service.submit(
                s,
                applicant,
                implementation_id=impl_id,
                form_data=form,
                idempotency_key="race-key-77",
            )
        )[0].id

    ids = await asyncio.gather(*[_attempt(sessionmaker_, submit) for _ in range(5)])
    assert len(set(ids)) == 1 and not isinstance(ids[0], AppError)
    async with sessionmaker_() as s:
        assert (await s.execute(select(func.count()).select_from(Case))).scalar_one() == 1
