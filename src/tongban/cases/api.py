"""Cases JSON API: submit (Idempotency-Key), worklists, detail, actions, exchange export,
supervision, the applicant's inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import and_, any_, bindparam, false, func, literal, select
from sqlalchemy.sql import visitors

from tongban.cases import exchange, lifecycle, service, supervision
from tongban.cases.models import (
    ALERTS_SQL,
    APPLICANT_SQL,
    QUEUE_STATES,
    QUEUE_STATES_SQL,
    SUBMITTED_SQL,
    SUBMITTED_SQLITE_SQL,
    Case,
    CaseMaterial,
    CaseTrail,
    CorrectionNotice,
    Notification,
)
from tongban.catalogue.models import ImplementationVersion
from tongban.core import scope
from tongban.core.clock import now
from tongban.core.errors import AppError, NotAuthenticated, ValidationFailed, field_errors
from tongban.core.identifiers import mask_phone, mask_resident_id
from tongban.identity.access import Actor
from tongban.web.app import ORJSONResponse
from tongban.web.deps import DB, CurrentActor, read_actor

router = APIRouter(tags=["办件"])

QUEUES: dict[str, tuple[str, Any]] = {
    "to_accept": ("待受理", Case.state == "submitted"),
    "to_review": ("待审查", and_(Case.state == "reviewing", Case.at_last_step.is_(False))),
    "to_decide": ("待决定", and_(Case.state == "reviewing", Case.at_last_step.is_(True))),
    "to_deliver": ("待送达", Case.state == "concluded"),
    "corrections": ("补正中", Case.state == "correction"),
    "paused": ("特别程序中", Case.state == "suspended"),
    "yellow": ("黄牌预警", Case.alert == "yellow"),
    "red": ("红牌警告", Case.alert == "red"),
}


class MaterialRef(BaseModel):
    """A material named by a submission: the catalogue material it answers and
    the uploaded file (``sha256`` from ``POST /api/v1/uploads``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    replaced_by: str | None = Field(None, max_length=120)


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    implementation_id: int
    form_data: dict[str, Any] = Field(default_factory=dict)
    channel: str = "pc"
    enterprise_id: int | None = None
    applicant_person_id: int | None = None  # window intake: the person present
    materials: list[MaterialRef] = Field(default_factory=list, max_length=100)


class CorrectionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=20)  # material | field
    name: str = Field(max_length=200)
    reason: str = Field(max_length=500)


class ActionBody(BaseModel):
    """The body of ``POST /api/v1/cases/{id}/actions/{action}``: what each
    action reads (``service.transition``), typed; which are required, and
    their values, are the action's own rules (answered with its codes)."""

    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(
        None, max_length=2000, description="理由（不予受理、退回、特别程序、延期、撤回、作废）"
    )
    comment: str | None = Field(None, max_length=2000, description="办理意见")
    outcome: str | None = Field(None, max_length=10, description="决定：grant 准予 / deny 不予")
    kind: str | None = Field(None, max_length=20, description="特别程序种类")
    result: str | None = Field(None, max_length=2000, description="特别程序结果")
    days: StrictInt | None = Field(None, description="延长的工作日数")
    method: str | None = Field(
        None, max_length=20, description="送达方式：electronic / post / window"
    )
    tracking_number: str | None = Field(None, max_length=40, description="快递单号（邮寄送达）")
    items: list[CorrectionItem] | None = Field(None, max_length=100, description="补齐补正告知事项")
    approved_by: StrictInt | None = Field(None, description="批准再次告知新事项的督查人员账号")
    form_data: dict[str, Any] | None = Field(None, description="补正后的申请表（重新提交）")
    materials: list[MaterialRef] | None = Field(
        None, max_length=100, description="补正的材料（重新提交）"
    )


