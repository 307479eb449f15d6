"""证照汇聚: historical licences from CSV/xlsx — every row checked before anything is
written (errors by row number), sealed like issued licences (they verify online
and offline), resumable, re-runs skip what is there; the command line; the fast
signing path gives the core's bytes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import unicodedata

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.licences import helpers
from tongban.core.identifiers import make_credit_code, make_resident_id
from tongban.licences import bulk, crypto, service
from tongban.licences.models import Licence, LicenceHistory
from tongban.licences.schemas import LicenceTypeCreate
from tongban.licences.wallet_models import LicenceImport

HEADER = [
    "证照编号",
    "持证主体",
    "持证主体代码",
    "颁证日期",
    "有效期截止",
    "经营者名称",
    "经营场所",
    "经营项目",
]


def _person_code(n: int) -> str:
    return make_resident_id(
        "370102",
        birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=(n % 500) * 37),
        sequence=n % 900 + 10,
    )


def rows(n: int, *, start: int = 0) -> list[list[str]]:
    out = []
    for i in range(start, start + n):
        out.append(
            [
                f"JY{i:012d}",
                f"汇聚户{i}",
                _person_code(i),
                f"2019-{i % 12 + 1:02d}-{i % 27 + 1:02d}",
                "长期" if i % 10 == 0 else "",
                f"历史小店{i}",
                f"济南市历下区某路 {i} 号",
                "热食类食品制售",
            ]
        )
    return out


def csv_bytes(body: list[list[str]], header: list[str] = HEADER) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(body)
    return buf.getvalue().encode("utf-8-sig")


async def _head(session, w):
    from tongban.identity.models import Account

    return (await session.get(Account, w.head.account_id)).username


def login(client, username: str) -> None:
    """Sign in; a cookie session sends a file body with its CSRF token (as a page script would)."""
    token = builders.login(client, username)["csrf_token"]
    client.headers["X-CSRF-Token"] = token


async def test_a_csv_imports_sealed_licences_that_verify_and_a_rerun_skips_them(session, client):
    w = await helpers.world(session)
    known = await builders.person(session, name="已注册人")
    body = rows(30)
    body[3][2] = known.id_number  # a holder who already has a record is linked at once
    await session.commit()
    login(client, await _head(session, w))
    params = {"type_code": w.type_code, "department_id": w.dept.id, "file_name": "2019年存量.csv"}
    r = client.post(
        "/api/v1/licence-imports",
        params=params,
        content=csv_bytes(body),
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text
    rep = r.json()
    assert (
        rep["total"] == 30
        and rep["imported"] == 30
        and rep["skipped"] == 0
        and rep["error_count"] == 0
    )
    lics = (await session.execute(select(Licence).order_by(Licence.id))).scalars().all()
    assert len(lics) == 30 and {x.source for x in lics} == {"import"}
    first = lics[0]
    assert first.number == "JY000000000000" and first.valid_until is None  # 长期
    assert lics[1].valid_until == service.validity_end(
        await service.get_type_by_code(session, w.type_code), lics[1].valid_from
    )
    assert first.data == {
        "business_name": "历史小店0",
        "address": "济南市历下区某路 0 号",
        "scope": "热食类食品制售",
    }
    assert lics[3].holder_person_id == known.id and lics[4].holder_person_id is None
    job_id = r.json()["job_id"]
    assert first.serial == f"H{job_id:06d}R0000002"  # 流水号: the batch and the row
    assert first.identifier.startswith(
        f"1.2.156.3005.2.{w.type_code}.{w.dept.credit_code}.H{job_id:06d}R0000002.001."
    )
    from tongban.licences import identifier

    for lic in lics:  # the check character as the core computes it
        assert str(identifier.parse(lic.identifier)) == lic.identifier
    for lic in (first, lics[17]):
        assert (await service.check_record(session, lic)).ok
        v = client.post("/api/v1/licences/verify", json={"payload": lic.qr_payload}).json()
        assert v["result"] in ("valid", "expired") and v["signature_checked"], v
    hist = (
        (await session.execute(select(LicenceHistory).where(LicenceHistory.licence_id == first.id)))
        .scalars()
        .all()
    )
    assert (
        [h.action for h in hist] == ["import"]
        and hist[0].signature == first.signature
        and "第 2 行" in hist[0].reason
    )
    job = await session.get(LicenceImport, rep["job_id"])
    assert job.status == "done" and job.imported == 30
    assert client.get(f"/api/v1/licence-imports/{job.id}").json()["imported"] == 30
    # the same file again (and a file overlapping it): nothing twice
    r = client.post(
        "/api/v1/licence-imports",
        params=params,
        content=csv_bytes(body),
        headers={"content-type": "text/csv"},
    )
    assert r.json()["imported"] == 0 and r.json()["skipped"] == 30
    r = client.post("/api/v1/licence-imports", params=params, content=csv_bytes(rows(10, start=25)))
    assert r.json()["imported"] == 5 and r.json()["skipped"] == 5
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 35


async def test_every_row_is_checked_before_anything_is_written(session, client):
    w = await helpers.world(session)
    await session.commit()
    login(client, await _head(session, w))
    body = rows(8)
    body[0][2] = body[0][2][:-1] + ("0" if body[0][2][-1] != "0" else "1")  # check character
    body[1][3] = "2019-13-45"
    body[2][0] = ""
    body[3][0] = body[4][0]  # the same number twice
    body[5][4] = "2010-01-01"  # ends before it starts
    body[6][5] = ""  # a required field of the type
    body[7][6] = "长" * 201  # the type's maxLength
    r = client.post(
        "/api/v1/licence-imports",
        params={"type_code": w.type_code, "department_id": w.dept.id},
        content=csv_bytes(body + rows(2, start=100)),
    )
    assert r.status_code == 422 and r.json()["code"] == "licence_import_invalid"
    errors = {(e["row"], e["column"]) for e in r.json()["details"]["errors"]}
    assert errors == {
        (2, "持证主体代码"),
        (3, "颁证日期"),
        (4, "证照编号"),
        (6, "证照编号"),
        (7, "有效期截止"),
        (8, "经营者名称"),
        (9, "经营场所"),
    }
    assert (
        r.json()["details"]["error_count"] == 7
        and "校验位" in r.json()["details"]["errors"][0]["message"]
    )
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 0
    # missing columns are reported on row 1; unknown ones are warnings
    r = client.post(
        "/api/v1/licence-imports",
        params={"type_code": w.type_code, "department_id": w.dept.id},
        content=csv_bytes([["JY1", "张三"]], header=["证照编号", "持证主体"]),
    )
    assert r.status_code == 422 and {e["column"] for e in r.json()["details"]["errors"]} >= {
        "持证主体代码",
        "颁证日期",
        "经营者名称",
    }
    r = client.post(
        "/api/v1/licence-imports",
        params={"type_code": w.type_code, "department_id": w.dept.id, "dry_run": True},
        content=csv_bytes([[*x, "备注"] for x in rows(3)], header=[*HEADER, "备注栏"]),
    )
    assert (
        r.status_code == 201
        and r.json()["dry_run"]
        and r.json()["imported"] == 0
        and "备注栏" in r.json()["warnings"][0]
    )
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 0


async def test_who_may_import(session, client):
    w = await helpers.world(session)
    other = await builders.department(session)
    stranger = await builders.staff(session, roles=["dept_admin"], dept=other)
    await session.commit()
    params = {"type_code": w.type_code, "department_id": w.dept.id}
    login(client, w.citizen_acc.username)
    assert (
        client.post(
            "/api/v1/licence-imports", params=params, content=csv_bytes(rows(1))
        ).status_code
        == 403
    )
    client.cookies.clear()
    login(client, stranger.username)
    assert (
        client.post(
            "/api/v1/licence-imports", params=params, content=csv_bytes(rows(1))
        ).status_code
        == 403
    )
    r = client.post(
        "/api/v1/licence-imports",
        params={**params, "department_id": other.id},
        content=csv_bytes(rows(1)),
    )
    assert r.status_code == 422 and r.json()["code"] == "not_licence_issuer"


async def test_xlsx_and_enterprise_holders(session, client):
    import openpyxl

    w = await helpers.world(session)
    code = helpers.type_code()
    await service.create_type(
        session,
        w.admin,
        LicenceTypeCreate(
            code=code,
            name="营业执照",
            holder_kind="enterprise",
            issuing_department_ids=[w.dept.id],
            field_schema={
                "type": "object",
                "properties": {
                    "capital": {"type": "integer", "title": "注册资本（万元）", "minimum": 0},
                    "listed": {"type": "boolean", "title": "上市公司"},
                },
            },
            validity_years=None,
        ),
    )
    ent = await builders.enterprise(session, rep=w.person)
    await session.commit()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        ["证照编号", "持证主体", "统一社会信用代码", "颁证日期", "注册资本（万元）", "上市公司"]
    )
    ws.append(["91370102MA00000001", ent.name, ent.credit_code, dt.date(2018, 5, 6), 500, "否"])
    ws.append(
        [
            "91370102MA00000002",
            "历史公司",
            make_credit_code("91370102MA0000777"),
            dt.datetime(2017, 1, 2),  # noqa: DTZ001 - Excel cells have no time zone
            12,
            "是",
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    login(client, await _head(session, w))
    r = client.post(
        "/api/v1/licence-imports",
        params={"type_code": code, "department_id": w.dept.id, "file_name": "执照.xlsx"},
        content=buf.getvalue(),
    )
    assert r.status_code == 201, r.text
    lics = (
        (
            await session.execute(
                select(Licence).where(Licence.type_code == code).order_by(Licence.id)
            )
        )
        .scalars()
        .all()
    )
    assert [x.holder_enterprise_id for x in lics] == [ent.id, None] and lics[
        0
    ].issued_on == dt.date(2018, 5, 6)
    assert lics[0].data == {"capital": 500, "listed": False} and lics[1].data["listed"] is True
    assert lics[0].holder_code_type == "001"
    for x in lics:
        assert (await service.check_record(session, x)).ok
    # the legal representative sees the enterprise's imported licence in the wallet
    client.cookies.clear()
    builders.login(client, w.citizen_acc.username)
    assert lics[0].id in [i["id"] for i in client.get("/api/v1/me/licences").json()["items"]]


async def test_an_interrupted_import_resumes_where_it_stopped(
    session, sessionmaker_, settings, tmp_path
):
    w = await helpers.world(session)
    await session.commit()
    path = tmp_path / "存量证照.csv"
    path.write_bytes(csv_bytes(rows(50)))
    calls = []

    def crash_after_two(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        await bulk.import_file(
            sessionmaker_,
            path,
            type_code=w.type_code,
            department_id=w.dept.id,
            chunk=10,
            workers=1,
            progress=crash_after_two,
        )
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 20
    job = (await session.execute(select(LicenceImport))).scalar_one()
    assert job.status == "running" and job.next_row == 22 and job.imported == 20
    report = await bulk.import_file(
        sessionmaker_, path, type_code=w.type_code, department_id=w.dept.id, chunk=10
    )
    assert report.resumed_from == 22 and report.imported == 50 and report.job_id == job.id
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 50
    await session.refresh(job)
    assert job.status == "done" and job.next_row == 52
    numbers = (await session.execute(select(Licence.number))).scalars().all()
    assert len(set(numbers)) == 50
    # two workers (the default): chunks may commit out of order; the checkpoint never passes a gap
    more = tmp_path / "更多.csv"
    more.write_bytes(csv_bytes(rows(95, start=1000)))
    calls.clear()

    class Crash(Exception):
        pass

    def crash_after_five(done, total):
        calls.append(done)
        if len(calls) == 5:
            raise Crash  # the process dies (a KeyboardInterrupt in a task would stop the test's own loop)

    with pytest.raises(ExceptionGroup):  # the worker's failure, through the task group
        await bulk.import_file(
            sessionmaker_,
            more,
            type_code=w.type_code,
            department_id=w.dept.id,
            chunk=10,
            progress=crash_after_five,
        )
    job2 = (
        await session.execute(select(LicenceImport).where(LicenceImport.id != job.id))
    ).scalar_one()
    written = (await session.execute(select(func.count()).select_from(Licence))).scalar() - 50
    assert job2.status == "running" and 50 <= written < 95 and job2.next_row - 2 <= written
    report = await bulk.import_file(
        sessionmaker_, more, type_code=w.type_code, department_id=w.dept.id, chunk=10
    )
    assert report.imported + report.skipped == 95 and report.job_id == job2.id
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 145
    await session.refresh(job2)
    assert job2.status == "done" and job2.next_row == 97
    # a check failure writes nothing and says which rows
    bad = tmp_path / "bad.csv"
    body = rows(3, start=200)
    body[1][3] = "明天"
    bad.write_bytes(csv_bytes(body))
    with pytest.raises(bulk.ImportRejected) as e:
        await bulk.import_file(sessionmaker_, bad, type_code=w.type_code, department_id=w.dept.id)
    assert [str(x) for x in e.value.report.errors] == [
        "第 3 行「颁证日期」：日期格式不正确（应为 2020-01-31）"
    ]


def test_the_command_line(session_settings_env, tmp_path):
    from typer.testing import CliRunner

    from tongban.cli import app

    type_code, dept_id = session_settings_env
    path = tmp_path / "licences.csv"
    path.write_bytes(csv_bytes(rows(12)))
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "licences",
            "import",
            str(path),
            "--type",
            type_code,
            "--department",
            str(dept_id),
            "--dry-run",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "校验通过" in out.output
    out = runner.invoke(
        app, ["licences", "import", str(path), "--type", type_code, "--department", str(dept_id)]
    )
    assert out.exit_code == 0, out.output
    assert "导入 12 份" in out.output
    out = runner.invoke(
        app, ["licences", "import", str(path), "--type", type_code, "--department", str(dept_id)]
    )
    assert "导入 0 份，跳过已导入 12 份" in out.output
    bad = tmp_path / "bad.csv"
    body = rows(2, start=50)
    body[0][2] = "123"
    bad.write_bytes(csv_bytes(body))
    out = runner.invoke(
        app, ["licences", "import", str(bad), "--type", type_code, "--department", str(dept_id)]
    )
    assert out.exit_code == 1 and "第 2 行「持证主体代码」" in out.output


@pytest.fixture
def session_settings_env(settings, monkeypatch):
    """The command line reads its settings from the environment: point it at this test's database."""
    import asyncio

    from tongban.core.db import create_engine, make_sessionmaker
    from tongban.core.settings import reset_settings_cache

    async def seed():
        engine = create_engine(settings)
        try:
            async with make_sessionmaker(engine)() as s:
                w = await helpers.world(s)
                await s.commit()
                return w.type_code, w.dept.id
        finally:
            await engine.dispose()

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(
        1
    ) as pool:  # a thread: the test session's loop may be running
        out = pool.submit(asyncio.run, seed()).result()
    for k, v in {
        "TONGBAN_DATABASE_URL": settings.database_url,
        "TONGBAN_DATA_DIR": str(settings.data_dir),
        "TONGBAN_SECRET_KEY": settings.secret_key,
        "TONGBAN_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(k, v)
    reset_settings_cache()
    yield out
    reset_settings_cache()


# --- the fast signing path is the core's --------------------------------------------------------------


def _random_text(rng: random.Random, n: int) -> str:
    alphabet = "张王李赵历下区泉城路号𠮷😀 ,.:;'\"\\/-_()（）《》【】—…abcXYZ0123456789é\u00e9e\u0301ü\u2028\u3000\x7f"
    return unicodedata.normalize("NFC", "".join(rng.choice(alphabet) for _ in range(n)))


def test_fast_canonical_matches_the_reference():
    rng = random.Random(20261121)
    for _ in range(2000):
        obj = {
            _random_text(rng, rng.randint(1, 6)): _random_text(rng, rng.randint(0, 30))
            for _ in range(rng.randint(1, 6))
        } | {
            "n": rng.randint(-(2**62), 2**62),
            "b": rng.random() < 0.5,
            "x": None,
            "list": [_random_text(rng, 3), 1],
        }
        assert bulk.fast_canonical(obj) == crypto.canonical(obj)
    assert bulk.fast_canonical({"big": 2**70}) == crypto.canonical({"big": 2**70})


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
async def test_the_sealer_signs_as_the_core_does(session, alg):
    w = await helpers.world(session, algorithm=alg)
    lic = await helpers.issue(session, w)
    lt = await service.get_type_by_code(session, w.type_code)
    sealer = await bulk.Sealer.for_department(session, lt, w.dept)
    doc = bulk._Doc(**{k: getattr(lic, k) for k in bulk._Doc.__slots__})
    sig, digest_hex, qr = sealer.sign(doc, lic.signature["TBS_Sign"]["timeInfo"])
    assert sig["TBS_Sign"] == lic.signature["TBS_Sign"] and digest_hex == lic.canonical_hash
    assert (
        sig["cert"] == lic.signature["cert"]
        and sig["signatureAlgID"] == lic.signature["signatureAlgID"]
    )
    if alg == "ed25519":  # deterministic signatures: the very same bytes
        assert sig == lic.signature and qr == lic.qr_payload
    lic.signature, lic.qr_payload = sig, qr
    assert (await service.check_record(session, lic)).ok
    v = await service.verify(session, text=qr, channel="api")
    assert v.result == "valid" and v.signature_checked


def test_the_written_columns_are_the_tables():
    """COPY names its columns: a column the core adds must be written here too."""
    assert set(bulk.LICENCE_COLUMNS) == {c.name for c in Licence.__table__.columns}
    assert set(bulk.HISTORY_COLUMNS) == {c.name for c in LicenceHistory.__table__.columns} - {"id"}


async def test_concurrent_batches_of_one_file_write_each_licence_once(session, sessionmaker_):
    import asyncio

    from tongban.core.db import session_scope
    from tongban.identity.access import SYSTEM

    w = await helpers.world(session)
    await session.commit()
    data = csv_bytes(rows(40))

    async def one(name: str) -> bulk.ImportReport:
        async with session_scope(sessionmaker_) as s:
            return await bulk.import_data(
                s, SYSTEM, file_name=name, data=data, type_code=w.type_code, department_id=w.dept.id
            )

    a, b = await asyncio.gather(one("a.csv"), one("b.csv"))
    assert a.imported + b.imported == 40 and a.skipped + b.skipped == 40
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 40


async def test_a_batch_that_loses_a_race_skips_what_the_other_wrote(session, monkeypatch):
    """Another batch wrote some numbers between this one's check and its write: the
    unique index refuses them, the savepoint undoes the attempt, the rest is written."""
    from tongban.identity.access import SYSTEM

    w = await helpers.world(session)
    await bulk.import_data(
        session,
        SYSTEM,
        file_name="first.csv",
        data=csv_bytes(rows(10)),
        type_code=w.type_code,
        department_id=w.dept.id,
    )
    await session.commit()
    real = bulk._existing_numbers
    calls = []

    async def blind_first(s, type_code, numbers):
        calls.append(len(numbers))
        return set() if len(calls) == 1 else await real(s, type_code, numbers)

    monkeypatch.setattr(bulk, "_existing_numbers", blind_first)
    report = await bulk.import_data(
        session,
        SYSTEM,
        file_name="second.csv",
        data=csv_bytes(rows(15, start=5)),
        type_code=w.type_code,
        department_id=w.dept.id,
    )
    await session.commit()
    assert report.imported == 10 and report.skipped == 5 and len(calls) == 2
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 20


async def test_the_signing_processes_sign_as_the_web_worker_does(session, monkeypatch):
    """Large chunks are signed in a pool of processes: the same bytes (Ed25519 is deterministic)."""
    w = await helpers.world(session)
    lic = await helpers.issue(session, w)
    lt = await service.get_type_by_code(session, w.type_code)
    sealer = await bulk.Sealer.for_department(session, lt, w.dept)
    docs = [bulk._Doc(**{k: getattr(lic, k) for k in bulk._Doc.__slots__}) for _ in range(3)]
    at_text = lic.signature["TBS_Sign"]["timeInfo"]
    here = sealer.signing.sign_texts(docs, at_text)
    monkeypatch.setattr(bulk, "POOL_MIN_ROWS", 1)
    assert bulk._signing_pool() is not None
    there = await bulk.sign_all(sealer, docs, at_text)
    assert there == here and here[0][2] == lic.qr_payload and here[0][1] == lic.canonical_hash


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
async def test_sign_texts_writes_what_sign_makes(session, alg):
    """``Signing.sign_texts`` assembles the JSON from parts written once per chunk:
    byte for byte what ``sign`` + ``_dumps`` give (Ed25519 is deterministic; SM2
    is not, so there everything but the signature value), and it verifies."""
    import orjson

    w = await helpers.world(session, algorithm=alg)
    lic = await helpers.issue(session, w)
    lt = await service.get_type_by_code(session, w.type_code)
    sealer = await bulk.Sealer.for_department(session, lt, w.dept)
    at_text = lic.signature["TBS_Sign"]["timeInfo"]
    odd = bulk._Doc(**{k: getattr(lic, k) for k in bulk._Doc.__slots__})
    odd.holder_name, odd.data = '引号"与\\反斜杠', {**lic.data, "business_name": "“全角”\u00e9"}
    odd.valid_until = None
    docs = [bulk._Doc(**{k: getattr(lic, k) for k in bulk._Doc.__slots__}), odd]
    fast = sealer.signing.sign_texts(docs, at_text)
    for doc, (sig_text, digest_hex, qr) in zip(docs, fast, strict=True):
        sig, ref_digest, ref_qr = sealer.sign(doc, at_text)
        assert digest_hex == ref_digest
        if alg == "ed25519":
            assert sig_text == bulk._dumps(sig) and qr == ref_qr
        else:
            got = orjson.loads(sig_text)
            assert list(got) == list(sig) and got["TBS_Sign"] == sig["TBS_Sign"]
            assert {k: v for k, v in got.items() if k != "signature"} == {
                k: v for k, v in sig.items() if k != "signature"
            }
            assert qr.rsplit(".", 1)[0] == ref_qr.rsplit(".", 1)[0]
    lic.signature, lic.qr_payload = orjson.loads(fast[0][0]), fast[0][2]
    assert (await service.check_record(session, lic)).ok
    v = await service.verify(session, text=fast[0][2], channel="api")
    assert v.result == "valid" and v.signature_checked


def test_the_row_check_reads_every_cell():
    """The check without a database: control characters anywhere in a row, the xlsx
    precision marker, blank rows, 长期 and the type's validity rule, each date column."""
    from tongban.licences.models import LicenceType

    lt = LicenceType(
        id=1,
        code="11100000MB9000002M001",
        name="食品经营许可证",
        holder_kind="person",
        validity_years=5,
        field_schema=helpers.SCHEMA,
    )
    header = [*HEADER[:4], "有效期起始", *HEADER[4:]]
    good = [[*r[:4], "", *r[4:]] for r in rows(9, start=1)]
    good[0][5] = ""  # no end: the type's rule
    good[1][4] = "2019-03-01"  # 有效期起始 given: the rule runs from it
    good[1][5] = ""
    good[2][5] = "长期有效"
    good[3][6] = "泉城\u3000小店"  # an ideographic space: not a control character
    bad = [[*r[:4], "", *r[4:]] for r in rows(6, start=50)]
    bad[0][7] = "热食类\n食品制售"  # a line break in the last cell
    bad[1][1] = "\x00precision"  # a number Excel could not hold
    bad[2][4] = "2019-02-30"  # 有效期起始
    bad[3][5] = "2019/1/1"  # ends before it starts
    bad[4][5] = "明年"  # 有效期截止
    bad[5][6] = "店\x7f"
    body = [good[0], ["", " ", "\u3000"], *good[1:], *bad, [""] * len(header)]
    report = bulk.ImportReport("f.csv", lt.code, 1)
    out = list(bulk.check(lt, [header, *body], report, today=dt.date(2026, 11, 21)))
    assert report.total == len(good) + len(bad)  # the two blank rows are not rows
    assert [r.number for r in out] == [g[0] for g in good]
    by_number = {r.number: r for r in out}
    first, given, long_term, spaced = (by_number[good[k][0]] for k in range(4))
    assert first.valid_from == first.issued_on
    assert first.valid_until == service.validity_end(lt, first.issued_on)
    assert given.valid_from == dt.date(2019, 3, 1)
    assert given.valid_until == dt.date(2024, 2, 29)
    assert long_term.valid_until is None
    assert spaced.data["business_name"] == "泉城\u3000小店"
    errors = [(e.row, e.column, e.message) for e in report.errors]
    first_bad = 2 + 1 + len(good)  # header, the blank row, the good rows
    assert errors == [
        (first_bad, "", "包含换行或控制字符"),
        (first_bad + 1, "", "单元格数值超出 Excel 精度，请将该列设置为文本格式"),
        (first_bad + 2, "有效期起始", "日期格式不正确（应为 2020-01-31）"),
        (first_bad + 3, "有效期截止", "早于有效期起始"),
        (first_bad + 4, "有效期截止", "日期格式不正确（应为 2020-01-31）"),
        (first_bad + 5, "", "包含换行或控制字符"),
    ]


async def test_a_validity_past_year_9999_is_a_row_error(session, client):
    """有效期起始 9999-06-01 plus the type's years is past the last date Python
    (and the databases) hold: each such row is reported, nothing is written."""
    w = await helpers.world(session)
    await session.commit()
    login(client, await _head(session, w))
    header = [*HEADER, "有效期起始"]
    body = [[*r, "9999-06-01"] for r in rows(2)] + [[*r, ""] for r in rows(1, start=50)]
    for r in body:
        r[4] = ""  # no explicit end: the type's rule computes it
    r = client.post(
        "/api/v1/licence-imports",
        params={"type_code": w.type_code, "department_id": w.dept.id},
        content=csv_bytes(body, header=header),
    )
    assert r.status_code == 422 and r.json()["code"] == "licence_import_invalid", r.text
    errors = {(e["row"], e["column"]) for e in r.json()["details"]["errors"]}
    assert errors == {(2, "有效期起始"), (3, "有效期起始")}
    assert "超出" in r.json()["details"]["errors"][0]["message"]
    assert (await session.execute(select(func.count()).select_from(Licence))).scalar() == 0


def test_validity_end_past_year_9999_is_refused_clearly() -> None:
    """The same rule for a licence issued one at a time (POST /api/v1/licences)."""
    from types import SimpleNamespace

    from tongban.core.errors import ValidationFailed

    lt = SimpleNamespace(validity_years=5, validity_months=0)
    assert service.validity_end(lt, dt.date(2024, 2, 29)) == dt.date(2029, 2, 27)
    with pytest.raises(ValidationFailed) as e:
        service.validity_end(lt, dt.date(9999, 1, 1))
    assert e.value.code == "validity_out_of_range"
