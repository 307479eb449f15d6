"""我的证照 (the holder's wallet) and 用证授权 (authorised use): the rules.

A holder is a person account. Their wallet holds the licences of their person
and of the enterprises they represent (法定代表人) or act for as a current
agent (经办人) — ``access.scope_licences``, the one rule. Licences imported
before the holder registered are linked to them on first sight
(``claim_imported``: same 公民身份号码 / 统一社会信用代码).

Authorised use: the holder shares one licence with a third party (a name, a
purpose, a period; a link whose token is stored only as its SHA-256) or with a
case (免证办, ``reuse``). Every use through a share — viewed, verified,
downloaded, attached to a case, opened by the case's staff — is one
``LicenceUse`` row the holder reads on the licence's page (使用记录). Shares
are revocable; a revoked or lapsed link shows nothing.

Services flush, never commit (the request or job commits).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import audit
from tongban.core.clock import local, now
from tongban.core.errors import AppError, NotFound, ValidationFailed
from tongban.identity.access import Actor, scope_enterprises
from tongban.identity.models import Enterprise, Person
from tongban.licences import access, config
from tongban.licences.models import Licence
from tongban.licences.wallet_models import LicenceShare, LicenceUse

EXPIRING_DAYS = 90  # "即将到期" in the wallet: within this many days
SHARE_MAX_DAYS = 365
SHARE_DEFAULT_DAYS = 7
PAGE_SIZE = 20
STATUS_FILTERS = {
    "valid": "有效",
    "expiring": "即将到期",
    "expired": "已过期",
    "ended": "已吊销或注销",
}


class ShareUnavailable(AppError):
    code = "licence_share_unavailable"
    message = "该用证授权已撤销、已过期或不存在，请联系持证人重新授权"
    status = 404


def today() -> dt.date:
    """Today in the deployment's zone (validity dates are local dates)."""
    return local(now(), config.settings().timezone).date()


def days_left(lic: Licence, on: dt.date) -> int | None:
    """Days until the licence's validity ends (negative once past); None for 长期有效."""
    if lic.valid_until is None:
        return None
    return (lic.valid_until - on).days


def expiry_text(lic: Licence, on: dt.date) -> str:
    """到期倒计时 in plain words."""
    if lic.status == "revoked":
        return "已吊销"
    if lic.status == "annulled":
        return "已注销"
    left = days_left(lic, on)
    if left is None:
        return "长期有效"
    if left < 0:
        return f"已过期 {-left} 天"
    if left == 0:
        return "今天到期"
    return f"还有 {left} 天到期"


def expiry_level(lic: Licence, on: dt.date) -> str:
    """ok / soon / over / ended: how urgent the countdown is (the page's colour)."""
    if lic.status != "valid":
        return "ended"
    left = days_left(lic, on)
    if left is None or left > EXPIRING_DAYS:
        return "ok"
    return "over" if left < 0 else "soon"


def _holder_only(actor: Actor | None) -> Actor:
    if actor is None or actor.kind != "person" or actor.person_id is None:
        raise NotFound("“我的证照”供个人用户登录后使用", code="wallet_for_persons")
    return actor


# --- the wallet ---------------------------------------------------------------------------------


async def claim_imported(session: AsyncSession, actor: Actor) -> int:
    """Link licences imported (证照汇聚) before the holder registered: same holder code, no holder yet.

    One indexed probe when there is nothing to link (the usual case); the
    update only when there is.
    """
    _holder_only(actor)
    person = await session.get(Person, actor.person_id)
    if person is None:
        return 0
    ents = list(
        (
            await session.execute(
                scope_enterprises(actor, select(Enterprise.id, Enterprise.credit_code))
            )
        ).all()
    )
    mine = (
        Licence.holder_code == person.id_number,
        Licence.holder_code_type == "111",
        Licence.holder_person_id.is_(None),
    )
    theirs = {
        ent_id: (
            Licence.holder_code == code,
            Licence.holder_code_type == "001",
            Licence.holder_enterprise_id.is_(None),
        )
        for ent_id, code in ents
    }
    probe = or_(and_(*mine), *(and_(*c) for c in theirs.values()))
    if not (await session.execute(select(exists().where(probe)))).scalar():
        return 0
    n = (
        await session.execute(update(Licence).where(*mine).values(holder_person_id=person.id))
    ).rowcount or 0
    for ent_id, cond in theirs.items():
        n += (
            await session.execute(update(Licence).where(*cond).values(holder_enterprise_id=ent_id))
        ).rowcount or 0
    if n:
        await audit.record(
            session,
            actor=actor.ref,
            action="licence.claim",
            target_type="person",
            target_id=person.id,
            region_code=person.region_code,
            details={"licences": n},
        )
    return n


