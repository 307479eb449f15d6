"""Identity service rules: registration, sign-in, lockout, sessions, SMS, tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests import builders as b
from tongban.core.clock import freeze, now
from tongban.core.errors import AppError, Conflict, ValidationFailed
from tongban.identity import service
from tongban.identity.models import Account, LoginAttempt, WebSession
from tongban.identity.service import LogSmsChannel


async def test_person_validation(session) -> None:
    with pytest.raises(ValidationFailed) as e:
        await service.create_person(
            session, id_number="110101199003071235", name="张三", phone=None, region_code=b.LIXIA
        )
    assert e.value.code.startswith("id_")
    p = await b.person(session)
    with pytest.raises(Conflict):
        await service.create_person(
            session, id_number=p.id_number, name="李四", phone=None, region_code=b.LIXIA
        )
    from tongban.core.identifiers import make_resident_id

    valid = make_resident_id(
        "370102", birth_date=__import__("datetime").date(1990, 3, 7), sequence=123
    )
    with pytest.raises(ValidationFailed, match="手机号码"):
        await service.create_person(
            session, id_number=valid, name="王五", phone="12345", region_code=b.LIXIA
        )


async def test_enterprise_requires_valid_credit_code(session) -> None:
    rep = await b.person(session)
    with pytest.raises(ValidationFailed):
        await service.create_enterprise(
            session,
            credit_code="91370102MA00000001",
            name="某公司",
            legal_rep=rep,
            region_code=b.LIXIA,
        )


async def test_sign_in_and_session_resolution(session, settings) -> None:
    _, acc = await b.citizen(session, username="alice")
    await session.commit()
    signed = await service.sign_in_password(
        session, username="alice", password=b.PASSWORD, settings=settings
    )
    await session.commit()
    stored = (await session.execute(select(WebSession.token_hash))).scalar_one()
    assert (
        stored == service.sha256(signed.token) and signed.token not in stored
    )  # only the hash is kept
    actor = await service.resolve_session(session, signed.token, settings=settings)
    assert actor is not None and actor.account_id == acc.id and actor.kind == "person"
    assert await service.resolve_session(session, "nonsense", settings=settings) is None
    await service.sign_out(session, signed.token)
    await session.commit()
    assert await service.resolve_session(session, signed.token, settings=settings) is None


async def test_session_expires(session, settings) -> None:
    await b.citizen(session, username="bob")
    await session.commit()
    signed = await service.sign_in_password(
        session, username="bob", password=b.PASSWORD, settings=settings
    )
    await session.commit()
    with freeze(now() + dt.timedelta(hours=settings.session_hours, minutes=1)):
        assert await service.resolve_session(session, signed.token, settings=settings) is None


async def test_wrong_password_and_lockout(session, settings) -> None:
    await b.citizen(session, username="carol")
    await session.commit()
    for _ in range(settings.login_max_failures):
        with pytest.raises(AppError) as e:
            await service.sign_in_password(
                session, username="carol", password="wrong", settings=settings
            )
        assert e.value.code == "invalid_credentials" and e.value.message == "用户名或密码错误"
        await session.commit()
    # Locked now: even the right password is refused, with the time to wait.
    with pytest.raises(AppError) as e:
        await service.sign_in_password(
            session, username="carol", password=b.PASSWORD, settings=settings
        )
    assert e.value.code == "account_locked" and "分钟" in e.value.message
    await session.rollback()
    later = now() + dt.timedelta(minutes=settings.login_lock_minutes + 1)
    with freeze(later):
        signed = await service.sign_in_password(
            session, username="carol", password=b.PASSWORD, settings=settings
        )
        assert signed.account.failed_logins == 0
    attempts = (
        (await session.execute(select(LoginAttempt.ok).where(LoginAttempt.username == "carol")))
        .scalars()
        .all()
    )
    assert attempts.count(False) == settings.login_max_failures


async def test_unknown_user_same_message(session, settings) -> None:
    with pytest.raises(AppError) as e:
        await service.sign_in_password(session, username="nobody", password="x", settings=settings)
    assert e.value.code == "invalid_credentials"


async def test_sms_sign_in(session, settings) -> None:
    p, acc = await b.citizen(session, username="dave")
    await session.commit()
    phone, acc_id = p.phone, acc.id
    LogSmsChannel.sent.clear()
    await service.send_sms_code(session, phone=p.phone, secret="k", settings=settings)
    await session.commit()
    sent_to, text = LogSmsChannel.sent[-1]
    code = text.split("验证码为 ")[1][:6]
    assert sent_to == phone
    with pytest.raises(AppError) as e:  # a second code within a minute is refused
        await service.send_sms_code(session, phone=phone, secret="k", settings=settings)
    assert e.value.code == "sms_too_frequent"
    await session.rollback()
    with pytest.raises(AppError):
        await service.sign_in_sms(
            session,
            phone=phone,
            code="000000" if code != "000000" else "111111",
            secret="k",
            settings=settings,
        )
    await session.commit()
    signed = await service.sign_in_sms(
        session, phone=phone, code=code, secret="k", settings=settings
    )
    assert signed.account.id == acc_id
    await session.commit()
    with pytest.raises(AppError):  # single use
        await service.sign_in_sms(session, phone=phone, code=code, secret="k", settings=settings)


async def test_sms_code_expires(session, settings) -> None:
    p, _ = await b.citizen(session, username="erin")
    await session.commit()
    await service.send_sms_code(session, phone=p.phone, secret="k", settings=settings)
    await session.commit()
    code = LogSmsChannel.sent[-1][1].split("验证码为 ")[1][:6]
    with (
        freeze(now() + dt.timedelta(minutes=settings.sms_code_minutes + 1)),
        pytest.raises(AppError),
    ):
        await service.sign_in_sms(session, phone=p.phone, code=code, secret="k", settings=settings)


async def test_api_token_scopes_and_revocation(session) -> None:
    from tongban.identity.models import ApiClient, ApiToken

    client = ApiClient(name="市场监管业务系统", region_code=b.JINAN)
    session.add(client)
    await session.flush()
    with pytest.raises(ValidationFailed):
        await service.create_api_token(session, client=client, scopes=["everything"])
    token = await service.create_api_token(session, client=client, scopes=["persons:read"])
    await session.commit()
    actor = await service.resolve_bearer(session, token)
    assert actor is not None and actor.scopes == frozenset({"persons:read"}) and actor.kind == "api"
    assert await service.resolve_bearer(session, token + "x") is None
    tok = (await session.execute(select(ApiToken))).scalar_one()
    tok.revoked_at = now()
    await session.commit()
    assert await service.resolve_bearer(session, token) is None


async def test_staff_needs_department_and_known_roles(session) -> None:
    with pytest.raises(ValidationFailed):
        await service.create_account(
            session,
            kind="staff",
            username="xx1",
            password=None,
            display_name="x",
            region_code=b.LIXIA,
            roles=["clerk"],
        )
    d = await b.department(session)
    with pytest.raises(ValidationFailed):
        await service.create_account(
            session,
            kind="staff",
            username="xx2",
            password=None,
            display_name="x",
            region_code=b.LIXIA,
            department_id=d.id,
            roles=["king"],
        )
    with pytest.raises(ValidationFailed, match="密码"):
        await service.create_account(
            session,
            kind="staff",
            username="xx3",
            password="short",
            display_name="x",
            region_code=b.LIXIA,
            department_id=d.id,
            roles=["clerk"],
        )
    acc = await b.staff(session, roles=["clerk"], dept=d)
    assert (
        await session.execute(select(Account.kind).where(Account.id == acc.id))
    ).scalar() == "staff"


async def test_lockout_over_http(client, session, settings) -> None:
    """Failed sign-ins are counted even though each request fails (the error keeps its transaction)."""
    await b.citizen(session, username="mallory")
    await session.commit()
    for _ in range(settings.login_max_failures):
        r = client.post(
            "/api/v1/auth/login", json={"username": "mallory", "password": "guess-guess"}
        )
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "mallory", "password": b.PASSWORD})
    assert r.status_code == 423 and r.json()["code"] == "account_locked"
    acc = (await session.execute(select(Account).where(Account.username == "mallory"))).scalar_one()
    await session.refresh(acc)
    assert acc.locked_until is not None


async def test_sms_attempts_limited_over_http(client, session) -> None:
    p, _ = await b.citizen(session, username="trudy")
    await session.commit()
    phone = p.phone
    assert client.post("/api/v1/auth/sms/send", json={"phone": phone}).status_code == 200
    code = LogSmsChannel.sent[-1][1].split("验证码为 ")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/sms/login", json={"phone": phone, "code": wrong}).status_code
            == 401
        )
    # After five wrong tries even the right code no longer works.
    assert (
        client.post("/api/v1/auth/sms/login", json={"phone": phone, "code": code}).status_code
        == 401
    )