async def check_materials(session: Any, materials: list[MaterialRef]) -> list[dict[str, Any]]:
    """Materials an API client names: no licence replacement claimed here (only
    through the holder's consent, ``POST /api/v1/me/licence-applications``),
    and every file one that was uploaded. As ``service`` takes them (dicts)."""
    if any(m.replaced_by for m in materials):
        raise ValidationFailed(
            "以电子证照替代材料须通过用证授权办理（/api/v1/me/licence-applications）",
            code="replaced_by_not_allowed",
        )
    named = {m.sha256 for m in materials if m.sha256}
    if named:
        from tongban.core.files import StoredFile

        found = set(
            (
                await session.execute(
                    select(StoredFile.sha256).where(StoredFile.sha256.in_(sorted(named)))
                )
            ).scalars()
        )
        missing = [i for i, m in enumerate(materials) if m.sha256 and m.sha256 not in found]
        if missing:
            raise ValidationFailed(
                "材料文件不存在，请先上传（POST /api/v1/uploads）后以返回的 sha256 提交",
                code="material_file_unknown",
                details=[
                    {"field": f"materials.{i}.sha256", "message": "未找到该文件"} for i in missing
                ],
            )
    return [m.model_dump(exclude_none=True) for m in materials]


def _iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def case_summary(c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "item_name": c.item_name,
        "implementation_id": c.implementation_id,
        "department_id": c.department_id,
        "region_code": c.region_code,
        "applicant_name": c.applicant_name,
        "channel": c.channel,
        "channel_label": lifecycle.CHANNELS.get(c.channel, c.channel),
        "state": c.state,
        "state_label": lifecycle.STATES[c.state],
        "current_step": c.current_step,
        "alert": c.alert,
        "submitted_at": _iso(c.submitted_at),
        "accept_due_at": _iso(c.accept_due_at),
        "accepted_at": _iso(c.accepted_at),
        "due_at": _iso(c.due_at),
        "concluded_at": _iso(c.concluded_at),
        "delivered_at": _iso(c.delivered_at),
        "outcome": c.outcome,
        "outcome_label": lifecycle.OUTCOMES.get(c.outcome or "", ""),
    }


def _mask_form(form: dict[str, Any] | None, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    if actor.sees_full_identifiers or actor.kind == "person":
        return dict(data)
    elements = {
        k: v.get("element") for k, v in ((form or {}).get("ui", {}).get("fields", {}) or {}).items()
    }
    out = {}
    for k, v in data.items():
        el = elements.get(k) or ""
        if isinstance(v, str) and (el.endswith("id_number") or k.endswith("id_number")):
            out[k] = mask_resident_id(v)
        elif isinstance(v, str) and (el.endswith("phone") or k == "phone"):
            out[k] = mask_phone(v)
        else:
            out[k] = v
    return out


async def case_detail(session: Any, actor: Actor, c: Case) -> dict[str, Any]:
    version = await session.get(ImplementationVersion, c.implementation_version_id)
    trail = (
        (
            await session.execute(
                select(CaseTrail).where(CaseTrail.case_id == c.id).order_by(CaseTrail.id)
            )
        )
        .scalars()
        .all()
    )
    materials = (
        (
            await session.execute(
                select(CaseMaterial).where(CaseMaterial.case_id == c.id).order_by(CaseMaterial.id)
            )
        )
        .scalars()
        .all()
    )
    notices = (
        (
            await session.execute(
                select(CorrectionNotice)
                .where(CorrectionNotice.case_id == c.id)
                .order_by(CorrectionNotice.round)
            )
        )
        .scalars()
        .all()
    )
    return {
        **case_summary(c),
        "implementation_version": version.version if version else None,
        "steps": c.steps,
        "step_index": c.step_index,
        "extension_days": c.extension_days,
        "outcome_reason": c.outcome_reason,
        "delivery_method": c.delivery_method,
        "tracking_number": c.tracking_number,
        "form_data": _mask_form(version.form if version else None, c.form_data, actor),
        "materials": [
            {
                "name": m.name,
                "sha256": m.file_sha256,
                "replaced_by": m.replaced_by,
                "round": m.round,
            }
            for m in materials
        ],
        "corrections": [
            {
                "round": n.round,
                "items": n.items,
                "flagged": n.flagged,
                "issued_at": _iso(n.issued_at),
                "answered_at": _iso(n.answered_at),
            }
            for n in notices
        ],
        "trail": [
            {
                "action": t.action,
                "label": lifecycle.TRANSITIONS[t.action].label
                if t.action in lifecycle.TRANSITIONS
                else "提交申请",
                "from": t.from_state,
                "to": t.to_state,
                "step": t.step_name,
                "actor": t.actor_name,
                "comment": t.comment,
                "data": t.data,
                "at": _iso(t.at),
            }
            for t in trail
        ],
        "actions": [
            {"action": t.action, "label": t.label, "needs_reason": t.needs_reason}
            for t in service.actions_for(c, actor)
        ],
    }


_SUBMIT_DOC = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "minLength": 8, "maxLength": 80},
            "description": "客户端为每次申请生成的唯一键；重试时原样带上，得到同一办件",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SubmitBody.model_json_schema()}},
    },
}


