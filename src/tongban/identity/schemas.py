"""Identity I/O schemas. Identity numbers and phones leave the server masked
unless the actor's role needs the full value (``Actor.sees_full_identifiers``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tongban.core.identifiers import mask_phone, mask_resident_id
from tongban.identity.access import Actor
from tongban.identity.models import Enterprise, EnterpriseAgent, Person

T = TypeVar("T")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, description="用户名")
    password: str = Field(min_length=1, max_length=200, description="密码")


class SmsSendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=11, max_length=20, description="手机号码")


class SmsLoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=11, max_length=20)
    code: str = Field(min_length=4, max_length=8, description="短信验证码")


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(min_length=18, max_length=18, description="经办人公民身份号码")
    valid_until: dt.datetime = Field(description="授权截止时间（未写时区的按北京时间）")

    @field_validator("valid_until")
    @classmethod
    def _beijing_when_naive(cls, v: dt.datetime) -> dt.datetime:
        from tongban.core.clock import zone

        return v.replace(tzinfo=zone()) if v.tzinfo is None else v


class PreferenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    elderly: bool | None = Field(None, description="长者模式")
    script: str | None = Field(None, pattern="^(hans|hant)$", description="hans 简体 / hant 繁體")


class AccountRead(BaseModel):
    id: int | None
    kind: str
    display_name: str
    region_code: str
    roles: list[str]
    department_id: int | None
    preferences: dict


class PersonRead(BaseModel):
    id: int
    name: str
    id_number: str
    phone: str | None
    region_code: str
    real_name_level: int
    is_demo: bool


class EnterpriseRead(BaseModel):
    id: int
    credit_code: str
    name: str
    region_code: str
    legal_rep_id: int
    is_demo: bool


class AgentRead(BaseModel):
    id: int
    enterprise_id: int
    person_id: int
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_after: int | None = Field(None, description="下一页的游标，传给 after 参数")


def account_read(actor: Actor) -> AccountRead:
    return AccountRead(
        id=actor.account_id,
        kind=actor.kind,
        display_name=actor.display_name,
        region_code=actor.region_code,
        roles=sorted(actor.roles),
        department_id=actor.department_id,
        preferences=actor.preferences,
    )


def person_read(p: Person, actor: Actor) -> PersonRead:
    full = actor.sees_full_identifiers
    return PersonRead(
        id=p.id,
        name=p.name,
        id_number=p.id_number if full else mask_resident_id(p.id_number),
        phone=(p.phone if full else mask_phone(p.phone)) if p.phone else None,
        region_code=p.region_code,
        real_name_level=p.real_name_level,
        is_demo=p.is_demo,
    )


def enterprise_read(e: Enterprise) -> EnterpriseRead:
    # A credit code is public information (国家企业信用信息公示系统): never masked.
    return EnterpriseRead(
        id=e.id,
        credit_code=e.credit_code,
        name=e.name,
        region_code=e.region_code,
        legal_rep_id=e.legal_rep_id,
        is_demo=e.is_demo,
    )


def agent_read(a: EnterpriseAgent) -> AgentRead:
    return AgentRead(
        id=a.id,
        enterprise_id=a.enterprise_id,
        person_id=a.person_id,
        valid_from=a.valid_from,
        valid_until=a.valid_until,
        revoked_at=a.revoked_at,
    )


# Plain-dict renderings for hot read paths (same fields and masking as the
# models above, without building pydantic objects per row).


def account_dict(actor: Actor) -> dict:
    return {
        "id": actor.account_id,
        "kind": actor.kind,
        "display_name": actor.display_name,
        "region_code": actor.region_code,
        "roles": sorted(actor.roles),
        "department_id": actor.department_id,
        "preferences": actor.preferences,
    }


def person_dict(p: Any, actor: Actor) -> dict:
    full = actor.sees_full_identifiers
    return {
        "id": p.id,
        "name": p.name,
        "id_number": p.id_number if full else mask_resident_id(p.id_number),
        "phone": (p.phone if full else mask_phone(p.phone)) if p.phone else None,
        "region_code": p.region_code,
        "real_name_level": p.real_name_level,
        "is_demo": p.is_demo,
    }


def enterprise_dict(e: Any) -> dict:
    return {
        "id": e.id,
        "credit_code": e.credit_code,
        "name": e.name,
        "region_code": e.region_code,
        "legal_rep_id": e.legal_rep_id,
        "is_demo": e.is_demo,
    }


def agent_dict(a: Any) -> dict:
    return {
        "id": a.id,
        "enterprise_id": a.enterprise_id,
        "person_id": a.person_id,
        "valid_from": a.valid_from.isoformat(),
        "valid_until": a.valid_until.isoformat(),
        "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None,
    }
