"""Material uploads: type sniffed from the bytes, size limit, scanner hook, dedup."""

from __future__ import annotations

import pytest

from tests import builders
from tongban.core import files

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def citizen(session):
    await builders.citizen(session, username="uploader")
    await session.commit()


async def test_upload_pdf_and_dedup(citizen, client):
    client.headers["X-CSRF-Token"] = builders.login(client, "uploader")["csrf_token"]
    r1 = client.post("/api/v1/uploads", files={"file": ("申请书.pdf", PDF, "application/pdf")})
    r2 = client.post("/api/v1/uploads", files={"file": ("copy.pdf", PDF, "application/pdf")})
    assert r1.status_code == 201 and r1.json()["content_type"] == "application/pdf"
    assert r1.json()["sha256"] == r2.json()["sha256"] and r2.json()["name"] == "申请书.pdf"
    assert files.path_of(r1.json()["sha256"]).read_bytes() == PDF


async def test_upload_refuses_disguised_and_oversized_files(citizen, client, settings, monkeypatch):
    client.headers["X-CSRF-Token"] = builders.login(client, "uploader")["csrf_token"]
    r = client.post(
        "/api/v1/uploads", files={"file": ("virus.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}
    )
    assert r.status_code == 422 and r.json()["code"] == "file_type_not_allowed"
    r = client.post("/api/v1/uploads", files={"file": ("empty.pdf", b"", "application/pdf")})
    assert r.status_code == 422 and r.json()["code"] == "file_empty"
    from tongban.core.settings import get_settings

    for st in {id(x): x for x in (settings, get_settings(), client.app.state.settings)}.values():
        monkeypatch.setattr(st, "media_max_mb", 1)
    big = PDF + b"0" * (1024 * 1024 + 10)
    r = client.post("/api/v1/uploads", files={"file": ("big.pdf", big, "application/pdf")})
    assert r.status_code == 422 and r.json()["code"] == "file_too_large"


async def test_scanner_hook_rejects(citizen, client, monkeypatch):
    async def scanner(data: bytes, name: str) -> str | None:
        return "EICAR-Test-Signature" if b"EICAR" in data else None

    monkeypatch.setattr(files, "_scanners", [scanner])
    client.headers["X-CSRF-Token"] = builders.login(client, "uploader")["csrf_token"]
    r = client.post("/api/v1/uploads", files={"file": ("x.pdf", PDF + b"EICAR", "application/pdf")})
    assert (
        r.status_code == 422
        and r.json()["code"] == "file_rejected_by_scanner"
        and "EICAR" in r.json()["message"]
    )
    assert (
        client.post(
            "/api/v1/uploads", files={"file": ("ok.pdf", PDF, "application/pdf")}
        ).status_code
        == 201
    )


def test_anonymous_upload_refused(client):
    assert (
        client.post(
            "/api/v1/uploads", files={"file": ("x.pdf", PDF, "application/pdf")}
        ).status_code
        == 401
    )
