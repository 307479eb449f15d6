"""Identity rules: registration, sign-in, sessions, SMS codes, API tokens.

Services flush, never commit: the request or job that calls them owns the
transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tongban.core import audit
from tongban.core.clock import now
from tongban.core.errors import AppError, Conflict, NotFound, RateLimited, ValidationFailed
from tongban.core.identifiers import mask_phone, validate_credit_code, validate_resident_id
from tongban.core.settings import Settings, get_settings
from tongban.identity.access import Actor
from tongban.identity.models import (
    ROLES,
    Account,
    AccountRole,
    ApiClient,
    ApiToken,
    Enterprise,
    EnterpriseAgent,
    LoginAttempt,
    Person,
    SmsCode,
    WebSession,
)
from tongban.identity.repository import PersonRow, RawConnection, RawStatement

log = logging.getLogger("tongban.identity")

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~15 ms here, run off
# the event loop.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("tongban-dummy-password")

TOKEN_PREFIX = "tb_"  # noqa: S105 - a public prefix that marks tongban tokens, not a secret
SESSION_TOUCH_SECONDS = 300  # refresh last_seen at most every five minutes


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# Each argon2 computation holds 19 MiB; with anyio's 40 threads a burst of
# sign-ins grew the server to ~870 MB (bench signin). Two at a time gave the
# same throughput on two cores and caps the memory.
_HASH_LIMITER: anyio.CapacityLimiter | None = None


def _limiter() -> anyio.CapacityLimiter:
    global _HASH_LIMITER
    if _HASH_LIMITER is None:
        _HASH_LIMITER = anyio.CapacityLimiter(2)
    return _HASH_LIMITER


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password, limiter=_limiter())


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def _verify_password(stored: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check, limiter=_limiter())


def check_password_strength(password: str) -> None:
    if len(password) < 8:
        raise ValidationFailed("密码至少需要 8 位", code="weak_password")
    kinds = sum(
        bool(f(password))
        for f in (
            lambda p: any(c.isdigit() for c in p),
            lambda p: any(c.isalpha() for c in p),
            lambda p: any(not c.isalnum() for c in p),
        )
    )
    if kinds < 2:
        raise ValidationFailed("密码需同时包含字母、数字或符号中的两类", code="weak_password")


# --- registration --------------------------------------------------------------


async def create_person(
    session: AsyncSession,
    *,
    id_number: str,
    name: str,
    phone: str | None,
    region_code: str,
    real_name_level: int = 1,
    is_demo: bool = False,
) -> Person:
    rid = validate_resident_id(id_number)
    name = name.strip()
    if not 2 <= len(name) <= 50:
        raise ValidationFailed("姓名长度应为 2 至 50 个字", code="invalid_name")
    if phone is not None:
        phone = normalise_phone(phone)
    existing = (
        await session.execute(select(Person.id).where(Person.id_number == rid.number))
    ).scalar()
    if existing:
        raise Conflict("该公民身份号码已登记", code="person_exists")
    person = Person(
        id_number=rid.number,
        name=name,
        phone=phone,
        region_code=region_code,
        real_name_level=real_name_level,
        is_demo=is_demo,
    )
    session.add(person)
    await session.flush()
    return person


def normalise_phone(phone: str) -> str:
    p = phone.strip().replace(" ", "").replace("-", "")
    if p.startswith("+86"):
        p = p[3:]
    if not (len(p) == 11 and p.isascii() and p.isdigit() and p[0] == "1" and p[1] in "3456789"):
        raise ValidationFailed("手机号码格式不正确", code="invalid_phone")
    return p


async def create_enterprise(
    session: AsyncSession,
    *,
    credit_code: str,
    name: str,
    legal_rep: Person,
    region_code: str,
    is_demo: bool = False,
) -> Enterprise:
    cc = validate_credit_code(credit_code)
    if (
        await session.execute(select(Enterprise.id).where(Enterprise.credit_code == cc.code))
    ).scalar():
        raise Conflict("该统一社会信用代码已登记", code="enterprise_exists")
    ent = Enterprise(
        credit_code=cc.code,
        name=name.strip(),
        legal_rep_id=legal_rep.id,
        region_code=region_code,
        is_demo=is_demo,
    )
    session.add(ent)
    await session.flush()
    return ent


async def authorise_agent(
    session: AsyncSession,
    actor: Actor,
    *,
    enterprise_id: int,
    agent: Person,
    valid_until: dt.datetime,
) -> EnterpriseAgent:
    """The legal representative authorises a person as 经办人 until ``valid_until``."""
    ent = (
        await session.execute(select(Enterprise).where(Enterprise.id == enterprise_id))
    ).scalar_one_or_none()
    if ent is None or actor.person_id != ent.legal_rep_id:
        raise NotFound("未找到该企业，或您不是其法定代表人")
    if valid_until <= now():
        raise ValidationFailed("授权截止时间必须晚于当前时间", code="invalid_expiry")
    if valid_until > now() + dt.timedelta(days=366 * 3):
        raise ValidationFailed("授权期限最长三年", code="invalid_expiry")
    row = EnterpriseAgent(
        enterprise_id=ent.id,
        person_id=agent.id,
        authorised_by_id=actor.person_id,
        valid_until=valid_until,
        region_code=ent.region_code,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor=actor.ref,
        action="agent.authorised",
        target_type="enterprise",
        target_id=ent.id,
        region_code=ent.region_code,
        details={"agent_person_id": agent.id, "valid_until": valid_until.isoformat()},
    )
    return row


async def revoke_agent(session: AsyncSession, actor: Actor, agent_id: int) -> EnterpriseAgent:
    row = (
        await session.execute(select(EnterpriseAgent).where(EnterpriseAgent.id == agent_id))
    ).scalar_one_or_none()
    if row is None or row.authorised_by_id != actor.person_id:
        raise NotFound()
    if row.revoked_at is None:
        row.revoked_at = now()
        await session.flush()
        await audit.record(
            session,
            actor=actor.ref,
            action="agent.revoked",
            target_type="enterprise",
            target_id=row.enterprise_id,
            region_code=row.region_code,
            details={"agent_id": row.id},
        )
    return row


async def create_account(
    session: AsyncSession,
    *,
    kind: str,
    username: str,
    password: str | None,
    display_name: str,
    region_code: str,
    person: Person | None = None,
    department_id: int | None = None,
    roles: Iterable[str] = (),
    phone: str | None = None,
    password_hash: str | None = None,
    check_strength: bool = True,
) -> Account:
    if kind not in ("person", "staff"):
        raise ValidationFailed("账户类型无效", code="invalid_account_kind")
    roles = list(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed(f"未知角色：{'、'.join(unknown)}", code="invalid_role")
    if kind == "staff" and department_id is None and not {"platform_admin", "leader"} & set(roles):
        raise ValidationFailed("工作人员必须归属一个部门", code="department_required")
    username = username.strip()
    if not 3 <= len(username) <= 64:
        raise ValidationFailed("用户名长度应为 3 至 64 个字符", code="invalid_username")
    if (await session.execute(select(Account.id).where(Account.username == username))).scalar():
        raise Conflict("该用户名已被使用", code="username_taken")
    if password is not None:
        if check_strength:
            check_password_strength(password)
        password_hash = await hash_password(password)
    acc = Account(
        kind=kind,
        username=username,
        password_hash=password_hash,
        display_name=display_name,
        region_code=region_code,
        person_id=person.id if person else None,
        department_id=department_id,
        phone=normalise_phone(phone) if phone else None,
        preferences={},
    )
    session.add(acc)
    await session.flush()
    for r in roles:
        session.add(AccountRole(account_id=acc.id, role=r))
    await session.flush()
    return acc


# --- sign-in -------------------------------------------------------------------


@dataclass
class SignedIn:
    token: str
    csrf_token: str
    account: Account
    expires_at: dt.datetime


async def _start_session(
    session: AsyncSession,
    acc: Account,
    *,
    method: str,
    ip: str,
    user_agent: str,
    settings: Settings,
) -> SignedIn:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    t = now()
    expires = t + dt.timedelta(hours=settings.session_hours)
    session.add(
        WebSession(
            token_hash=sha256(token),
            account_id=acc.id,
            csrf_token=csrf,
            method=method,
            expires_at=expires,
            ip=ip[:45],
            user_agent=user_agent[:200],
            region_code=acc.region_code,
            created_at=t,
            last_seen_at=t,
        )
    )
    acc.failed_logins = 0
    acc.locked_until = None
    acc.last_login_at = t
    await session.flush()
    return SignedIn(token=token, csrf_token=csrf, account=acc, expires_at=expires)


class LoginFailed(AppError):
    code = "invalid_credentials"
    message = "用户名或密码错误"
    status = 401
    persist = True  # the failure counts towards lockout


async def sign_in_password(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
    settings: Settings | None = None,
) -> SignedIn:
    """Check a password; lock the account after repeated failures."""
    settings = settings or get_settings()
    username = username.strip()
    acc = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    t = now()
    if acc is not None and acc.locked_until is not None and acc.locked_until > t:
        minutes = max(1, int((acc.locked_until - t).total_seconds() // 60) + 1)
        session.add(
            LoginAttempt(
                username=username[:64],
                account_id=acc.id,
                ok=False,
                reason="locked",
                ip=ip[:45],
                region_code=acc.region_code,
            )
        )
        raise AppError(
            f"连续登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试",
            code="account_locked",
            status=423,
            persist=True,
        )
    ok = await _verify_password(acc.password_hash if acc else None, password)
    if acc is None or not ok or not acc.is_active:
        region = acc.region_code if acc else "000000000000"
        session.add(
            LoginAttempt(
                username=username[:64],
                account_id=acc.id if acc else None,
                ok=False,
                reason="inactive" if acc is not None and ok else "bad_password",
                ip=ip[:45],
                region_code=region,
            )
        )
        if acc is not None and not ok:
            acc.failed_logins += 1
            if acc.failed_logins >= settings.login_max_failures:
                acc.locked_until = t + dt.timedelta(minutes=settings.login_lock_minutes)
                await audit.record(
                    session,
                    actor="system",
                    action="account.locked",
                    target_type="account",
                    target_id=acc.id,
                    region_code=acc.region_code,
                    details={"failures": acc.failed_logins},
                )
        await session.flush()
        raise LoginFailed()
    if _hasher.check_needs_rehash(acc.password_hash or ""):
        acc.password_hash = await hash_password(password)
    session.add(
        LoginAttempt(
            username=username[:64],
            account_id=acc.id,
            ok=True,
            ip=ip[:45],
            region_code=acc.region_code,
        )
    )
    return await _start_session(
        session, acc, method="password", ip=ip, user_agent=user_agent, settings=settings
    )


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(WebSession)
        .where(WebSession.token_hash == sha256(token), WebSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )


# Built once: the hot path of every signed-in request (no per-request
# statement construction, plain rows instead of ORM objects).
_SESSION_BY_HASH = (
    select(
        WebSession.id,
        WebSession.csrf_token,
        WebSession.expires_at,
        WebSession.revoked_at,
        WebSession.last_seen_at,
        Account.id,
        Account.kind,
        Account.display_name,
        Account.region_code,
        Account.person_id,
        Account.department_id,
        Account.is_active,
        Account.preferences,
    )
    .join(Account, Account.id == WebSession.account_id)
    .where(WebSession.token_hash == bindparam("token_hash"))
)
_ROLES_OF = select(AccountRole.role).where(AccountRole.account_id == bindparam("account_id"))


async def resolve_session(
    session: AsyncSession, token: str, *, settings: Settings | None = None
) -> Actor | None:
    """The actor behind a session cookie, or None when unknown, expired or revoked."""
    return await resolve_session_on(await session.connection(), token, settings=settings)


async def resolve_session_on(
    conn: AsyncConnection, token: str, *, settings: Settings | None = None
) -> Actor | None:
    """``resolve_session`` on a plain connection (hot read paths skip the ORM session)."""
    if not token or len(token) > 100:
        return None
    row = (await conn.execute(_SESSION_BY_HASH, {"token_hash": sha256(token)})).one_or_none()
    if row is None:
        return None
    (
        sid,
        csrf,
        expires_at,
        revoked_at,
        last_seen,
        acc_id,
        kind,
        name,
        region,
        person_id,
        dept_id,
        active,
        prefs,
    ) = row
    t = now()
    if revoked_at is not None or expires_at <= t or not active:
        return None
    if (t - last_seen).total_seconds() > SESSION_TOUCH_SECONDS:
        settings = settings or get_settings()
        await conn.execute(
            update(WebSession)
            .where(WebSession.id == sid)
            .values(last_seen_at=t, expires_at=t + dt.timedelta(hours=settings.session_hours))
        )
    roles: frozenset[str] = frozenset()
    if kind == "staff":
        roles = frozenset((await conn.execute(_ROLES_OF, {"account_id": acc_id})).scalars())
    return Actor(
        kind=kind,
        account_id=acc_id,
        display_name=name,
        region_code=region,
        via="session",
        person_id=person_id,
        department_id=dept_id,
        roles=roles,
        csrf_token=csrf,
        preferences=dict(prefs or {}),
    )


# The same resolution on a driver connection (``repository.RawConnection``),
# for the hot routes: one statement reads the session, its account, the
# account's person (the route's first record) and a staff account's roles (one
# row per role, the rest repeated: one round trip, where a second statement
# for the roles cost PostgreSQL a round trip per request), then the same rules
# as ``resolve_session_on`` apply.
_SESSION_COLUMNS = """
    s.id, s.csrf_token, s.expires_at, s.revoked_at, s.last_seen_at,
    a.id, a.kind, a.display_name, a.region_code, a.person_id, a.department_id, a.is_active,
    a.preferences,
    p.id, p.name, p.id_number, p.phone, p.region_code, p.real_name_level, p.is_demo,
    r.role
