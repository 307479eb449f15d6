"""Typed builders for test data, through the product's own service functions."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.clock import now
from tongban.core.identifiers import make_credit_code, make_resident_id
from tongban.identity import service
from tongban.identity.models import Account, Enterprise, EnterpriseAgent, Person
from tongban.regions.models import Department

PASSWORD = "Test@pass2026"
LIXIA, SHIZHONG, JINAN, SHANDONG = "370102000000", "370103000000", "370100000000", "370000000000"
QINGDAO_SHINAN = "370202000000"

_seq = itertools.count(1)
_hash: str | None = None


def _pw_hash() -> str:
    global _hash
    if _hash is None:
        _hash = service.hash_password_sync(PASSWORD)
    return _hash


async def department(
    s: AsyncSession, *, region: str = LIXIA, name: str | None = None, kind: str = "市场监管"
) -> Department:
    n = next(_seq)
    d = Department(
        region_code=region,
        credit_code=make_credit_code(f"11{region[:6]}MB{n:07d}"),
        name=name or f"测试部门{n}",
        short_name=f"部门{n}",
        kind=kind,
    )
    s.add(d)
    await s.flush()
    return d


async def staff(
    s: AsyncSession,
    *,
    roles: list[str],
    region: str = LIXIA,
    dept: Department | None = None,
    username: str | None = None,
) -> Account:
    n = next(_seq)
    return await service.create_account(
        s,
        kind="staff",
        username=username or f"staff{n}",
        password=None,
        password_hash=_pw_hash(),
        display_name=f"工作人员{n}",
        region_code=region,
        department_id=dept.id if dept else None,
        roles=roles,
    )


async def person(
    s: AsyncSession, *, region: str = LIXIA, name: str = "张测试", phone: str | None = None
) -> Person:
    n = next(_seq)
    number = make_resident_id(
        region[:6], birth_date=dt.date(1980, 1, 1) + dt.timedelta(days=n), sequence=n % 999 + 1
    )
    return await service.create_person(
        s, id_number=number, name=name, phone=phone or f"1710{n:07d}", region_code=region
    )


async def citizen(
    s: AsyncSession, *, region: str = LIXIA, username: str | None = None
) -> tuple[Person, Account]:
    p = await person(s, region=region)
    n = next(_seq)
    acc = await service.create_account(
        s,
        kind="person",
        username=username or f"citizen{n}",
        password=None,
        password_hash=_pw_hash(),
        display_name=p.name,
        region_code=region,
        person=p,
        phone=p.phone,
    )
    return p, acc


async def enterprise(s: AsyncSession, *, rep: Person, region: str | None = None) -> Enterprise:
    n = next(_seq)
    region = region or rep.region_code
    return await service.create_enterprise(
        s,
        credit_code=make_credit_code(f"91{region[:6]}MA{n:07d}"),
        name=f"测试企业{n}有限公司",
        legal_rep=rep,
        region_code=region,
    )


async def agent(
    s: AsyncSession, *, ent: Enterprise, who: Person, days: int = 30
) -> EnterpriseAgent:
    a = EnterpriseAgent(
        enterprise_id=ent.id,
        person_id=who.id,
        authorised_by_id=ent.legal_rep_id,
        valid_until=now() + dt.timedelta(days=days),
        region_code=ent.region_code,
    )
    s.add(a)
    await s.flush()
    return a


def login(client, username: str, password: str = PASSWORD) -> dict:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def session_token(client, username: str) -> str:
    """Sign ``username`` in and return the session cookie's value, leaving the
    client's cookies empty (the caller sends the token where it wants it)."""
    from tongban.web.deps import SESSION_COOKIE

    login(client, username)
    token = client.cookies.get(SESSION_COOKIE)
    client.cookies.clear()
    assert token
    return token


@contextlib.asynccontextmanager
async def asgi_client(settings, username: str):  # type: ignore[no-untyped-def]
    """The app on this test's event loop through httpx, signed in as
    ``username``: requests can run at the same moment (``asyncio.gather``).
    A server error comes back as a 500 answer (``propagate_errors`` off)."""
    import httpx2 as httpx  # what starlette.testclient uses

    from tongban.web.app import create_app

    app = create_app(settings.model_copy(update={"propagate_errors": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.post(
                "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            yield c
