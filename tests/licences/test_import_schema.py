"""The licence tables as 证照汇聚 writes them (migration ``0005_licence_import``).

A licence and its history rows still name an existing type, department and seal,
and those rows are not deleted while named — on PostgreSQL through set-based
triggers (one check per statement: a COPY of a chunk is one), on SQLite through
its foreign keys: the same refusals on both. The holder indexes are partial; the
queries that use them still find the holder's licences.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from tests.licences import helpers
from tongban.licences import service
from tongban.licences.models import Licence, LicenceHistory, LicenceType, Seal

MISSING = 987_654_321


async def _refused(session, stmt, *constraints: str) -> None:
    """``stmt`` fails as a foreign-key violation (naming one of ``constraints`` on PostgreSQL)."""
    with pytest.raises(IntegrityError) as err:
        async with session.begin_nested():
            await session.execute(stmt)
    text_ = str(err.value).lower()
    if session.bind.dialect.name == "postgresql":
        assert "foreign key" in text_ and any(c in text_ for c in constraints), text_
    else:
        assert "foreign key constraint failed" in text_, text_


def _copy_of(lic: Licence, **over) -> Licence:
    cols = {c.key: getattr(lic, c.key) for c in Licence.__table__.columns if c.key != "id"}
    cols.update(identifier=lic.identifier + "X", serial=lic.serial + "X", number=lic.number + "X")
    cols.update(over)
    return Licence(**cols)


async def test_a_licence_names_an_existing_type_department_and_seal(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    await session.commit()
    for column, fk in (
        ("licence_type_id", "fk_licence_licence_type_id_licence_type"),
        ("issuer_department_id", "fk_licence_issuer_department_id_department"),
        ("seal_id", "fk_licence_seal_id_licence_seal"),
    ):
        # a new row (one INSERT statement: the statement check on PostgreSQL) ...
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                session.add(_copy_of(lic, **{column: MISSING}))
                await session.flush()
        # ... and a changed one
        await _refused(
            session, update(Licence).where(Licence.id == lic.id).values({column: MISSING}), fk
        )
    await _refused(
        session,
        update(LicenceHistory).where(LicenceHistory.licence_id == lic.id).values(seal_id=MISSING),
        "fk_licence_history_seal_id_licence_seal",
    )
    # several rows in one statement, one of them wrong: the whole statement is refused
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add_all(
                [
                    _copy_of(lic),
                    _copy_of(lic, number="N2", identifier="I2", serial="S2", seal_id=MISSING),
                ]
            )
            await session.flush()
    # valid rows still go in, a new version's seal and all
    async with session.begin_nested():
        session.add(_copy_of(lic))
        await session.flush()
    assert (
        await session.execute(select(Licence.id).where(Licence.number == lic.number + "X"))
    ).all()


async def test_a_named_type_or_seal_is_not_deleted(session):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    lt = await service.get_type_by_code(session, w.type_code)
    spare = LicenceType(
        code=helpers.type_code(), name="备用证照", holder_kind="person", field_schema={}
    )
    unused = LicenceType(
        code=helpers.type_code(), name="未用证照", holder_kind="person", field_schema={}
    )
    session.add_all([spare, unused])
    await session.flush()
    await session.execute(
        update(Licence).where(Licence.id == lic.id).values(licence_type_id=spare.id)
    )
    await session.commit()
    # the type only this licence names (nothing else refers to it)
    await _refused(
        session,
        delete(LicenceType).where(LicenceType.id == spare.id),
        "fk_licence_licence_type_id_licence_type",
    )
    # the seal that signed it (named by the licence and its history)
    await _refused(
        session,
        delete(Seal).where(Seal.id == lic.seal_id),
        "fk_licence_seal_id_licence_seal",
        "fk_licence_history_seal_id_licence_seal",
    )
    # an id change of a named row is a delete of the old id
    if session.bind.dialect.name == "postgresql":
        await _refused(
            session,
            update(LicenceType).where(LicenceType.id == spare.id).values(id=MISSING),
            "fk_licence_licence_type_id_licence_type",
        )
    # rows nobody names go as before
    async with session.begin_nested():
        await session.execute(delete(LicenceType).where(LicenceType.id == unused.id))
    assert await session.get(LicenceType, lt.id) is not None


async def test_the_holder_indexes_skip_licences_without_that_holder(session):
    w = await helpers.world(session)
    mine = await helpers.issue(session, w)
    await session.commit()
    found = (
        (await session.execute(select(Licence.id).where(Licence.holder_person_id == w.person.id)))
        .scalars()
        .all()
    )
    assert found == [mine.id]
    if session.bind.dialect.name == "postgresql":
        defs = dict(
            (
                await session.execute(
                    text(
                        "SELECT indexname, indexdef FROM pg_indexes "
                        "WHERE tablename IN ('licence', 'licence_history')"
                    )
                )
            ).all()
        )
        assert "WHERE (holder_person_id IS NOT NULL)" in defs["ix_licence_holder_person"]
        assert "WHERE (holder_enterprise_id IS NOT NULL)" in defs["ix_licence_holder_enterprise"]
        assert "ix_licence_region_code" not in defs and "ix_licence_history_region_code" not in defs
