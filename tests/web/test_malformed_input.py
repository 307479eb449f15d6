"""Malformed input found by fuzzing the API (schemathesis 4.32, every
operation as a visitor, citizen, clerk, approver and administrator, plus
hand-made requests; 2026-11-22): each of these was a 500 or a logged
traceback, and is now a 4xx with a Chinese message and a stable code.

The ``client`` fixture raises what the server raises (``raise_server_exceptions``),
so a request that still reached an unhandled exception fails here.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests import builders as b
from tests.licences import helpers
from tests.web.conftest import token_of
from tongban.catalogue.io import Source, read_sources
from tongban.core.errors import ValidationFailed
from tongban.identity.models import Account
from tongban.licences import bulk
from tongban.licences.models import LicenceType
from tongban.search import faq_io
from tongban.web.nul import MAX_JSON_DEPTH, json_body_problem

# --- a CSRF token that is not ASCII --------------------------------------------------------------


async def test_a_non_ascii_csrf_token_is_refused_not_a_500(client, session) -> None:
    await b.citizen(session, username="csrfu")
    await session.commit()
    # a page form (the sign-in page): field and cookie made up by the client
    token_of(client, "/login")
    r = client.post(
        "/login",
        data={"csrf_token": "é", "username": "x", "password": "y"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "页面已过期" in r.text
    client.cookies.clear()
    r = client.post(  # the cookie too
        "/login",
        data={"csrf_token": "é", "username": "x", "password": "y"},
        headers={"cookie": "tongban_csrf=é".encode()},
    )
    assert r.status_code == 403
    client.cookies.clear()
    # an API write signed in by cookie, the header not ASCII
    b.login(client, "csrfu")
    r = client.post(
        "/api/v1/me/notifications/read",
        headers={"x-csrf-token": "é".encode(), "accept": "application/json"},
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"


# --- a malformed xlsx ----------------------------------------------------------------------------


def _broken_xlsx(sheet_xml: bytes | None = None, manifest: bytes | None = None) -> bytes:
    """A real workbook with its sheet (or its content-type manifest) replaced."""
    wb = Workbook()
    wb.active.append(["id", "docid", "question", "answer"])
    buf = io.BytesIO()
    wb.save(buf)
    src, out = zipfile.ZipFile(buf), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in src.infolist():
            data = src.read(i)
            if i.filename == "xl/worksheets/sheet1.xml" and sheet_xml is not None:
                data = sheet_xml
            if i.filename == "[Content_Types].xml" and manifest is not None:
                data = manifest
            z.writestr(i, data)
    return out.getvalue()


_NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
BROKEN = {
    # openpyxl reads rows lazily: these fail while iterating, after the workbook opened
    "a numeric cell that is not a number": _broken_xlsx(
        _NS + b'<sheetData><row r="1"><c r="A1" t="n"><v>abc</v></c></row></sheetData></worksheet>'
    ),
    "a cell reference out of range": _broken_xlsx(
        _NS + b'<sheetData><row r="1"><c r="ZZZZZZ1"><v>1</v></c></row></sheetData></worksheet>'
    ),
    # and this one while opening it (not a zip error: XML)
    "an unclosed manifest": _broken_xlsx(manifest=b"<Types><Default"),
}


@pytest.mark.parametrize("what", sorted(BROKEN))
def test_every_importer_refuses_a_malformed_workbook(what: str) -> None:
    data = BROKEN[what]
    with pytest.raises(ValidationFailed) as e:
        read_sources([Source("事项.xlsx", data)])
    assert e.value.code == "import_unreadable"
    with pytest.raises(ValidationFailed) as e:
        list(bulk.read_rows("证照.xlsx", data))
    assert e.value.code == "unreadable_file"
    parsed = faq_io.parse("问答.xlsx", data)
    assert parsed.errors and "xlsx" in parsed.errors[0].message


async def test_catalogue_import_answers_a_malformed_workbook_with_422(client, session) -> None:
    await b.staff(session, roles=["platform_admin"], username="xlsxadmin", region=b.SHANDONG)
    await session.commit()
    csrf = b.login(client, "xlsxadmin")["csrf_token"]
    r = client.post(
        "/api/v1/catalogue/import?dry_run=true",
        files={"file": ("a.xlsx", BROKEN["a numeric cell that is not a number"])},
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 422 and r.json()["code"] == "import_unreadable"
    assert "重新保存" in r.json()["message"]


# --- values no response, column or signature can hold, inside JSON ------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"data": {"remark": "\\ud800"}}', "invalid_character"),  # a lone surrogate
        (b'{"data": {"remark": "x\\uDC00y"}}', "invalid_character"),
        (b'{"data": {"n": 123456789012345678901234567890}}', "value_invalid"),
        (b'{"data": {"n": -9223372036854775809}}', "value_invalid"),
        (b'{"a": ' * (MAX_JSON_DEPTH + 5) + b"1" + b"}" * (MAX_JSON_DEPTH + 5), "too_deep"),
        # not JSON numbers, though Python reads them: PostgreSQL refused them, SQLite stored them
        (b'{"data": {"n": NaN}}', "number_invalid"),
        (b'{"data": {"n": -Infinity}}', "number_invalid"),
        (b'{"data": {"n": 1e309}}', "number_invalid"),
    ],
)
async def test_json_values_nothing_can_hold_are_refused(client, session, body, code) -> None:
    await b.citizen(session, username="jsonu")
    await session.commit()
    csrf = b.login(client, "jsonu")["csrf_token"]
    before = await session.scalar(select(func.count()).select_from(LicenceType))
    # the form check echoes the data back: it was a 500 when the answer was rendered
    r = client.post(
        "/api/v1/catalogue/implementations/1/form/check",
        content=body,
        headers={"content-type": "application/json", "x-csrf-token": csrf},
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and r.json()["message"]
    assert r.headers.get("x-request-id")
    assert await session.scalar(select(func.count()).select_from(LicenceType)) == before


def test_ordinary_json_is_not_decoded_twice_and_pairs_pass() -> None:
    assert json_body_problem(b'{"name": "\\u5f20\\u4e09", "n": 42}') is None
    assert json_body_problem(b'{"emoji": "\\ud83d\\ude00"}') is None  # a valid pair
    assert json_body_problem(b'{"n": 9223372036854775807}') is None  # int64's largest
    assert json_body_problem(b'{"n": 1234567890123456789012345') is None  # not JSON: FastAPI's
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_body_problem(nested) is None
    assert json_body_problem(b'{"name": "NaN Infinity", "x": 1.5e300}') is None  # text, finite


def test_an_unparsable_body_gets_a_chinese_message(client) -> None:
    r = client.post(
        "/api/v1/auth/login",
        content=b'{"username": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500
    body = r.json()
    assert body["code"] in ("bad_request", "validation_failed", "json_invalid")
    assert not body["message"].isascii()


# --- an id past 64 bits: answered 422, not re-raised as a 500 ------------------------------------


def test_an_id_past_64_bits_is_answered_without_a_server_error(client) -> None:
    # the old handler answered 422 and then re-raised (a traceback, a 500 in the
    # access log, no request id, the kept-alive connection dropped): this
    # client raises what the server raises
    for url in (
        "/api/v1/departments/9223372036854775808",
        "/api/v1/departments?after=99999999999999999999",
    ):
        r = client.get(url, headers={"accept": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "value_invalid", url
        assert r.headers.get("x-request-id")


# --- the worklist's region filter ----------------------------------------------------------------


@pytest.mark.parametrize("region", ["1", "00000000000", "²²", "３７０１"])
async def test_a_malformed_region_filter_is_refused(client, session, region: str) -> None:
    dept = await b.department(session, region=b.LIXIA)
    await b.staff(session, roles=["clerk"], region=b.LIXIA, dept=dept, username="regclerk")
    await session.commit()
    b.login(client, "regclerk")
    r = client.get("/api/v1/cases", params={"region": region})
    assert r.status_code == 422 and r.json()["code"] == "invalid_region"
    assert client.get("/api/v1/cases", params={"region": "370102"}).status_code == 200


# --- null for a licence type's required field ----------------------------------------------------


async def test_null_for_a_required_licence_type_field_is_refused(client, session) -> None:
    w = await helpers.world(session)
    await session.commit()
    account = await session.get(Account, w.admin.account_id)
    assert account is not None
    csrf = b.login(client, account.username)["csrf_token"]
    h = {"x-csrf-token": csrf}
    code = helpers.type_code()
    r = client.post(
        "/api/v1/licence-types",
        json={
            "code": code,
            "name": "结婚证",
            "holder_kind": "person",
            "issuing_department_ids": [w.dept.id],
            "field_schema": {"type": "object", "properties": {}},
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    type_id = r.json()["id"]
    for field in ("status", "name", "defining_body", "issuing_department_ids"):
        r = client.patch(f"/api/v1/licence-types/{type_id}", json={field: None}, headers=h)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["code"] == "licence_type_invalid"
        assert r.json()["details"][0]["field"] == field
    lt = await session.get(LicenceType, type_id)
    await session.refresh(lt)
    assert lt is not None and lt.name == "结婚证" and lt.status
    # leaving a field out still means "unchanged"
    r = client.patch(f"/api/v1/licence-types/{type_id}", json={"name": "结婚证（新）"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "结婚证（新）"


def test_a_material_token_that_is_not_ascii_is_refused() -> None:
    from tongban.cases.views import token_sha, upload_token
    from tongban.identity.access import Actor

    actor = Actor("person", 1, "张三", "370102000000", "session", csrf_token="t" * 32)
    sha = "a" * 64
    assert token_sha(actor, upload_token(actor, sha)) == sha
    for forged in (f"{sha}.é", f"{sha}.\udc80", f"{sha}.{'b' * 10}"):
        with pytest.raises(ValidationFailed) as e:
            token_sha(actor, forged)
        assert e.value.code == "material_token_invalid"