@dataclass(frozen=True)
class WalletFilter:
    """The wallet's filters: status (``STATUS_FILTERS``), holder (``me`` or
    ``ent:<id>``), 证照类型代码, words in the name or number; keyset page."""

    status: str = ""
    holder: str = ""
    type_code: str = ""
    q: str = ""
    before: int | None = None
    limit: int = PAGE_SIZE


def _status_clause(status: str, on: dt.date) -> Any:
    if status == "valid":
        return and_(
            Licence.status == "valid", or_(Licence.valid_until.is_(None), Licence.valid_until >= on)
        )
    if status == "expiring":
        return and_(
            Licence.status == "valid",
            Licence.valid_until >= on,
            Licence.valid_until <= on + dt.timedelta(days=EXPIRING_DAYS),
        )
    if status == "expired":
        return and_(Licence.status == "valid", Licence.valid_until < on)
    if status == "ended":
        return Licence.status.in_(("revoked", "annulled"))
    raise ValidationFailed("证照状态筛选无效", code="invalid_filter")


def _holder_clause(holder: str, actor: Actor) -> Any:
    if holder == "me":
        return Licence.holder_person_id == actor.person_id
    if holder.startswith("ent:") and holder[4:].isdecimal():
        return Licence.holder_enterprise_id == int(holder[4:])
    raise ValidationFailed("持证主体筛选无效", code="invalid_filter")


def _filtered(actor: Actor, stmt: Any, f: WalletFilter, on: dt.date) -> Any:
    stmt = access.scope_licences(actor, stmt)
    if f.status:
        stmt = stmt.where(_status_clause(f.status, on))
    if f.holder:
        stmt = stmt.where(_holder_clause(f.holder, actor))
    if f.type_code:
        stmt = stmt.where(Licence.type_code == f.type_code.strip().upper())
    q = f.q.strip()
    if q:
        stmt = stmt.where(
            or_(
                Licence.name.contains(q, autoescape=True),
                Licence.number.contains(q, autoescape=True),
                Licence.type_name.contains(q, autoescape=True),
            )
        )
    return stmt


async def get_wallet(
    session: AsyncSession, actor: Actor, f: WalletFilter
) -> tuple[list[Licence], int | None]:
    """One page of the holder's licences, newest first: (licences, ``before`` of the next page)."""
    _holder_only(actor)
    if not 1 <= f.limit <= 100:
        raise ValidationFailed("每页条数应为 1–100", code="invalid_limit")
    stmt = (
        _filtered(actor, select(Licence), f, today()).order_by(Licence.id.desc()).limit(f.limit + 1)
    )
    if f.before is not None:
        stmt = stmt.where(Licence.id < f.before)
    rows = list((await session.execute(stmt)).scalars())
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return rows, (rows[-1].id if more and rows else None)


async def wallet_counts(session: AsyncSession, actor: Actor) -> dict[str, int]:
    """How many licences per status filter (and in all), for the tabs."""
    _holder_only(actor)
    on = today()
    out = {"all": 0}
    cols = [func.count()] + [func.sum(_case_int(_status_clause(s, on))) for s in STATUS_FILTERS]
    row = (
        await session.execute(access.scope_licences(actor, select(*cols).select_from(Licence)))
    ).one()
    out["all"] = int(row[0] or 0)
    for s, n in zip(STATUS_FILTERS, row[1:], strict=True):
        out[s] = int(n or 0)
    return out


def _case_int(cond: Any) -> Any:
    from sqlalchemy import case

    return case((cond, 1), else_=0)


