"""The demo province gets a licence type for every licence its catalogue names."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tongban.catalogue.demo_catalogue import LICENCES
from tongban.licences.demo import load_demo_licence_types
from tongban.licences.models import LicenceType

pytestmark = pytest.mark.asyncio


async def test_demo_licence_types_are_registered_once(session):
    assert await load_demo_licence_types(session) == len(LICENCES)
    assert await load_demo_licence_types(session) == 0
    count = (await session.execute(select(func.count()).select_from(LicenceType))).scalar()
    assert count == len(LICENCES)
    biz = (
        await session.execute(select(LicenceType).where(LicenceType.code == LICENCES["营业执照"]))
    ).scalar_one()
    assert biz.holder_kind == "enterprise" and biz.validity_years is None