def _invalid(errors: list[dict[str, Any]]) -> AppError:
    """The error the app answers a RequestValidationError with (web.app's
    handler), raised directly: the same answer whether FastAPI or a hot route
    (web.app.HotRoutes, which answers AppErrors only) serves the endpoint."""
    return AppError(
        "提交的内容不符合要求，请检查后重新提交",
        code="validation_failed",
        status=422,
        details=field_errors(errors),
    )


async def _submit_body(request: Request) -> SubmitBody:
    """The JSON body, parsed with orjson and validated by the model in one
    pass; errors reported as FastAPI reports them (``validation_failed``)."""
    raw = await request.body()
    if not raw:
        raise _invalid(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _invalid(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", e.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": e.msg},
                }
            ]
        ) from None
    try:
        return SubmitBody.model_validate(data)
    except PydanticValidationError as e:
        raise _invalid(
            [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        ) from None


@router.post(
    "/cases",
    summary="提交申请（幂等：同一 Idempotency-Key 返回同一办件）",
    status_code=201,
    openapi_extra=_SUBMIT_DOC,
)
async def submit(request: Request, session: DB, actor: CurrentActor) -> ORJSONResponse:
    # The body and the header are read here rather than declared: FastAPI's
    # per-parameter path costs ~0.5 ms per request (bench/run.py submit).
    body = await _submit_body(request)
    idempotency_key = request.headers.get("idempotency-key")
    if not idempotency_key:
        raise ValidationFailed(
            "请在请求头中提供 Idempotency-Key，以免重复提交", code="idempotency_key_required"
        )
    materials = await check_materials(session, body.materials)
    case, created = await service.submit(
        session,
        actor,
        implementation_id=body.implementation_id,
        form_data=body.form_data,
        idempotency_key=idempotency_key,
        channel=body.channel,
        enterprise_id=body.enterprise_id,
        applicant_person_id=body.applicant_person_id,
        materials=materials,
    )
    return ORJSONResponse(case_summary(case), status_code=201 if created else 200)


# The columns a list shows (``case_summary``): lists read these, never the form
# or the steps (a ~1.5 KB form per case would dominate every page).
SUMMARY_COLUMNS = (
    Case.id,
    Case.number,
    Case.item_name,
    Case.implementation_id,
    Case.department_id,
    Case.region_code,
    Case.applicant_name,
    Case.channel,
    Case.state,
    Case.current_step,
    Case.alert,
    Case.submitted_at,
    Case.accept_due_at,
    Case.accepted_at,
    Case.due_at,
    Case.concluded_at,
    Case.delivered_at,
    Case.outcome,
)


def _row_summary(row: Any, iso: Callable[[Any], str | None] | None = None) -> dict[str, Any]:
    """``case_summary`` of a row of SUMMARY_COLUMNS (unpacked by position: a
    list page makes 20 of them). ``iso`` turns a stored time into its ISO text
    (the hot route passes the driver's own: ``cases.worklist_hot``)."""
    iso = iso or _iso
    (
        id_,
        number,
        item_name,
        impl_id,
        dept_id,
        region,
        applicant,
        channel,
        state,
        step,
        alert,
        submitted,
        accept_due,
        accepted,
        due,
        concluded,
        delivered,
        outcome,
    ) = row
    return {
        "id": id_,
        "number": number,
        "item_name": item_name,
        "implementation_id": impl_id,
        "department_id": dept_id,
        "region_code": region,
        "applicant_name": applicant,
        "channel": channel,
        "channel_label": lifecycle.CHANNELS.get(channel, channel),
        "state": state,
        "state_label": lifecycle.STATES[state],
        "current_step": step,
        "alert": alert,
        "submitted_at": iso(submitted),
        "accept_due_at": iso(accept_due),
        "accepted_at": iso(accepted),
        "due_at": iso(due),
        "concluded_at": iso(concluded),
        "delivered_at": iso(delivered),
        "outcome": outcome,
        "outcome_label": lifecycle.OUTCOMES.get(outcome or "", ""),
    }


class CaseFilters(BaseModel):
    """Worklist filters (query parameters)."""

    queue: str | None = Field(None, description="、".join(f"{k} {v[0]}" for k, v in QUEUES.items()))
    state: str | None = None
    implementation_id: int | None = None
    department_id: int | None = None
    channel: str | None = None
    applicant: str | None = Field(None, max_length=50, description="申请人名称前缀")
    number: str | None = Field(None, max_length=50)
    submitted_from: dt.date | None = Field(
        None, ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31), description="提交日期起（含）"
    )
    submitted_to: dt.date | None = Field(
        None, ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31), description="提交日期止（含）"
    )
    region: str | None = Field(None, max_length=12)
    before: int | None = Field(None, description="keyset cursor: the last id of the previous page")
    limit: int = Field(20, ge=1, le=100)