async def holder_choices(session: AsyncSession, actor: Actor) -> list[tuple[str, str]]:
    """The holders whose licences the wallet shows: the person, then each enterprise acted for."""
    _holder_only(actor)
    ents = (
        await session.execute(
            scope_enterprises(actor, select(Enterprise.id, Enterprise.name)).order_by(Enterprise.id)
        )
    ).all()
    return [("me", "本人")] + [(f"ent:{i}", name) for i, name in ents]


async def get_holder_licence(session: AsyncSession, actor: Actor, licence_id: int) -> Licence:
    """One licence of the wallet (NotFound for anything else, staff included)."""
    _holder_only(actor)
    return await access.access_licence(session, actor, licence_id)


# --- 用证授权 (shares) ---------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean(text: str, *, field: str, label: str, min_len: int, max_len: int) -> str:
    value = " ".join((text or "").split())
    if any(ord(c) < 0x20 for c in text or "" if c not in "\t\r\n"):
        raise ValidationFailed(
            f"{label}包含不允许的控制字符",
            code="invalid_text",
            details=[{"field": field, "message": "包含控制字符"}],
        )
    if not min_len <= len(value) <= max_len:
        raise ValidationFailed(
            f"请填写{label}（{min_len}–{max_len} 个字）",
            code="invalid_text",
            details=[{"field": field, "message": f"应为 {min_len}–{max_len} 个字"}],
        )
    return value


async def create_share(
    session: AsyncSession,
    actor: Actor,
    licence_id: int,
    *,
    recipient: str,
    purpose: str,
    days: int = SHARE_DEFAULT_DAYS,
    show_full: bool = False,
) -> tuple[LicenceShare, str]:
    """授权第三方使用: a link for ``recipient`` to view and verify the licence, for
    ``purpose``, ``days`` long. Returns the share and the link token (shown once)."""
    lic = await get_holder_licence(session, actor, licence_id)
    recipient = _clean(recipient, field="recipient", label="被授权方名称", min_len=2, max_len=200)
    purpose = _clean(purpose, field="purpose", label="用途", min_len=2, max_len=500)
    if not isinstance(days, int) or not 1 <= days <= SHARE_MAX_DAYS:
        raise ValidationFailed(
            f"授权期限应为 1–{SHARE_MAX_DAYS} 天",
            code="invalid_share_period",
            details=[{"field": "days", "message": f"应为 1–{SHARE_MAX_DAYS} 天"}],
        )
    if lic.status != "valid":
        raise ValidationFailed("已吊销或注销的证照不能授权他人使用", code="licence_not_valid")
    token = secrets.token_urlsafe(24)
    at = now()
    share = LicenceShare(
        licence_id=lic.id,
        region_code=lic.region_code,
        kind="third_party",
        recipient=recipient,
        purpose=purpose,
        show_full=bool(show_full),
        valid_from=at,
        valid_until=at + dt.timedelta(days=days),
        token_hash=token_hash(token),
        token_hint=token[:6],
        granted_by=actor.account_id,
        granted_by_person=actor.person_id,
        status="active",
        created_at=at,
    )
    session.add(share)
    await session.flush()
    await audit.record(
        session,
        actor=actor.ref,
        action="licence.share",
        target_type="licence",
        target_id=lic.id,
        region_code=lic.region_code,
        details={
            "share_id": share.id,
            "recipient": recipient,
            "days": days,
            "show_full": bool(show_full),
        },
    )
    return share, token


async def revoke_share(
    session: AsyncSession, actor: Actor, licence_id: int, share_id: int
) -> LicenceShare:
    """撤销授权: the link (or the case's access) stops working at once."""
    lic = await get_holder_licence(session, actor, licence_id)
    share = (
        await session.execute(
            select(LicenceShare).where(
                LicenceShare.id == share_id, LicenceShare.licence_id == lic.id
            )
        )
    ).scalar_one_or_none()
    if share is None:
        raise NotFound("未找到该授权", code="licence_share_not_found")
    if share.status == "active":
        share.status, share.revoked_at = "revoked", now()
        await session.flush()
        await audit.record(
            session,
            actor=actor.ref,
            action="licence.share_revoke",
            target_type="licence",
            target_id=lic.id,
            region_code=lic.region_code,
            details={"share_id": share.id},
        )
    return share


