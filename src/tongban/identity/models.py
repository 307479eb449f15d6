"""Identity (统一身份认证): persons, enterprises, agents, accounts, sessions, tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base, BigIntPK, RegionScoped

ROLES = {
    "clerk": "综合窗口",
    "approver": "审批人员",
    "dept_admin": "部门管理员",
    "supervisor": "电子监察",
    "dispatcher": "热线派单员",
    "platform_admin": "平台管理员",
    "leader": "领导",
}

REAL_NAME_LEVELS = {
    1: "一级（注册未核验）",
    2: "二级（身份信息核验）",
    3: "三级（人脸或短信强核验）",
    4: "四级（线下窗口核验）",
}


class Person(RegionScoped, Base):
    """自然人. ``region_code``: the person's registered region."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)  # 公民身份号码
    name: Mapped[str] = mapped_column(String(50), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    real_name_level: Mapped[int] = mapped_column(SmallInteger, default=1)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Enterprise(RegionScoped, Base):
    """法人 (enterprise or other organisation) with its 统一社会信用代码."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    legal_rep_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)  # 法定代表人
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class EnterpriseAgent(RegionScoped, Base):
    """经办人: a person authorised by the legal representative to act for the
    enterprise until ``valid_until``."""

    __tablename__ = "enterprise_agent"
    __table_args__ = (Index("ix_enterprise_agent_person", "person_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    authorised_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    valid_from: Mapped[dt.datetime] = mapped_column(default=now)
    valid_until: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Account(RegionScoped, Base):
    """A sign-in account: an applicant (``kind='person'``) or a staff member.

    Staff are bound to a department and a region; their roles are in
    ``AccountRole``.
    """

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # person | staff
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(SmallInteger, default=0)
    locked_until: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # elderly, script
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class AccountRole(Base):
    __tablename__ = "account_role"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class WebSession(RegionScoped, Base):
    """A signed-in browser session. Only the SHA-256 of the cookie is stored."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))  # password | sms
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class ApiClient(RegionScoped, Base):
    """A departmental or third-party system calling the API (垂管/自建系统)."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class ApiToken(RegionScoped, Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("api_client.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown to admins to tell tokens apart
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class SmsCode(RegionScoped, Base):
    """A one-time code sent by SMS; only its hash is stored."""

    __tablename__ = "sms_code"
    __table_args__ = (Index("ix_sms_code_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    consumed_at: Mapped[dt.datetime | None]


class LoginAttempt(RegionScoped, Base):
    """Every sign-in attempt, kept for the security log and lockout."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(40), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    at: Mapped[dt.datetime] = mapped_column(default=now)