_CST = dt.timezone(dt.timedelta(hours=8))
_MAX_CHAR = 0x10FFFF


def applicant_bounds(prefix: str) -> tuple[str, str]:
    """The names starting with ``prefix`` are exactly those in [lo, hi) in
    code-point order (SQLite's BINARY collation, PostgreSQL's pattern operators:
    byte order of UTF-8, the same order): hi is the prefix with its last
    character incremented (past the surrogates, which no text holds; a last
    U+10FFFF carries to the character before it). ``%``, ``_`` and every other
    character are taken literally, and case matters on both databases."""
    chars = list(prefix)
    while chars:
        c = ord(chars[-1]) + 1
        if 0xD800 <= c <= 0xDFFF:
            c = 0xE000
        if c <= _MAX_CHAR:
            chars[-1] = chr(c)
            return prefix, "".join(chars)
        chars.pop()
    return prefix, chr(_MAX_CHAR) * 201  # above any name (String(200)) starting with the prefix


def applicant_condition(dialect: str, lo: Any, hi: Any) -> Any:
    """``applicant_name`` in [lo, hi) (``applicant_bounds``) as a seek in
    ``ix_case_state_applicant`` (its condition repeated: SQLite uses a partial
    index only then): on PostgreSQL with the pattern operators its
    ``varchar_pattern_ops`` serves (byte order, whatever the collation)."""
    if dialect == "postgresql":
        return and_(
            Case.applicant_name.op("~>=~", is_comparison=True)(lo),
            Case.applicant_name.op("~<~", is_comparison=True)(hi),
            APPLICANT_SQL,
        )
    return and_(Case.applicant_name >= lo, Case.applicant_name < hi, APPLICANT_SQL)


# Filter name → its condition on a bound parameter of the same name.
_FILTERS: dict[str, Any] = {
    "implementation_id": Case.implementation_id == bindparam("implementation_id"),
    "department_id": Case.department_id == bindparam("department_id"),
    "channel": Case.channel == bindparam("channel"),
    "applicant": None,  # per dialect: applicant_condition
    "number": Case.number == bindparam("number"),
    "region": and_(
        Case.region_code >= bindparam("region_lo"), Case.region_code < bindparam("region_hi")
    ),
    "submitted_from": Case.submitted_at >= bindparam("submitted_from"),
    "submitted_to": Case.submitted_at < bindparam("submitted_to"),
    "before": Case.id < bindparam("before"),
}
# Prebuilt list statements, per scope (``service.scope_key``), queue, filters used and page size.
_LIST_STATEMENTS: dict[tuple[Any, ...], Any] = {}
_STATEMENTS_MAX = 1024
_USER_VALUES = frozenset(
    {
        "implementation_id",
        "department_id",
        "channel",
        "applicant_lo",
        "applicant_hi",
        "number",
        "region_lo",
        "region_hi",
        "submitted_from",
        "submitted_to",
        "before",
    }
)


def _inline_constants(stmt: Any) -> Any:
    """Render the statement's own constants (scope, queue, state, limit) into its
    SQL, leaving the request's values as parameters: PostgreSQL then plans a
    prepared statement knowing which state and region it reads (a generic plan
    for "state = $1" cannot tell 待受理, a few hundred rows, from 已送达, most of
    the table), and SQLite can match the partial indexes. The constants are
    ours (whitelisted states, the actor's scope), rendered by SQLAlchemy's
    literal processors."""

    def visit(bind: Any) -> None:
        if bind.key not in _USER_VALUES:
            bind.literal_execute = True

    return visitors.cloned_traverse(stmt, {}, {"bindparam": visit})