"""
_SESSION_JOINS = """
    FROM web_session s
    JOIN account a ON a.id = s.account_id
    LEFT JOIN person p ON p.id = a.person_id
    LEFT JOIN account_role r ON r.account_id = a.id AND a.kind = 'staff'
"""
SESSION_WIDTH = 21  # the session's columns, before a caller's own (``session_statement``)


def session_statement(columns: str = "", joins: str = "") -> RawStatement:
    """The session statement, with a caller's ``columns`` after the session's
    own (``SESSION_WIDTH`` of them) and its ``joins`` (which may name ``s``,
    ``a`` and ``p``, and parameters from ``$2``): a hot route reads what it
    needs of the actor's account in the session's round trip
    (``resolve_session_with``)."""
    extra = f", {columns}" if columns.strip() else ""
    return RawStatement(
        f"SELECT {_SESSION_COLUMNS}{extra} {_SESSION_JOINS} {joins} WHERE s.token_hash = $1"
    )


_SESSION_RAW = session_statement()
_TOUCH_RAW = RawStatement("UPDATE web_session SET last_seen_at = $1, expires_at = $2 WHERE id = $3")


async def resolve_session_raw(
    conn: RawConnection,
    token: str,
    *,
    settings: Settings | None = None,
) -> tuple[Actor, PersonRow | None] | None:
    """``resolve_session_on`` on a driver connection: the actor and, for a
    person account, its person row; None when unknown, expired or revoked.
    Refreshes ``last_seen_at``/``expires_at`` at most every
    ``SESSION_TOUCH_SECONDS``, as ``resolve_session_on`` does."""
    found = await resolve_session_with(conn, token, _SESSION_RAW, settings=settings)
    return None if found is None else (found[0], found[1])


async def resolve_session_with(
    conn: RawConnection,
    token: str,
    stmt: RawStatement,
    *args: Any,
    settings: Settings | None = None,
) -> tuple[Actor, PersonRow | None, tuple[Any, ...]] | None:
    """``resolve_session_raw`` with a statement of ``session_statement`` (its
    parameters from ``$2``: ``args``): also the caller's own columns, of the
    first row (a staff account has one row per role)."""
    if not token or len(token) > 100:
        return None
    rows = await conn.fetch(stmt, sha256(token), *args)
    if not rows:
        return None
    first = tuple(rows[0])
    (
        sid,
        csrf,
        expires_at,
        revoked_at,
        last_seen,
        acc_id,
        kind,
        name,
        region,
        person_id,
        dept_id,
        active,
        prefs,
        *person,
        _role,
    ) = first[:SESSION_WIDTH]
    t = now()
    if revoked_at is not None or conn.datetime(expires_at) <= t or not active:
        return None
    if (t - conn.datetime(last_seen)).total_seconds() > SESSION_TOUCH_SECONDS:
        settings = settings or get_settings()
        await conn.execute(_TOUCH_RAW, t, t + dt.timedelta(hours=settings.session_hours), sid)
    roles = frozenset(  # a staff account's only
        r[SESSION_WIDTH - 1] for r in rows if r[SESSION_WIDTH - 1] is not None
    )
    actor = Actor(
        kind=kind,
        account_id=acc_id,
        display_name=name,
        region_code=region,
        via="session",
        person_id=person_id,
        department_id=dept_id,
        roles=roles,
        csrf_token=csrf,
        preferences=dict(conn.json(prefs) or {}),
    )
    row = None
    if kind == "person" and person[0] is not None:
        row = PersonRow(
            person[0], person[1], person[2], person[3], person[4], person[5], bool(person[6])
        )
    return actor, row, first[SESSION_WIDTH:]


async def actor_for_account(
    session: AsyncSession, acc: Account, *, via: str, csrf_token: str = ""
) -> Actor:
    roles: frozenset[str] = frozenset()
    if acc.kind == "staff":
        roles = frozenset(
            (
                await session.execute(
                    select(AccountRole.role).where(AccountRole.account_id == acc.id)
                )
            ).scalars()
        )
    return Actor(
        kind=acc.kind,
        account_id=acc.id,
        display_name=acc.display_name,
        region_code=acc.region_code,
        via=via,
        person_id=acc.person_id,
        department_id=acc.department_id,
        roles=roles,
        csrf_token=csrf_token,
        preferences=dict(acc.preferences or {}),
    )


# --- SMS one-time codes --------------------------------------------------------------


class SmsChannel(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class LogSmsChannel:
    """Development channel: the message goes to the server log (phone masked)."""

    sent: ClassVar[list[tuple[str, str]]] = []  # the last messages, for development and tests

    async def send(self, phone: str, text: str) -> None:
        LogSmsChannel.sent.append((phone, text))
        del LogSmsChannel.sent[:-100]
        log.warning("SMS (development channel) to %s: %s", mask_phone(phone), text)


_channels: dict[str, SmsChannel] = {"log": LogSmsChannel()}


def register_sms_channel(name: str, channel: SmsChannel) -> None:
    """Plug in a real gateway (configured with ``TONGBAN_SMS_CHANNEL=name``)."""
    _channels[name] = channel


def _code_hash(phone: str, code: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def send_sms_code(
    session: AsyncSession,
    *,
    phone: str,
    secret: str,
    purpose: str = "login",
    settings: Settings | None = None,
) -> None:
    settings = settings or get_settings()
    phone = normalise_phone(phone)
    t = now()
    recent = (
        await session.execute(
            select(SmsCode.created_at)
            .where(SmsCode.phone == phone)
            .order_by(SmsCode.created_at.desc())
            .limit(1)
        )
    ).scalar()
    if recent is not None and (t - recent).total_seconds() < 60:
        raise RateLimited("验证码发送过于频繁，请 60 秒后再试", code="sms_too_frequent")
    acc = (
        (
            await session.execute(
                select(Account).where(Account.phone == phone, Account.is_active.is_(True))
            )
        )
        .scalars()
        .first()
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        SmsCode(
            phone=phone,
            purpose=purpose,
            code_hash=_code_hash(phone, code, secret),
            created_at=t,
            expires_at=t + dt.timedelta(minutes=settings.sms_code_minutes),
            region_code=acc.region_code if acc else "000000000000",
        )
    )
    await session.flush()
    if acc is None:
        return  # answer the same way whether or not the phone is registered
    channel = _channels.get(settings.sms_channel)
    if channel is not None:
        await channel.send(
            phone,
            f"【通办】您的登录验证码为 {code}，{settings.sms_code_minutes} 分钟内有效，请勿告诉他人。",
        )


async def sign_in_sms(
    session: AsyncSession,
    *,
    phone: str,
    code: str,
    secret: str,
    ip: str = "",
    user_agent: str = "",
    settings: Settings | None = None,
) -> SignedIn:
    settings = settings or get_settings()
    phone = normalise_phone(phone)
    t = now()
    row = (
        await session.execute(
            select(SmsCode)
            .where(SmsCode.phone == phone, SmsCode.consumed_at.is_(None))
            .order_by(SmsCode.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    bad = AppError("验证码错误或已过期", code="invalid_sms_code", status=401, persist=True)
    if row is None or row.expires_at <= t or row.attempts >= 5:
        raise bad
    if not hmac.compare_digest(row.code_hash, _code_hash(phone, code.strip(), secret)):
        row.attempts += 1
        await session.flush()
        raise bad
    row.consumed_at = t
    acc = (
        (
            await session.execute(
                select(Account).where(Account.phone == phone, Account.is_active.is_(True))
            )
        )
        .scalars()
        .first()
    )
    if acc is None:
        raise bad
    session.add(
        LoginAttempt(
            username=acc.username,
            account_id=acc.id,
            ok=True,
            reason="sms",
            ip=ip[:45],
            region_code=acc.region_code,
        )
    )
    return await _start_session(
        session, acc, method="sms", ip=ip, user_agent=user_agent, settings=settings
    )


# --- API tokens ----------------------------------------------------------------

API_SCOPES = {
    "persons:read": "读取自然人信息",
    "enterprises:read": "读取法人信息",
    "regions:read": "读取行政区划与部门",
}


async def create_api_token(
    session: AsyncSession,
    *,
    client: ApiClient,
    scopes: Iterable[str],
    expires_at: dt.datetime | None = None,
) -> str:
    """Issue a token for a departmental system; the plain value is shown once."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown:
        raise ValidationFailed(f"未知权限范围：{'、'.join(unknown)}", code="invalid_scope")
    secret = secrets.token_urlsafe(32)
    plain = f"{TOKEN_PREFIX}{secret}"
    session.add(
        ApiToken(
            client_id=client.id,
            token_hash=sha256(plain),
            prefix=plain[:10],
            scopes=scopes,
            expires_at=expires_at,
            region_code=client.region_code,
        )
    )
    await session.flush()
    return plain