def share_state(share: LicenceShare, at: dt.datetime | None = None) -> str:
    """active / revoked / lapsed (the period is over)."""
    if share.status != "active":
        return "revoked"
    at = at or now()
    if not share.valid_from <= at < share.valid_until:
        return "lapsed"
    return "active"


SHARE_STATE_TEXT = {"active": "有效", "revoked": "已撤销", "lapsed": "已过期"}


async def get_shares(session: AsyncSession, licence_id: int) -> list[LicenceShare]:
    stmt = (
        select(LicenceShare)
        .where(LicenceShare.licence_id == licence_id)
        .order_by(LicenceShare.id.desc())
        .limit(100)
    )
    return list((await session.execute(stmt)).scalars())


async def get_uses(session: AsyncSession, licence_id: int, *, limit: int = 50) -> list[LicenceUse]:
    stmt = (
        select(LicenceUse)
        .where(LicenceUse.licence_id == licence_id)
        .order_by(LicenceUse.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


def record_use(
    session: AsyncSession,
    lic: Licence,
    kind: str,
    *,
    share: LicenceShare | None = None,
    case_id: int | None = None,
    party: str = "",
    actor_ref: str = "anonymous",
    ip: str = "",
    result: str = "",
) -> LicenceUse:
    """Log one use (使用记录), in the caller's transaction."""
    at = now()
    use = LicenceUse(
        licence_id=lic.id,
        region_code=lic.region_code,
        share_id=share.id if share else None,
        case_id=case_id,
        kind=kind,
        party=(party or (share.recipient if share else ""))[:200],
        actor_ref=actor_ref[:40],
        ip=ip[:45],
        result=result,
        at=at,
    )
    session.add(use)
    if share is not None:
        share.use_count = (share.use_count or 0) + 1
        share.last_used_at = at
    return use


async def open_share(session: AsyncSession, token: str) -> tuple[LicenceShare, Licence]:
    """The share a link's token names, if it is active now, and its licence (ShareUnavailable otherwise)."""
    token = (token or "").strip()
    if not 16 <= len(token) <= 64:
        raise ShareUnavailable()
    share = (
        await session.execute(
            select(LicenceShare).where(LicenceShare.token_hash == token_hash(token))
        )
    ).scalar_one_or_none()
    if share is None or share.kind != "third_party" or share_state(share) != "active":
        raise ShareUnavailable()
    lic = await session.get(Licence, share.licence_id)
    if lic is None:  # pragma: no cover - licences are never deleted
        raise ShareUnavailable()
    return share, lic


def share_dict(share: LicenceShare, *, at: dt.datetime | None = None) -> dict[str, Any]:
    from tongban.licences.wallet_models import SHARE_KINDS

    state = share_state(share, at)
    return {
        "id": share.id,
        "licence_id": share.licence_id,
        "kind": share.kind,
        "kind_text": SHARE_KINDS.get(share.kind, share.kind),
        "case_id": share.case_id,
        "material_name": share.material_name,
        "recipient": share.recipient,
        "purpose": share.purpose,
        "show_full": share.show_full,
        "valid_from": share.valid_from.isoformat(),
        "valid_until": share.valid_until.isoformat(),
        "state": state,
        "state_text": SHARE_STATE_TEXT[state],
        "token_hint": share.token_hint,
        "use_count": share.use_count,
        "last_used_at": share.last_used_at.isoformat() if share.last_used_at else None,
        "created_at": share.created_at.isoformat(),
    }


def use_dict(use: LicenceUse) -> dict[str, Any]:
    from tongban.licences.models import VERIFY_RESULTS
    from tongban.licences.wallet_models import USE_KINDS

    return {
        "id": use.id,
        "kind": use.kind,
        "kind_text": USE_KINDS.get(use.kind, use.kind),
        "share_id": use.share_id,
        "case_id": use.case_id,
        "party": use.party,
        "result": use.result,
        "result_text": VERIFY_RESULTS.get(use.result, "") if use.result else "",
        "at": use.at.isoformat(),
    }
