"""The hot verification path (anonymous QR payloads, batched log) answers as the general path does."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from tests.licences import helpers
from tongban.core.settings import Settings
from tongban.licences import config, service, verifylog
from tongban.licences.models import VerificationLog

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings(settings: Settings):
    s = settings.model_copy(update={"licence_verify_log_batch_ms": 50})
    config.configure(s)
    yield s
    config.configure(None)


async def _count(session) -> int:
    return (await session.execute(select(func.count()).select_from(VerificationLog))).scalar()


async def test_hot_path_answers_like_the_general_path_and_logs_in_batches(session, client, app):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    old = await helpers.issue(session, w)
    old_qr = old.qr_payload
    await service.change(
        session, w.approver, old.id, reason="变更", data={**helpers.DATA, "scope": "其他"}
    )
    gone = await helpers.issue(session, w)
    await service.revoke(session, w.approver, gone.id, reason="依法吊销")
    await session.commit()
    hot = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload}).json()
    assert (
        hot["result"] == "valid"
        and hot["signature_checked"]
        and hot["licence"]["holder_name"] == "张*试"
    )
    general = (await service.verify(session, text=lic.qr_payload, channel="api")).to_dict()
    assert {k: v for k, v in hot.items() if k != "checked_at"} == {
        k: v for k, v in general.items() if k != "checked_at"
    }
    assert (
        client.post("/api/v1/licences/verify", json={"payload": old_qr}).json()["result"]
        == "superseded"
    )
    assert (
        client.post("/api/v1/licences/verify", json={"payload": gone.qr_payload}).json()["result"]
        == "revoked"
    )
    forged = lic.qr_payload[:-4] + ("AAAA" if not lic.qr_payload.endswith("AAAA") else "BBBB")
    assert (
        client.post("/api/v1/licences/verify", json={"payload": forged}).json()["result"]
        == "invalid"
    )
    r = client.post("/api/v1/licences/verify", json={"payload": "TB1.x.y"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_licence_payload"
    # identifiers and bearer tokens take the general path; their rows are batched too
    assert (
        client.post("/api/v1/licences/verify", json={"identifier": lic.identifier}).json()["result"]
        == "valid"
    )
    r = client.post(
        "/api/v1/licences/verify",
        json={"payload": lic.qr_payload},
        headers={"Authorization": "Bearer nope"},
    )
    assert r.status_code == 401
    deadline = time.monotonic() + 5
    while await _count(session) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = (
        (await session.execute(select(VerificationLog.result).order_by(VerificationLog.id)))
        .scalars()
        .all()
    )
    assert sorted(rows) == sorted(["valid", "superseded", "revoked", "invalid", "invalid", "valid"])


async def test_recorder_writes_what_is_pending_on_close(sessionmaker_):
    rec = verifylog.Recorder(sessionmaker_, interval=60)
    from tongban.core.clock import now

    for i in range(3):
        rec.add(
            {
                "licence_id": None,
                "identifier": f"x{i}",
                "channel": "api",
                "requester": "anonymous",
                "ip": "",
                "result": "not_found",
                "region_code": "000000000000",
                "at": now(),
            }
        )
    await rec.close()
    async with sessionmaker_() as s:
        assert await _count(s) == 3
    assert rec.written == 3 and not rec.rows
