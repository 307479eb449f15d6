"""The fields of a catalogue item (GB/T 39046 table 4) as pydantic models.

A version of a base item (基本目录) or of an implementation entry (实施清单)
stores one ``ItemFields`` document; an implementation adds ``LocalFields``.
The document is the unit of versioning: a published version is never edited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tongban.catalogue import codes

Unit = Literal["working_day", "natural_day", "hour"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TimeLimit(_Model):
    """A time limit: ``value`` in ``unit``. 承诺时限 0 means 即办 (decided on the spot)."""

    value: int = Field(ge=0, le=3650)
    unit: Unit = "working_day"
    note: str = Field("", max_length=500)

    def label(self) -> str:
        if self.value == 0:
            return "即办"
        return f"{self.value}{codes.LIMIT_UNITS[self.unit]}"

    def in_hours_upper_bound(self) -> float:
        """For comparing limits of different units: the longest this can last, in hours."""
        if self.unit == "hour":
            return float(self.value)
        if self.unit == "natural_day":
            return self.value * 24.0
        # n working days fit in at most n + 2·ceil(n/5) + 7 (Golden Week) natural days
        return (self.value + 2 * ((self.value + 4) // 5) + 7) * 24.0 if self.value else 0.0


class LegalBasis(_Model):
    """设定依据: a law or regulation and its article."""

    title: str = Field(min_length=1, max_length=200)  # 《中华人民共和国行政许可法》
    article: str = Field("", max_length=200)  # 第十二条
    text: str = Field("", max_length=4000)


class Material(_Model):
    """申请材料."""

    name: str = Field(min_length=1, max_length=200)
    issuer: str = Field("", max_length=200)  # 出具机构; "申请人自备" when the applicant writes it
    originals: int = Field(0, ge=0, le=99)  # 原件份数
    copies: int = Field(0, ge=0, le=99)  # 复印件份数
    required: bool = True  # 是否必备
    kind: Literal["paper", "electronic", "both"] = "both"
    form_file: str | None = Field(None, max_length=64)  # 空白表格: sha256 of a stored file
    sample_file: str | None = Field(None, max_length=64)  # 示例样表
    licence_type_code: str | None = Field(None, max_length=21)  # replaced by this 电子证照 type
    data_element: str | None = Field(
        None, max_length=80
    )  # or by shared data (e.g. person.household)
    commitment_allowed: bool = False  # 告知承诺制: a written commitment may replace the proof
    note: str = Field("", max_length=1000)

    @property
    def replaceable(self) -> bool:
        return bool(self.licence_type_code or self.data_element)


class Fee(_Model):
    name: str = Field(min_length=1, max_length=200)
    standard: str = Field("", max_length=500)  # 收费标准
    basis: str = Field("", max_length=500)  # 收费依据


class SpecialProcedure(_Model):
    kind: Literal["1", "2"] = "2"  # codes.SPECIAL_PROCEDURE_KINDS
    name: str = Field(min_length=1, max_length=100)  # 听证, 检验检测, 专家评审, 公示 …
    limit: TimeLimit | None = None


class Step(_Model):
    """办理流程: one step of the flow shown on the guide (and the default review steps)."""

    name: str = Field(min_length=1, max_length=50)  # 申请, 受理, 审查, 决定, 送达
    actor: str = Field("", max_length=100)  # who does it: 申请人, 窗口, 承办科室 …
    role: str = Field("", max_length=30)  # staff role for review steps (clerk / approver …)
    limit: TimeLimit | None = None
    description: str = Field("", max_length=1000)


class Result(_Model):
    kind: Literal["licence", "document", "none"] = "document"
    name: str = Field("", max_length=200)  # 结果名称
    licence_type_code: str | None = Field(None, max_length=21)
    sample_file: str | None = Field(None, max_length=64)


class ItemFields(_Model):
    """The national fields of a catalogue item. Everything a guide shows."""

    name: str = Field(min_length=2, max_length=200)  # 事项名称
    item_type: str  # 事项类型 code
    legal_basis: list[LegalBasis] = Field(default_factory=list)  # 设定依据
    levels: list[str] = Field(default_factory=list)  # 行使层级 codes
    service_objects: list[str] = Field(default_factory=lambda: ["1"])  # 服务对象 codes
    summary: str = Field("", max_length=2000)  # plain-language summary for people
    conditions: str = Field("", max_length=8000)  # 受理条件
    materials: list[Material] = Field(default_factory=list)
    statutory_limit: TimeLimit  # 法定办结时限
    promised_limit: TimeLimit  # 承诺办结时限
    fee_charged: bool = False  # 是否收费
    fees: list[Fee] = Field(default_factory=list)
    case_type: Literal["1", "2", "9"] = "2"  # 办件类型
    handling_forms: list[str] = Field(default_factory=lambda: ["1"])  # 办理形式 codes
    visits: int = Field(1, ge=0, le=10)  # 到办事现场次数
    visit_reason: str = Field("", max_length=500)  # 必须到现场原因
    online_depth: int = Field(1, ge=1, le=4)  # 网办深度 Ⅰ–Ⅳ
    online_url: str = Field("", max_length=500)  # 网办地址 (empty: the platform's own entry)
    online_payment: bool = False  # 是否支持网上支付
    appointment: bool = False  # 是否支持预约办理
    express: bool = False  # 是否支持物流快递
    tongban_scope: Literal["", "national", "cross_province", "cross_city", "cross_county"] = ""
    special_procedures: list[SpecialProcedure] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)  # 办理流程
    result: Result = Field(default_factory=Result)
    quantity_limit: str = Field("", max_length=500)  # 数量限制
    intermediary: str = Field("", max_length=500)  # 中介服务
    joint_departments: list[str] = Field(default_factory=list)  # 共同实施部门
    consult_phone: str = Field("", max_length=50)  # 咨询电话
    supervise_phone: str = Field("", max_length=50)  # 监督投诉电话
    themes: list[str] = Field(default_factory=list)  # life-event themes (Theme.code)
    keywords: list[str] = Field(default_factory=list)  # extra search words

    @field_validator("item_type")
    @classmethod
    def _item_type(cls, v: str) -> str:
        if not codes.is_item_type(v):
            raise ValueError(f"事项类型 {v} 不是国家标准代码")
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in codes.EXERCISE_LEVELS]
        if bad:
            raise ValueError(f"行使层级代码无效：{'、'.join(bad)}")
        return v

    @field_validator("service_objects")
    @classmethod
    def _objects(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in codes.SERVICE_OBJECTS]
        if bad:
            raise ValueError(f"服务对象代码无效：{'、'.join(bad)}")
        return v

    @field_validator("handling_forms")
    @classmethod
    def _forms(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in codes.HANDLING_FORMS]
        if bad:
            raise ValueError(f"办理形式代码无效：{'、'.join(bad)}")
        return v

    @model_validator(mode="after")
    def _fees(self) -> ItemFields:
        if self.fees and not self.fee_charged:
            raise ValueError("不收费的事项不应填写收费项目")
        return self

    @property
    def for_persons(self) -> bool:
        return "1" in self.service_objects

    @property
    def for_enterprises(self) -> bool:
        return any(o in self.service_objects for o in ("2", "3", "4", "6"))


class LocalFields(_Model):
    """What an implementing region and department adds or narrows (实施清单 local elements)."""

    address: str = Field("", max_length=300)  # 办理地点
    hours: str = Field("", max_length=300)  # 办理时间
    window: str = Field("", max_length=100)  # 窗口
    phone: str = Field("", max_length=50)  # 咨询电话 (local)
    fee_note: str = Field("", max_length=500)  # local fee details
    traffic: str = Field("", max_length=300)  # 交通指引


class OnlineOverride(_Model):
    status: Literal["done", "can", "cannot"]
    reason: str = Field(min_length=2, max_length=500)


def dump(model: BaseModel) -> dict[str, Any]:
    """A stable JSON document (defaults included, so versions compare field by field)."""
    return model.model_dump(mode="json")


# --- API input and output (catalogue/api.py) ---------------------------------------------


class ItemCreate(_Model):
    base_code: str = Field(min_length=1, max_length=40)  # 基本编码
    region_code: str = Field("000000000000", pattern=r"^\d{12}$")  # owner: national or a province
    fields: dict[str, Any]
    note: str = Field("", max_length=500)


class ItemUpdate(_Model):
    fields: dict[str, Any]
    note: str = Field("", max_length=500)


class RetireRequest(_Model):
    reason: str = Field(min_length=2, max_length=500)


class ImplementationCreate(_Model):
    item_id: int = Field(ge=1, le=2**63 - 1)
    department_id: int = Field(ge=1, le=2**63 - 1)
    impl_code: str | None = Field(None, max_length=80)
    local: dict[str, Any] | None = None
    overrides: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    note: str = Field("", max_length=500)


class ImplementationUpdate(_Model):
    fields: dict[str, Any] | None = None
    local: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    note: str = Field("", max_length=500)
    rebase: bool = False  # take the base item's published same-at-every-level elements


class FormCheck(_Model):
    data: dict[str, Any]
    enterprise_id: int | None = Field(None, ge=1, le=2**63 - 1)


def has_nul(value: Any) -> bool:
    """Whether a JSON-like value holds a NUL character anywhere (PostgreSQL
    text refuses it: rejected at the edge as bad input, never a 500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ItemRead(_Read):
    id: int
    base_code: str
    code_scheme: str
    name: str
    item_type: str
    item_type_label: str = ""
    region_code: str
    status: str
    current_version: int
    published_version: int | None
    has_draft: bool = False
    updated_at: dt.datetime


class VersionRead(_Read):
    version: int
    status: str
    note: str
    content_hash: str
    created_by: int | None
    created_at: dt.datetime
    published_by: int | None
    published_at: dt.datetime | None


class ItemVersionRead(VersionRead):
    fields: dict[str, Any]


class ItemDetail(ItemRead):
    version: ItemVersionRead  # latest for staff in scope, the published one for everyone else
    versions: list[VersionRead]


class ImplementationRead(_Read):
    id: int
    item_id: int
    department_id: int
    region_code: str
    impl_code: str
    code_scheme: str
    level: str
    name: str
    item_type: str
    status: str
    current_version: int
    published_version: int | None
    published_version_id: int | None
    has_draft: bool = False
    for_persons: bool
    for_enterprises: bool
    online_status: str
    online_reason: str
    online_override: bool
    updated_at: dt.datetime


class ImplementationVersionRead(VersionRead):
    id: int
    base_version_id: int | None
    fields: dict[str, Any]
    local: dict[str, Any]
    form: dict[str, Any] | None


class ImplementationDetail(ImplementationRead):
    version: ImplementationVersionRead
    versions: list[VersionRead]


class ChangeRead(_Read):
    id: int
    version: int
    action: str
    action_label: str = ""
    changed: list[str]
    summary: str
    actor_id: int | None
    actor_name: str = ""
    at: dt.datetime
