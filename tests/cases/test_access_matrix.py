"""Access matrix for cases: every role outside a case's scope × every case
endpoint (API and pages, reads and every action) — nothing read, nothing
changed, and the answer is the same as for a case that does not exist (so
it tells nothing either).

Outside the scope: an approver of another department of the same county,
a clerk of another city, another citizen, a visitor. The cases are the
world of tests/cases/test_pages.py, one in each state, so that every action
is tried where its own staff could take it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import builders as b
from tests.cases.test_pages import W, _states, build
from tests.web.conftest import csrf_from, page_login
from tongban.cases import lifecycle
from tongban.cases.models import Case, CaseTrail
from tongban.core.audit import AuditEntry

GHOST = 987654321  # no case has this id
OUTSIDERS = {"other": "pother", "far": "pfar", "bob": "pbob", "visitor": None}

API_READS = ["/api/v1/cases/{id}", "/api/v1/cases/{id}/exchange"]
PAGE_READS = [
    "/workbench/cases/{id}",
    "/me/cases/{id}",
    "/me/cases/{id}/withdraw",
    "/cases/{id}/materials/1",
]
PAGE_WRITES = ["/me/cases/{id}/withdraw", "/me/cases/{id}/resubmit"] + [
    f"/workbench/cases/{{id}}/actions/{a}" for a in lifecycle.TRANSITIONS
]
# a body each action would accept from its own staff
BODIES = {
    "reject": {"reason": "材料不全"},
    "request_correction": {"items": [{"kind": "material", "name": "营业执照", "reason": "缺"}]},
    "return_step": {"reason": "退回"},
    "decide": {"outcome": "grant"},
    "suspend": {"kind": "hearing", "reason": "听证"},
    "extend": {"days": 5, "reason": "延期"},
    "deliver": {"method": "electronic"},
    "withdraw": {"reason": "撤回"},
    "void": {"reason": "作废"},
}


def _answer(r) -> tuple[int, str | None]:  # type: ignore[no-untyped-def]
    code = None
    if r.headers.get("content-type", "").startswith("application/json"):
        code = r.json().get("code")
    return r.status_code, code


async def _snapshot(session) -> tuple:  # type: ignore[type-arg]
    session.expire_all()
    rows = (
        await session.execute(
            select(Case.id, Case.state, Case.step_index, Case.alert).order_by(Case.id)
        )
    ).all()
    trail = await session.scalar(select(func.count()).select_from(CaseTrail))
    audit = await session.scalar(select(func.count()).select_from(AuditEntry))
    return tuple(rows), trail, audit


@pytest.fixture
async def world(session) -> tuple[W, dict[str, Case]]:
    w = await build(session)
    return w, await _states(session, w)


@pytest.mark.parametrize("who", sorted(OUTSIDERS))
async def test_outside_the_scope_nothing_is_read_or_changed(world, client, session, who) -> None:
    _w, cases = world
    # a case of the other department (window intake) is outside for "far" and "bob" only
    targets = [
        (c.id, c.number, c.state)
        for k, c in cases.items()
        if k != "window" or who in ("far", "bob", "visitor")
    ]
    before = await _snapshot(session)
    user = OUTSIDERS[who]
    if user:
        page_login(client, user)
        token = csrf_from(client.get("/me" if who == "bob" else "/workbench").text)
    else:
        token = "x" * 32
    tried = 0
    for case_id, number, state in targets:
        for path in API_READS + PAGE_READS:
            real = client.get(path.format(id=case_id))
            ghost = client.get(path.format(id=GHOST))
            assert _answer(real) == _answer(ghost), (who, path, state)
            assert real.status_code in (401, 403, 404), (who, path, real.status_code)
            assert number not in real.text
            tried += 1
        for action in lifecycle.TRANSITIONS:
            path = "/api/v1/cases/{id}/actions/" + action
            body = BODIES.get(action, {})
            real = client.post(path.format(id=case_id), json=body)
            ghost = client.post(path.format(id=GHOST), json=body)
            assert _answer(real) == _answer(ghost), (who, action, state)
            assert real.status_code in (401, 403, 404), (who, action, real.status_code)
            tried += 1
        for path in PAGE_WRITES:
            form = {"csrf_token": token, "confirm": "yes", "reason": "理由"}
            real = client.post(path.format(id=case_id), data=form)
            ghost = client.post(path.format(id=GHOST), data=form)
            assert real.status_code == ghost.status_code, (who, path, state)
            assert real.status_code in (401, 403, 404), (who, path, real.status_code)
            tried += 1
    assert tried > 200
    # lists: the cases are not among theirs
    if user:
        listed = client.get("/api/v1/cases?queue=all" if who != "bob" else "/api/v1/cases")
        numbers = {c["number"] for c in listed.json().get("items", [])}
        assert not numbers & {t[1] for t in targets}
        page = client.get("/workbench/cases?queue=all" if who != "bob" else "/me/cases").text
        assert not any(t[1] in page for t in targets)
    assert await _snapshot(session) == before


async def test_the_matrix_is_not_vacuous(world, client) -> None:
    """The same requests as the case's own staff and applicant do read it."""
    _w, cases = world
    page_login(client, "pclerk")
    case = cases["accept"]
    assert client.get(f"/api/v1/cases/{case.id}").status_code == 200
    assert client.get(f"/workbench/cases/{case.id}").status_code == 200
    r = client.post(f"/api/v1/cases/{case.id}/actions/accept", json={})
    assert r.status_code == 200 and r.json()["state"] == "reviewing"
    client.cookies.clear()
    b.login(client, "palice")
    assert client.get(f"/api/v1/cases/{case.id}").status_code == 200
    client.cookies.clear()
    page_login(client, "palice")
    assert client.get(f"/me/cases/{case.id}").status_code == 200
