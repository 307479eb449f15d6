"""Audit log: hash chain per region, tamper detection."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text

from tongban.core import audit
from tongban.core.audit import AuditEntry


async def _fill(s, n: int = 5, region: str = "370102000000", lane: int = 0) -> None:
    for i in range(n):
        await audit.record(
            s,
            actor="account:1",
            action="test.action",
            target_type="thing",
            target_id=i,
            region_code=region,
            details={"i": i},
            lane=lane,
        )
    await s.commit()


async def _tamper(s, sql: str, params: dict) -> None:
    """Edit rows as an owner with direct database access would (bypassing the triggers)."""
    if s.bind.dialect.name == "postgresql":
        await s.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update"))
        await s.execute(text(sql), params)
        await s.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_update"))
    else:
        await s.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_update"))
        await s.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_delete"))
        await s.execute(text(sql), params)
    await s.commit()


async def test_chain_links_and_verifies(session) -> None:
    await _fill(session, 5)
    await _fill(session, 3, region="370103000000")
    rows = (
        (
            await session.execute(
                select(AuditEntry)
                .where(AuditEntry.region_code == "370102000000")
                .order_by(AuditEntry.seq)
            )
        )
        .scalars()
        .all()
    )
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    report = await audit.verify(session)
    assert report.ok, report.problems
    assert (report.chains, report.entries) == (2, 8)


async def test_update_and_delete_refused_by_database(session) -> None:
    await _fill(session, 2)
    with pytest.raises(Exception, match="append-only"):
        await session.execute(text("UPDATE audit_entry SET action='x' WHERE seq=1"))
    await session.rollback()
    with pytest.raises(Exception, match="append-only"):
        await session.execute(text("DELETE FROM audit_entry WHERE seq=1"))
    await session.rollback()


async def test_verify_reports_edited_and_deleted_entries(session) -> None:
    await _fill(session, 6)
    await _tamper(
        session,
        "UPDATE audit_entry SET details=:d WHERE seq=2 AND region_code='370102000000'",
        {"d": '{"i": 99}'},
    )
    await _tamper(session, "DELETE FROM audit_entry WHERE seq=4 AND region_code='370102000000'", {})
    report = await audit.verify(session)
    kinds = {(p.kind, p.seq) for p in report.problems}
    assert ("edited", 2) in kinds
    assert ("deleted", 4) in kinds
    assert not report.ok
    assert any("第 2 条" in p.message for p in report.problems)
    assert any("第 4 条" in p.message for p in report.problems)


async def test_verify_reports_truncated_tail(session) -> None:
    await _fill(session, 4)
    await _tamper(session, "DELETE FROM audit_entry WHERE seq=4", {})
    report = await audit.verify(session)
    assert [(p.kind, p.seq) for p in report.problems] == [("deleted", 4)]


async def test_verify_reports_replaced_entry(session) -> None:
    """An entry rewritten with a self-consistent hash still breaks the link to the next."""
    await _fill(session, 3)
    row = (await session.execute(select(AuditEntry).where(AuditEntry.seq == 2))).scalar_one()
    forged = audit.entry_hash(
        region_code=row.region_code,
        seq=2,
        prev_hash=row.prev_hash,
        actor="account:666",
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        at=row.at,
        details=row.details,
    )
    await _tamper(
        session, "UPDATE audit_entry SET actor='account:666', hash=:h WHERE seq=2", {"h": forged}
    )
    report = await audit.verify(session)
    assert ("inserted", 3) in {(p.kind, p.seq) for p in report.problems}


async def test_latest_audit_reads_the_tails_of_the_chains(session) -> None:
    """The newest entries of a subtree, read from each chain's last entries, are
    those the whole log sorted by time gives (``web.read_models.latest_audit``)."""
    from types import SimpleNamespace

    from tongban.core import scope
    from tongban.web.read_models import latest_audit

    regions = ("370102000000", "370103000000", "370102001000", "370211000000")
    for i in range(60):  # interleaved, uneven: regions of 30, 15, 10, 5, in lanes 0 and 1
        region = regions[0 if i % 2 == 0 else 1 if i % 4 == 1 else 2 if i % 12 != 11 else 3]
        await audit.record(
            session,
            actor="account:1",
            action="test.action",
            target_type="thing",
            target_id=i,
            lane=(i // 7) % 2,
            region_code=region,
        )
    await session.commit()
    for code in ("370000000000", "370100000000", "370102000000", "370211000000", "110000000000"):
        for limit in (1, 3, 8, 50):
            want = (
                (
                    await session.execute(
                        select(AuditEntry)
                        .where(scope.in_subtree(AuditEntry.region_code, code))
                        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            got = await latest_audit(session, SimpleNamespace(region_code=code), limit=limit)
            assert [e.id for e in got] == [e.id for e in want], (code, limit)


async def test_lanes_are_chains_of_their_own(session) -> None:
    """A region's lanes (分道) chain apart: each numbers from 1 with its own
    head, the verifier walks each and names it ``region/lane``; lane 0 hashes
    as entries did before lanes existed (no lane in the canonical form)."""
    await _fill(session, 2)
    await _fill(session, 3, lane=3)
    rows = (
        await session.execute(select(AuditEntry).order_by(AuditEntry.lane, AuditEntry.seq))
    ).scalars()
    got = [(r.lane, r.seq) for r in rows]
    assert got == [(0, 1), (0, 2), (3, 1), (3, 2), (3, 3)]
    report = await audit.verify(session)
    assert report.ok, report.problems
    assert (report.chains, report.entries) == (2, 5)
    heads = (
        await session.execute(
            select(audit.AuditChainHead.lane, audit.AuditChainHead.seq).order_by(
                audit.AuditChainHead.lane
            )
        )
    ).all()
    assert [tuple(h) for h in heads] == [(0, 2), (3, 3)]
    # lane 0's canonical form is the one before lanes: the region code alone
    first = (
        await session.execute(select(AuditEntry).where(AuditEntry.lane == 0, AuditEntry.seq == 1))
    ).scalar_one()
    fields = {
        k: getattr(first, k)
        for k in ("seq", "prev_hash", "actor", "action", "target_type", "target_id", "at")
    }
    fields["details"] = first.details
    assert first.hash == audit.entry_hash(region_code="370102000000", **fields)
    assert first.hash != audit.entry_hash(region_code="370102000000", lane=1, **fields)
    assert audit.chain_name("370102000000", 3) == "370102000000/3"
    # an entry moved to another lane no longer hashes: the lane is covered
    await _tamper(session, "UPDATE audit_entry SET lane = 5 WHERE lane = 3 AND seq = 3", {})
    report = await audit.verify(session)
    problems = {(p.chain, p.seq, p.kind) for p in report.problems}
    assert ("370102000000/5", 3, "edited") in problems
    assert ("370102000000/3", 3, "deleted") in problems
    assert any("链 370102000000/3" in p.message for p in report.problems)


async def test_verify_reports_tampering_in_a_lane(session) -> None:
    await _fill(session, 4, lane=2)
    await _tamper(
        session, "UPDATE audit_entry SET actor = 'account:666' WHERE lane = 2 AND seq = 2", {}
    )
    await _tamper(session, "DELETE FROM audit_entry WHERE lane = 2 AND seq = 4", {})
    report = await audit.verify(session)
    assert {(p.chain, p.kind, p.seq) for p in report.problems} == {
        ("370102000000/2", "edited", 2),
        ("370102000000/2", "deleted", 4),
    }