def scope_regions(code12: str, dialect: str, region: tuple[Any, Any] | None = None) -> Any:
    """The region codes cases are filed under in the subtree of ``code12``
    (and within the ``region`` filter's ``(lo, hi)``), as a recursive CTE: one
    seek in ``ix_case_region_state_id`` per code found (a loose index scan; a
    district has a handful, a province a few thousand at most). A date range
    then seeks (state, region, dates) for each code in
    ``ix_case_state_region_submitted``, where a region range could seek the
    state only (neither database seeks past a range)."""
    lo, hi = scope.subtree_bounds(code12)
    if region is not None:  # one range, the intersection: a seek from its start
        pg = dialect == "postgresql"
        lo = (func.greatest if pg else func.max)(literal(lo), region[0])
        hi = (func.least if pg else func.min)(literal(hi), region[1])
    first = select(func.min(Case.region_code).label("code")).where(
        Case.region_code >= lo, Case.region_code < hi
    )
    regions = first.cte("scope_regions", recursive=True)
    following = (
        select(func.min(Case.region_code))
        .where(Case.region_code > regions.c.code, Case.region_code < hi)
        .scalar_subquery()
    )
    return regions.union_all(select(following).where(regions.c.code.is_not(None)))


def dated_scope(
    actor: Actor, stmt: Any, dialect: str, region: tuple[Any, Any] | None = None
) -> Any:
    """``service.scope_cases`` for a list with a date range: for staff, the
    subtree as the region codes of ``scope_regions`` (equalities, not a range)
    and the dated index's condition repeated (SQLite uses a partial index only
    then); the department rule as ``scope_cases``'s. Other actors:
    ``scope_cases`` (on SQLite as ``id IN (…)``, see below). On PostgreSQL the
    codes are an array (``= ANY``): an index
    condition, one seek per code, where ``IN (SELECT …)`` was planned as a
    semi-join over the state's whole index range."""
    if actor.kind != "staff":
        if dialect != "sqlite":
            return service.scope_cases(actor, stmt)
        # SQLite: the actor's own cases first (a seek each by applicant and by
        # filer), then the state and dates of those rows, not a walk of the state
        return stmt.where(Case.id.in_(service.scope_cases(actor, select(Case.id))))
    codes = select(scope_regions(actor.region_code, dialect, region).c.code)
    in_scope = (
        Case.region_code == any_(func.array(codes.scalar_subquery()))
        if dialect == "postgresql"
        else Case.region_code.in_(codes)
    )
    stmt = stmt.where(in_scope, SUBMITTED_SQL if dialect == "postgresql" else SUBMITTED_SQLITE_SQL)
    if actor.region_wide or actor.roles & service.INTAKE_WIDE_ROLES:
        return stmt
    own = Case.department_id == actor.department_id
    # SQLite, without statistics, would seek (department, state) and read every
    # row of the department's state for its date (a department's finished cases:
    # 128 ms against 10 ms); likely() tells it the term selects little.
    return stmt.where(func.likely(own) if dialect == "sqlite" else own)


# PostgreSQL lists: 待决定 with its step as a term the planner does not
# estimate from the column's statistics. at_last_step is rare over the table
# (0.3%) but a third of the reviewing cases; "at_last_step IS true" was
# estimated at ~10 of a district's 832, so the planner read all 832 through
# ix_case_queue_counts (no id in it: a heap page each, ~810 pages) and sorted
# them, where a backward walk of ix_case_state_id (the step in the index) stops
# at the page's 21st (bench/run.py worklist, 1M cases: 0.55 → 0.13 ms alone,
# ~1.2 ms under load). COALESCE of the NOT NULL column is the column. The
# counts keep "IS true": a seek in ix_case_queue_counts, reading the index only.
_PG_LIST_QUEUES: dict[str, Any] = {
    "to_decide": and_(Case.state == "reviewing", func.coalesce(Case.at_last_step, false())),
}


