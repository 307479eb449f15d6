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


async def test_a_licence_revoked_after_it_was_verified_shows_revoked_at_once(session, client):
    """The hot path caches seal keys, never a licence's status: the next check reads it."""
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    await session.commit()
    for _ in range(3):
        r = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload}).json()
        assert r["result"] == "valid" and r["licence"]["status"] == "valid"
    await service.revoke(session, w.approver, lic.id, reason="依法吊销")
    await session.commit()
    r = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload}).json()
    assert r["result"] == "revoked" and r["signature_checked"]
    assert r["licence"]["status"] == "revoked" and r["licence"]["status_changed_on"]


async def test_a_tampered_payload_fails_on_the_hot_path(session, client):
    """Claims changed under the original signature, or a signature from another
    seal's key, or an unknown key id: invalid, never valid."""
    import orjson

    from tongban.licences import crypto, payload

    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    other = await helpers.world(session)  # another department, another seal
    stranger = await helpers.issue(session, other)
    await session.commit()
    _, body, sig = lic.qr_payload.split(".")
    claims = orjson.loads(crypto.b64u_decode(body))

    def post(text: str) -> dict:
        return client.post("/api/v1/licences/verify", json={"payload": text}).json()

    for change in ({"vu": "2099-12-31"}, {"h": "李*四"}, {"id": stranger.identifier}):
        forged = crypto.canonical({**claims, **change})
        got = post(f"{payload.PREFIX}.{crypto.b64u(forged)}.{sig}")
        assert got["result"] == "invalid" and not got["signature_checked"], change
    # the other seal's signature over this licence's claims, naming the other key
    _, _, stranger_sig = stranger.qr_payload.split(".")
    got = post(f"{payload.PREFIX}.{body}.{stranger_sig}")
    assert got["result"] == "invalid"
    # a key id nobody published
    unknown = crypto.canonical({**claims, "k": "ed25519-0000000000000000"})
    got = post(f"{payload.PREFIX}.{crypto.b64u(unknown)}.{sig}")
    assert got["result"] == "invalid" and got["licence"] is None
    # the untouched payload still verifies (nothing above poisoned a cache)
    assert post(lic.qr_payload)["result"] == "valid"


async def test_the_hot_path_reads_bodies_as_the_model_does(session, client):
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    await session.commit()
    url = "/api/v1/licences/verify"
    padded = client.post(url, json={"payload": f"  {lic.qr_payload}\n"}).json()
    assert padded["result"] == "valid"
    link = client.post(url, json={"payload": f"https://example.gov.cn/verify?p={lic.qr_payload}"})
    assert link.json()["result"] == "valid"
    extra = client.post(url, json={"payload": lic.qr_payload, "x": 1})
    assert extra.status_code == 422 and extra.json()["code"] == "validation_failed"
    empty = client.post(url, json={"payload": "   "})
    assert empty.status_code == 422 and empty.json()["code"] == "verify_input_required"
    too_long = client.post(url, json={"payload": "TB1." + "A" * 2100})
    assert too_long.status_code == 422
    not_json = client.post(url, content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["code"] == "validation_failed"
    wrong_type = client.post(url, json={"payload": 5})
    assert wrong_type.status_code == 422


async def test_the_recorder_writes_each_column(sessionmaker_, session):
    """Rows go through the driver (COPY / executemany): every column lands as given."""
    import datetime as dt

    rec = verifylog.Recorder(sessionmaker_, interval=60)
    at = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)
    rec.add(
        (None, "1.2.156.3005.2.x", "page", "account:7", "10.0.0.1", "not_found", "370102000000", at)
    )
    rec.add(
        {
            "licence_id": None,
            "identifier": "",
            "channel": "api",
            "requester": "anonymous",
            "ip": "::1",
            "result": "invalid",
            "region_code": "000000000000",
            "at": at + dt.timedelta(seconds=1),
        }
    )
    assert await rec.flush() == 2
    rows = (
        (await session.execute(select(VerificationLog).order_by(VerificationLog.id)))
        .scalars()
        .all()
    )
    got = [
        (r.licence_id, r.identifier, r.channel, r.requester, r.ip, r.result, r.region_code, r.at)
        for r in rows
    ]
    assert got == [
        (
            None,
            "1.2.156.3005.2.x",
            "page",
            "account:7",
            "10.0.0.1",
            "not_found",
            "370102000000",
            at,
        ),
        (
            None,
            "",
            "api",
            "anonymous",
            "::1",
            "invalid",
            "000000000000",
            at + dt.timedelta(seconds=1),
        ),
    ]


async def test_the_recorder_writes_every_column_of_the_table():
    """The driver path names its columns: one the model adds must be written too."""
    assert set(verifylog.COLUMNS) == {c.name for c in VerificationLog.__table__.columns} - {"id"}