async def resolve_bearer(session: AsyncSession, token: str) -> Actor | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = (
        await session.execute(
            select(ApiToken, ApiClient)
            .join(ApiClient, ApiClient.id == ApiToken.client_id)
            .where(ApiToken.token_hash == sha256(token))
        )
    ).one_or_none()
    if row is None:
        return None
    tok, client = row
    t = now()
    if (
        tok.revoked_at is not None
        or (tok.expires_at is not None and tok.expires_at <= t)
        or not client.is_active
    ):
        return None
    if tok.last_used_at is None or (t - tok.last_used_at).total_seconds() > SESSION_TOUCH_SECONDS:
        tok.last_used_at = t
    return Actor(
        kind="api",
        account_id=None,
        display_name=client.name,
        region_code=client.region_code,
        via="token",
        department_id=client.department_id,
        scopes=frozenset(tok.scopes or ()),
        api_client_id=client.id,
    )


# --- preferences -------------------------------------------------------------------

PREFERENCES = {"elderly": (True, False), "script": ("hans", "hant")}


async def set_preference(
    session: AsyncSession, actor: Actor, key: str, value: Any
) -> dict[str, Any]:
    if key not in PREFERENCES or value not in PREFERENCES[key]:
        raise ValidationFailed("不支持的显示设置", code="invalid_preference")
    acc = (
        await session.execute(select(Account).where(Account.id == actor.account_id))
    ).scalar_one_or_none()
    if acc is None:
        raise NotFound()
    prefs = dict(acc.preferences or {})
    prefs[key] = value
    acc.preferences = prefs
    await session.flush()
    return prefs