def _list_statement(
    dialect: str,
    actor: Actor,
    queue: str | None,
    names: tuple[str, ...],
    state: str | None,
    limit: int,
) -> Any:
    key = (dialect, service.scope_key(actor), queue, names, state, limit)
    stmt = _LIST_STATEMENTS.get(key)
    if stmt is None:
        dated = "submitted_from" in names or "submitted_to" in names
        staff = actor.kind == "staff"
        if dated:
            # the region filter narrows a staff scope's region codes instead of
            # being a second range on the column (the planners would seek it)
            region = (bindparam("region_lo"), bindparam("region_hi"))
            ids = dated_scope(
                actor, select(Case.id), dialect, region if staff and "region" in names else None
            )
            names = tuple(n for n in names if n != "region" or not staff)
        else:
            ids = service.scope_cases(actor, select(Case.id))
        # An applicant's dated list reads the applicant's cases (dated_scope);
        # SQLite would rather seek the state and walk it (seconds): likely()
        # tells it the state selects little of them.
        hint = func.likely if dated and not staff and dialect == "sqlite" else (lambda c: c)
        if queue:
            cond = _PG_LIST_QUEUES.get(queue) if dialect == "postgresql" else None
            ids = ids.where(hint(QUEUES[queue][1] if cond is None else cond))
        if state:
            ids = ids.where(hint(Case.state == state))
        for name in names:
            if name == "applicant":
                ids = ids.where(
                    applicant_condition(
                        dialect, bindparam("applicant_lo"), bindparam("applicant_hi")
                    )
                )
            else:
                ids = ids.where(_FILTERS[name])
        if dated:
            # A date range: "newest first, 21 of them" tempts either planner to
            # walk the id order backwards through every newer case of the state
            # (seconds over 1M rows); fenced (OFFSET 0), the range is read by
            # its index and its ids sorted.
            fenced = ids.offset(0).subquery("dated")
            page = (
                select(fenced.c.id).order_by(fenced.c.id.desc()).limit(limit + 1).scalar_subquery()
            )
        else:
            # The page's ids first (answered from an index where the filters allow:
            # no row is read, let alone sorted, unless it is on the page), then their rows.
            page = ids.order_by(Case.id.desc()).limit(limit + 1).scalar_subquery()
        stmt = _inline_constants(
            select(*SUMMARY_COLUMNS).where(Case.id.in_(page)).order_by(Case.id.desc())
        )
        if len(_LIST_STATEMENTS) >= _STATEMENTS_MAX:
            _LIST_STATEMENTS.clear()
        _LIST_STATEMENTS[key] = stmt
    return stmt


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters of a model (validated by hand: see ``list_cases``)."""
    schema = model.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema["properties"].items()
    ]


def case_filters(request: Request) -> CaseFilters:
    """The query parameters, validated in one pass of the model: FastAPI's
    per-parameter path cost ~0.6 ms per request here. Errors are reported as
    FastAPI reports them (``validation_failed`` with the field)."""
    try:
        return CaseFilters.model_validate(dict(request.query_params))
    except PydanticValidationError as e:
        raise _invalid(
            [{**err, "loc": ("query", *err["loc"])} for err in e.errors(include_url=False)]
        ) from None


@router.get(
    "/cases",
    summary="办件列表（工作台队列 / 我的办件）",
    openapi_extra={"parameters": _query_parameters(CaseFilters)},
)
async def list_cases(request: Request) -> ORJSONResponse:
    # A hot read (every workbench page, bench/run.py worklist): as
    # identity.api.my_records, one pooled connection, no ORM session and no
    # dependency graph; statements prebuilt per scope and filter shape.
    f = case_filters(request)
    async with request.app.state.engine.connect() as conn:
        actor = await read_actor(request, conn)
        page = await _list_page(conn, actor, f)
        await conn.commit()  # keeps a session-expiry refresh, if one was written
    return ORJSONResponse(page)


def page_parameters(f: CaseFilters) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The filters a page uses (``_FILTERS`` names, in order) and their bound
    values; refuses an unknown queue or state (also for the hot route,
    ``cases.worklist_hot``)."""
    if f.queue and f.queue not in QUEUES:
        raise ValidationFailed("未知的队列", code="queue_invalid")
    if f.state and f.state not in lifecycle.STATES:
        raise ValidationFailed("未知的办件状态", code="state_invalid")
    params: dict[str, Any] = {}
    if f.implementation_id:
        params["implementation_id"] = f.implementation_id
    if f.department_id:
        params["department_id"] = f.department_id
    if f.channel:
        params["channel"] = f.channel
    if f.applicant:  # a prefix, taken literally
        if "\x00" in f.applicant:  # no name holds one (PostgreSQL refuses it in text)
            raise ValidationFailed("申请人名称含有无效字符", code="applicant_invalid")
        params["applicant_lo"], params["applicant_hi"] = applicant_bounds(f.applicant)
    if f.number:
        params["number"] = f.number.strip()
    if f.region:
        try:
            region12 = scope.normalise(f.region)
        except ValueError:
            raise ValidationFailed(
                "行政区划代码应为 2、4、6、9 或 12 位数字",
                code="invalid_region",
                details=[{"field": "region", "message": "格式不正确"}],
            ) from None
        params["region_lo"], params["region_hi"] = scope.subtree_bounds(region12)
    if f.submitted_from:
        params["submitted_from"] = dt.datetime.combine(f.submitted_from, dt.time(), tzinfo=_CST)
    if f.submitted_to:
        params["submitted_to"] = dt.datetime.combine(
            f.submitted_to + dt.timedelta(days=1), dt.time(), tzinfo=_CST
        )
    if f.before:
        params["before"] = f.before
    names = tuple(
        n
        for n in _FILTERS
        if n in params
        or (n == "region" and "region_lo" in params)
        or (n == "applicant" and "applicant_lo" in params)
    )
    return names, params


async def _list_page(conn: Any, actor: Actor, f: CaseFilters) -> dict[str, Any]:
    names, params = page_parameters(f)
    stmt = _list_statement(
        conn.dialect.name, actor, f.queue or None, names, f.state or None, f.limit
    )
    rows = (await conn.execute(stmt, params)).all()
    items = [_row_summary(r) for r in rows[: f.limit]]
    return {"items": items, "next": rows[f.limit - 1].id if len(rows) > f.limit else None}


# Queue counts in one statement, a scalar subquery per queue: each one a seek
# in a partial index (ix_case_queue_counts: state, region range, at_last_step;
# ix_case_alert_counts: colour, region range) reading the index only. On SQLite
# each repeats its index's condition (SQLite uses a partial index only then).
# PostgreSQL proves the condition from the queue's own (state = 'submitted'
# implies state IN (…)) and must not see it twice: it would multiply the two
# selectivities (a queue of ~1,000 cases estimated at 27) and prefer
# ix_case_state_id, whose region column comes after the id, so each count
# walked the state's cases of every region (bench/run.py worklist, a district
# clerk, one at a time: ~6 ms of server CPU per request against ~0.6 ms).
_QUEUE_STATE = {
    "to_accept": "submitted",
    "to_review": "reviewing",
    "to_decide": "reviewing",
    "to_deliver": "concluded",
    "corrections": "correction",
    "paused": "suspended",
}  # the state each queue lies in
assert set(_QUEUE_STATE) | {"yellow", "red"} == set(QUEUES), "a new queue needs its state here"
assert set(_QUEUE_STATE.values()) == set(QUEUE_STATES)
_COUNT_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _count_statement(actor: Actor, dialect: str | None = None) -> Any:
    """The eight counts for ``actor``; ``dialect`` "postgresql" leaves out the
    partial indexes' conditions (see above), any other repeats them."""
    pg = dialect == "postgresql"
    key = (pg, service.scope_key(actor))
    got = _COUNT_STATEMENTS.get(key)
    if got is None:
        counts = [
            service.scope_cases(
                actor,
                select(func.count())
                .select_from(Case)
                .where(
                    cond,
                    *(() if pg else (QUEUE_STATES_SQL if key_ in _QUEUE_STATE else ALERTS_SQL,)),
                ),
            ).scalar_subquery()
            for key_, (_label, cond) in QUEUES.items()
        ]
        if len(_COUNT_STATEMENTS) >= _STATEMENTS_MAX:
            _COUNT_STATEMENTS.clear()
        got = _COUNT_STATEMENTS[key] = _inline_constants(select(*counts))
    return got


@router.get("/cases/queues", summary="工作台各队列数量")
async def queue_counts(request: Request) -> ORJSONResponse:
    # a hot read, as list_cases
    async with request.app.state.engine.connect() as conn:
        actor = await read_actor(request, conn)
        row = (await conn.execute(_count_statement(actor, conn.dialect.name))).one()
        await conn.commit()
    return ORJSONResponse(
        {
            key: {"label": label, "count": n}
            for (key, (label, _cond)), n in zip(QUEUES.items(), row, strict=True)
        }
    )


@router.get("/cases/{case_id}", summary="办件详情（含服务轨迹与可执行操作）")
async def get_case(case_id: int, session: DB, actor: CurrentActor) -> dict:
    c = await service.get_case(session, actor, case_id)
    return await case_detail(session, actor, c)


@router.post("/cases/{case_id}/actions/{action}", summary="执行办理操作")
async def act(
    case_id: int, action: str, session: DB, actor: CurrentActor, body: ActionBody | None = None
) -> dict:
    data = body.model_dump(exclude_none=True) if body else {}
    if body and body.materials is not None:
        data["materials"] = await check_materials(session, body.materials)
    c = await service.transition(session, actor, case_id, action, data)
    return await case_detail(session, actor, c)


@router.get("/cases/{case_id}/exchange", summary="国家标准交换数据（GB/T 39046 办件信息）")
async def exchange_record(case_id: int, session: DB, actor: CurrentActor) -> dict:
    if actor.kind != "staff":
        raise NotAuthenticated("只有工作人员可以导出交换数据", status=403, code="permission_denied")
    c = await service.get_case(session, actor, case_id)
    return await exchange.record_for(session, c)


@router.get("/me/notifications", summary="我的消息")
async def my_notifications(
    session: DB,
    actor: CurrentActor,
    unread: bool = False,
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    stmt = select(Notification).where(Notification.account_id == actor.account_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before:
        stmt = stmt.where(Notification.id < before)
    rows = (
        (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1)))
        .scalars()
        .all()
    )
    return {
        "items": [
            {
                "id": n.id,
                "case_id": n.case_id,
                "title": n.title,
                "body": n.body,
                "read": n.read_at is not None,
                "at": _iso(n.created_at),
            }
            for n in rows[:limit]
        ],
        "next": rows[limit - 1].id if len(rows) > limit else None,
    }


@router.post("/me/notifications/read", summary="全部标为已读")
async def mark_read(session: DB, actor: CurrentActor) -> dict:
    from sqlalchemy import update

    res = await session.execute(
        update(Notification)
        .where(Notification.account_id == actor.account_id, Notification.read_at.is_(None))
        .values(read_at=now())
    )
    return {"updated": res.rowcount}


# --- supervision ----------------------------------------------------------------------


class NoticeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department_id: int
    content: str = Field(max_length=2000)
    reply_days: int = 3
    case_id: int | None = None


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reply: str = Field(max_length=4000)


def _notice(n: supervision.SupervisionNotice) -> dict[str, Any]:
    return {
        "id": n.id,
        "department_id": n.department_id,
        "case_id": n.case_id,
        "content": n.content,
        "state": n.state,
        "state_label": supervision.NOTICE_STATES[n.state],
        "reply_due_at": _iso(n.reply_due_at),
        "issued_at": _iso(n.issued_at),
        "reply": n.reply,
        "replied_at": _iso(n.replied_at),
        "closed_at": _iso(n.closed_at),
        "overdue": n.state == "open" and n.reply_due_at < now(),
    }


@router.get("/supervision/alerts", summary="红黄牌统计（按部门、事项或区划）")
async def alerts(
    session: DB,
    actor: CurrentActor,
    by: Annotated[str, Query(pattern="^(department|item|region)$")] = "department",
) -> dict:
    return {"by": by, "items": await supervision.alert_counts(session, actor, by=by)}


@router.get("/supervision/notices", summary="督办单列表")
async def notices(
    session: DB, actor: CurrentActor, state: str | None = None, overdue: bool = False
) -> dict:
    return {
        "items": [
            _notice(n)
            for n in await supervision.list_notices(
                session, actor, state=state, overdue_only=overdue
            )
        ]
    }


@router.post("/supervision/notices", summary="发出督办单", status_code=201)
async def issue(body: NoticeBody, session: DB, actor: CurrentActor) -> dict:
    return _notice(
        await supervision.issue_notice(
            session,
            actor,
            department_id=body.department_id,
            content=body.content,
            reply_days=body.reply_days,
            case_id=body.case_id,
        )
    )


@router.post("/supervision/notices/{notice_id}/reply", summary="部门回复督办单")
async def reply(notice_id: int, body: ReplyBody, session: DB, actor: CurrentActor) -> dict:
    return _notice(await supervision.reply_notice(session, actor, notice_id, reply=body.reply))


@router.post("/supervision/notices/{notice_id}/close", summary="办结督办单")
async def close(notice_id: int, session: DB, actor: CurrentActor) -> dict:
    return _notice(await supervision.close_notice(session, actor, notice_id))
