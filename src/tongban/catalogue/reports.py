"""Catalogue reports (事项报告): consistency, guide quality, 全程网办.

- ``consistency_report``: "同标同源 / 四级同" — every published implementation
  entry whose same-at-every-level elements differ from its base item's
  published version, or whose promised limit exceeds the statutory one
  (``checks.consistency_diffs``), with counts per region, department and finding.
- ``guide_quality_report``: the guide-quality rules (``checks.guide_problems``)
  per published entry (or per published base item), with counts per rule.
- ``online_rates`` / ``online_entries``: the 全程网办 list — each published
  entry done / can / cannot with its reason — and the rates the dashboard reads.

Who reads: staff with ``platform_admin``, ``supervisor`` or ``leader``, over
their region subtree (filtered in SQL). Findings depend only on the contents
of two immutable published versions, so they are cached by content hash: a
report repeated over unchanged data loads ids and hashes, not documents.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import checks
from tongban.catalogue.models import (
    NATIONAL,
    ONLINE_STATUSES,
    CatalogueItem,
    Implementation,
    ImplementationVersion,
    ItemVersion,
)
from tongban.catalogue.schemas import ItemFields, LocalFields
from tongban.core import scope
from tongban.core.errors import NotFound, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.regions.models import Department, Region

READER_ROLES = ("platform_admin", "supervisor", "leader")
PER_PAGE = 50

CONSISTENCY_LABELS = {
    "name_differs": "事项名称不一致",
    "type_differs": "事项类型不一致",
    "basis_differs": "设定依据不一致",
    "conditions_differ": "受理条件不一致",
    "materials_differ": "申请材料不一致",
    "statutory_differs": "法定办结时限不一致",
    "promised_exceeds_statutory": "承诺时限长于法定时限",
}
GUIDE_LABELS = {
    "depth4_visits": "Ⅳ级网办却需到现场",
    "visit_reason_missing": "到现场未说明原因",
    "zero_visits_no_post": "零跑动但不支持快递申请",
    "instant_not_instant_case": "即办事项不是即办件",
    "instant_case_with_limit": "即办件有承诺时限",
    "payment_without_fee": "不收费却支持网上支付",
    "fee_items_missing": "收费未列收费项目",
    "fee_basis_missing": "收费缺少依据",
    "promised_exceeds_statutory": "承诺时限长于法定时限",
    "online_depth_without_online_form": "网办深度与办理形式不符",
    "legal_basis_missing": "缺少设定依据",
    "conditions_missing": "缺少受理条件",
    "materials_missing": "承诺件未列申请材料",
    "consult_phone_missing": "缺少咨询电话",
    "supervise_phone_missing": "缺少监督投诉电话",
    "place_missing": "缺少办理地点或时间",
    "licence_type_missing": "证照结果未指定证照类型",
}


# --- who may read ---------------------------------------------------------------------


def require_reader(actor: Actor) -> None:
    if actor.kind != "staff" or not actor.has_any_role(*READER_ROLES):
        raise PermissionDenied(
            "只有平台管理员、电子监察和领导可以查看事项报告", code="catalogue_reports_forbidden"
        )


def report_root(actor: Actor, region_code: str | None) -> str:
    """The region a report covers: the actor's own, or ``region_code`` within it."""
    require_reader(actor)
    if not region_code:
        return actor.region_code
    text = region_code.strip()
    if not (text.isascii() and text.isdigit() and len(text) in (2, 4, 6, 9, 12)):
        raise ValidationFailed(
            "行政区划代码应为 2、4、6、9 或 12 位数字",
            code="invalid_region",
            details=[{"field": "region", "message": "格式不正确"}],
        )
    code = scope.normalise(text)
    if actor.region_code != NATIONAL and not scope.is_within(code, actor.region_code):
        raise NotFound("该区划不在您的管辖范围内", code="region_out_of_scope")
    return code


def _in_root(column: Any, root: str) -> Any:
    """``column`` lies in the subtree of ``root``; a national office's subtree is every region."""
    if root == NATIONAL:
        return column.is_not(None)
    return scope.in_subtree(column, root)


# --- the findings cache ------------------------------------------------------------------


class _LRU:
    def __init__(self, size: int) -> None:
        self.size, self.data = size, OrderedDict[Any, tuple[checks.Finding, ...]]()

    def get(self, key: Any) -> tuple[checks.Finding, ...] | None:
        found = self.data.get(key)
        if found is not None:
            self.data.move_to_end(key)
        return found

    def put(self, key: Any, value: tuple[checks.Finding, ...]) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)


# Keyed by content hashes of immutable published versions: an entry never goes stale.
_consistency_cache = _LRU(200_000)
_guide_cache = _LRU(200_000)


async def _fields_by_version(
    session: AsyncSession, model: Any, ids: list[int], *, local: bool = False
) -> dict[int, Any]:
    out: dict[int, Any] = {}
    cols = (model.id, model.fields, model.local) if local else (model.id, model.fields)
    for i in range(0, len(ids), 500):
        for row in (
            await session.execute(select(*cols).where(model.id.in_(ids[i : i + 500])))
        ).all():
            out[row[0]] = row[1:] if local else row[1]
    return out


# --- the rows every implementation report starts from -------------------------------------------


@dataclass
class EntryRow:
    """A published implementation entry as the reports list it."""

    id: int
    impl_code: str
    name: str
    region_code: str
    department_id: int
    item_id: int
    base_code: str
    findings: list[checks.Finding] = field(default_factory=list)
    region_name: str = ""
    department_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "impl_code": self.impl_code,
            "name": self.name,
            "region_code": self.region_code,
            "region_name": self.region_name,
            "department_id": self.department_id,
            "department_name": self.department_name,
            "base_code": self.base_code,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass
class Breakdown:
    """Counts per region or department: entries checked and those with findings."""

    key: str | int
    name: str
    checked: int = 0
    flagged: int = 0
    findings: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "checked": self.checked,
            "flagged": self.flagged,
            "findings": self.findings,
        }


@dataclass
class FindingsReport:
    kind: str  # consistency | guide
    region_code: str
    checked: int
    rows: list[EntryRow]  # this page
    total: int  # rows with findings (after all filters)
    page: int
    pages: int
    by_code: dict[
        str, int
    ]  # finding code → number of findings (region and department filters only)
    by_region: list[Breakdown]
    by_department: list[Breakdown]
    labels: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "region_code": self.region_code,
            "checked": self.checked,
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
            "by_code": [
                {"code": c, "label": self.labels.get(c, c), "count": n}
                for c, n in self.by_code.items()
            ],
            "by_region": [b.as_dict() for b in self.by_region],
            "by_department": [b.as_dict() for b in self.by_department],
            "rows": [r.as_dict() for r in self.rows],
        }


def _entries_stmt(root: str, department_id: int | None) -> Any:
    stmt = (
        select(
            Implementation.id,
            Implementation.impl_code,
            Implementation.name,
            Implementation.region_code,
            Implementation.department_id,
            Implementation.item_id,
            CatalogueItem.base_code,
            ImplementationVersion.id,
            ImplementationVersion.content_hash,
            ItemVersion.id,
            ItemVersion.content_hash,
        )
        .join(
            ImplementationVersion, ImplementationVersion.id == Implementation.published_version_id
        )
        .join(CatalogueItem, CatalogueItem.id == Implementation.item_id)
        .join(
            ItemVersion,
            (ItemVersion.item_id == CatalogueItem.id)
            & (ItemVersion.version == CatalogueItem.published_version),
        )
        .where(_in_root(Implementation.region_code, root), Implementation.status == "published")
        .order_by(Implementation.region_code, Implementation.department_id, Implementation.id)
    )
    if department_id is not None:
        stmt = stmt.where(Implementation.department_id == department_id)
    return stmt


async def _names(
    session: AsyncSession, regions: set[str], departments: set[int]
) -> tuple[dict[str, str], dict[int, str]]:
    rnames: dict[str, str] = {}
    for chunk in _chunks(sorted(regions)):
        rnames.update(
            dict(
                (
                    await session.execute(
                        select(Region.code, Region.full_name).where(Region.code.in_(chunk))
                    )
                ).all()
            )
        )
    dnames: dict[int, str] = {}
    for chunk in _chunks(sorted(departments)):
        dnames.update(
            dict(
                (
                    await session.execute(
                        select(Department.id, Department.name).where(Department.id.in_(chunk))
                    )
                ).all()
            )
        )
    return rnames, dnames


def _chunks(values: list[Any], n: int = 500) -> list[list[Any]]:
    return [values[i : i + n] for i in range(0, len(values), n)]


async def _finish(
    session: AsyncSession,
    kind: str,
    root: str,
    checked: list[EntryRow],
    *,
    code: str | None,
    page: int,
    labels: dict[str, str],
    per_page: int = PER_PAGE,
) -> FindingsReport:
    by_code: Counter[str] = Counter(f.code for r in checked for f in r.findings)
    shown = [
        r
        for r in checked
        if r.findings and (code is None or any(f.code == code for f in r.findings))
    ]
    if code is not None:
        for r in shown:
            r.findings = [f for f in r.findings if f.code == code] + [
                f for f in r.findings if f.code != code
            ]
    regions: dict[str, Breakdown] = {}
    depts: dict[int, Breakdown] = {}
    for r in checked:
        hit = [f for f in r.findings if code is None or f.code == code]
        for table, key in ((regions, r.region_code), (depts, r.department_id)):
            b = table.setdefault(key, Breakdown(key, ""))  # type: ignore[arg-type]
            b.checked += 1
            b.flagged += int(bool(hit))
            b.findings += len(hit)
    rnames, dnames = await _names(session, set(regions), set(depts))
    for b in regions.values():
        b.name = rnames.get(str(b.key), str(b.key))
    for b in depts.values():
        b.name = dnames.get(int(b.key), str(b.key))
    pages = max(1, -(-len(shown) // per_page))
    page = min(max(page, 1), pages)
    rows = shown[(page - 1) * per_page : page * per_page]
    for r in rows:
        r.region_name, r.department_name = (
            rnames.get(r.region_code, r.region_code),
            dnames.get(r.department_id, ""),
        )
    order = [c for c in labels if c in by_code] + sorted(c for c in by_code if c not in labels)
    return FindingsReport(
        kind,
        root,
        len(checked),
        rows,
        len(shown),
        page,
        pages,
        {c: by_code[c] for c in order},
        sorted(regions.values(), key=lambda b: str(b.key)),
        sorted(depts.values(), key=lambda b: (-b.flagged, b.name)),
        labels,
    )


def _check_code(code: str | None, labels: dict[str, str]) -> str | None:
    if not code:
        return None
    if code not in labels:
        raise ValidationFailed(
            f"未知的问题类型：{code}",
            code="invalid_finding_code",
            details=[{"field": "code", "message": "取值不在允许范围内"}],
        )
    return code


# --- (a) consistency ------------------------------------------------------------------------------


async def consistency_report(
    session: AsyncSession,
    actor: Actor,
    *,
    region_code: str | None = None,
    department_id: int | None = None,
    code: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> FindingsReport:
    """同标同源 / 四级同 over the actor's subtree (or ``region_code`` within it)."""
    root = report_root(actor, region_code)
    code = _check_code(code, CONSISTENCY_LABELS)
    rows = (await session.execute(_entries_stmt(root, department_id))).all()
    todo: dict[tuple[str, str], tuple[int, int]] = {}
    for r in rows:
        key = (r[8], r[10])
        if _consistency_cache.get(key) is None:
            todo[key] = (r[7], r[9])
    if todo:
        impl_docs = await _fields_by_version(
            session, ImplementationVersion, sorted({v for v, _ in todo.values()})
        )
        base_docs = await _fields_by_version(
            session, ItemVersion, sorted({b for _, b in todo.values()})
        )
        for key, (v, b) in todo.items():
            findings = checks.consistency_diffs(
                ItemFields.model_validate(base_docs[b]), ItemFields.model_validate(impl_docs[v])
            )
            _consistency_cache.put(key, tuple(findings))
    checked = [
        EntryRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            list(_consistency_cache.get((r[8], r[10])) or ()),
        )
        for r in rows
    ]
    return await _finish(
        session,
        "consistency",
        root,
        checked,
        code=code,
        page=page,
        labels=CONSISTENCY_LABELS,
        per_page=per_page,
    )


# --- (b) guide quality ------------------------------------------------------------------------------


async def guide_quality_report(
    session: AsyncSession,
    actor: Actor,
    *,
    region_code: str | None = None,
    department_id: int | None = None,
    code: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> FindingsReport:
    """The guide-quality rules over the published entries of the subtree (the guides people read)."""
    root = report_root(actor, region_code)
    code = _check_code(code, GUIDE_LABELS)
    rows = (await session.execute(_entries_stmt(root, department_id))).all()
    todo = {r[8]: r[7] for r in rows if _guide_cache.get(("impl", r[8])) is None}
    if todo:
        docs = await _fields_by_version(
            session, ImplementationVersion, sorted(set(todo.values())), local=True
        )
        for h, v in todo.items():
            fields, local = docs[v]
            _guide_cache.put(
                ("impl", h),
                tuple(
                    checks.guide_problems(
                        ItemFields.model_validate(fields), LocalFields.model_validate(local)
                    )
                ),
            )
    checked = [
        EntryRow(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], list(_guide_cache.get(("impl", r[8])) or ())
        )
        for r in rows
    ]
    return await _finish(
        session,
        "guide",
        root,
        checked,
        code=code,
        page=page,
        labels=GUIDE_LABELS,
        per_page=per_page,
    )


@dataclass
class BaseItemRow:
    id: int
    base_code: str
    name: str
    region_code: str
    findings: list[checks.Finding]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "base_code": self.base_code,
            "name": self.name,
            "region_code": self.region_code,
            "findings": [f.as_dict() for f in self.findings],
        }


async def base_guide_quality(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> tuple[list[BaseItemRow], int, int, int, dict[str, int]]:
    """The guide-quality rules over published base items the actor's entries derive from or
    that belong to the actor's subtree. Returns (page rows, problem items, pages, checked, counts by rule)."""
    require_reader(actor)
    code = _check_code(code, GUIDE_LABELS)
    used = select(Implementation.item_id).where(
        _in_root(Implementation.region_code, actor.region_code)
    )
    stmt = (
        select(
            CatalogueItem.id,
            CatalogueItem.base_code,
            CatalogueItem.name,
            CatalogueItem.region_code,
            ItemVersion.id,
            ItemVersion.content_hash,
        )
        .join(
            ItemVersion,
            (ItemVersion.item_id == CatalogueItem.id)
            & (ItemVersion.version == CatalogueItem.published_version),
        )
        .where(
            CatalogueItem.status == "published",
            _in_root(CatalogueItem.region_code, actor.region_code) | CatalogueItem.id.in_(used),
        )
        .order_by(CatalogueItem.region_code, CatalogueItem.base_code)
    )
    rows = (await session.execute(stmt)).all()
    todo = {r[5]: r[4] for r in rows if _guide_cache.get(("base", r[5])) is None}
    if todo:
        docs = await _fields_by_version(session, ItemVersion, sorted(set(todo.values())))
        for h, v in todo.items():
            _guide_cache.put(
                ("base", h), tuple(checks.guide_problems(ItemFields.model_validate(docs[v])))
            )
    checked = [
        BaseItemRow(r[0], r[1], r[2], r[3], list(_guide_cache.get(("base", r[5])) or ()))
        for r in rows
    ]
    counts: Counter[str] = Counter(f.code for r in checked for f in r.findings)
    shown = [
        r
        for r in checked
        if r.findings and (code is None or any(f.code == code for f in r.findings))
    ]
    pages = max(1, -(-len(shown) // per_page))
    page = min(max(page, 1), pages)
    ordered = {c: counts[c] for c in GUIDE_LABELS if c in counts}
    return shown[(page - 1) * per_page : page * per_page], len(shown), pages, len(checked), ordered


# --- (c) 全程网办 ------------------------------------------------------------------------------------


@dataclass
class RateRow:
    key: str | int
    name: str
    done: int = 0
    can: int = 0
    cannot: int = 0

    @property
    def total(self) -> int:
        return self.done + self.can + self.cannot

    @property
    def rate(self) -> float:
        """全程网办率: entries done online end to end / published entries."""
        return self.done / self.total if self.total else 0.0

    @property
    def capable_rate(self) -> float:
        """Entries done or ready to be done online / published entries."""
        return (self.done + self.can) / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "total": self.total,
            "done": self.done,
            "can": self.can,
            "cannot": self.cannot,
            "rate": round(self.rate, 4),
            "capable_rate": round(self.capable_rate, 4),
        }


@dataclass
class OnlineRates:
    """What the dashboard reads: counts and the 全程网办 rate, overall and per region and department."""

    region_code: str
    overall: RateRow
    by_region: list[RateRow]
    by_department: list[RateRow]
    overridden: int

    @property
    def total(self) -> int:
        return self.overall.total

    @property
    def rate(self) -> float:
        return self.overall.rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "region_code": self.region_code,
            **self.overall.as_dict(),
            "overridden": self.overridden,
            "by_region": [r.as_dict() for r in self.by_region],
            "by_department": [r.as_dict() for r in self.by_department],
        }


def _online_filter(stmt: Any, root: str, department_id: int | None) -> Any:
    stmt = stmt.where(
        _in_root(Implementation.region_code, root), Implementation.status == "published"
    )
    if department_id is not None:
        stmt = stmt.where(Implementation.department_id == department_id)
    return stmt


async def online_rates(
    session: AsyncSession,
    actor: Actor,
    region_code: str | None = None,
    *,
    department_id: int | None = None,
) -> OnlineRates:
    """Counts of published entries done / can / cannot, with the 全程网办 rate (done / total),
    over the actor's subtree or ``region_code`` within it; per region and per department."""
    root = report_root(actor, region_code)
    stmt = _online_filter(
        select(
            Implementation.region_code,
            Implementation.department_id,
            Implementation.online_status,
            func.count(),
            func.sum(case((Implementation.online_override.is_(True), 1), else_=0)),
        ).group_by(
            Implementation.region_code, Implementation.department_id, Implementation.online_status
        ),
        root,
        department_id,
    )
    overall = RateRow(root, "")
    regions: dict[str, RateRow] = {}
    depts: dict[int, RateRow] = {}
    overridden = 0
    for region, dept, status, n, over in (await session.execute(stmt)).all():
        if status not in ONLINE_STATUSES:
            continue
        overridden += int(over or 0)
        for row in (
            overall,
            regions.setdefault(region, RateRow(region, "")),
            depts.setdefault(dept, RateRow(dept, "")),
        ):
            setattr(row, status, getattr(row, status) + n)
    rnames, dnames = await _names(session, set(regions) | {root}, set(depts))
    overall.name = rnames.get(root, "全国" if root == NATIONAL else root)
    for r in regions.values():
        r.name = rnames.get(str(r.key), str(r.key))
    for r in depts.values():
        r.name = dnames.get(int(r.key), str(r.key))
    return OnlineRates(
        root,
        overall,
        sorted(regions.values(), key=lambda r: str(r.key)),
        sorted(depts.values(), key=lambda r: (-r.rate, r.name)),
        overridden,
    )


@dataclass
class OnlineEntry:
    id: int
    impl_code: str
    name: str
    region_code: str
    department_id: int
    status: str
    reason: str
    overridden: bool
    region_name: str = ""
    department_name: str = ""

    @property
    def status_label(self) -> str:
        return ONLINE_STATUSES.get(self.status, self.status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "impl_code": self.impl_code,
            "name": self.name,
            "region_code": self.region_code,
            "region_name": self.region_name,
            "department_id": self.department_id,
            "department_name": self.department_name,
            "status": self.status,
            "status_label": self.status_label,
            "reason": self.reason,
            "overridden": self.overridden,
        }


async def online_entries(
    session: AsyncSession,
    actor: Actor,
    *,
    region_code: str | None = None,
    department_id: int | None = None,
    status: str | None = None,
    overridden: bool | None = None,
    after: int | None = None,
    limit: int = PER_PAGE,
) -> tuple[list[OnlineEntry], int | None]:
    """The 全程网办 list: published entries with their classification, keyset-paginated by id."""
    root = report_root(actor, region_code)
    if status and status not in ONLINE_STATUSES:
        raise ValidationFailed(
            f"未知的全程网办认定：{status}",
            code="invalid_online_status",
            details=[{"field": "status", "message": "取值不在允许范围内"}],
        )
    stmt = (
        _online_filter(
            select(
                Implementation.id,
                Implementation.impl_code,
                Implementation.name,
                Implementation.region_code,
                Implementation.department_id,
                Implementation.online_status,
                Implementation.online_reason,
                Implementation.online_override,
            ),
            root,
            department_id,
        )
        .order_by(Implementation.id)
        .limit(limit + 1)
    )
    if status:
        stmt = stmt.where(Implementation.online_status == status)
    if overridden is not None:
        stmt = stmt.where(Implementation.online_override.is_(overridden))
    if after:
        stmt = stmt.where(Implementation.id > after)
    rows = [OnlineEntry(*r) for r in (await session.execute(stmt)).all()]
    nxt = rows[limit - 1].id if len(rows) > limit else None
    rows = rows[:limit]
    rnames, dnames = await _names(
        session, {r.region_code for r in rows}, {r.department_id for r in rows}
    )
    for r in rows:
        r.region_name, r.department_name = (
            rnames.get(r.region_code, r.region_code),
            dnames.get(r.department_id, ""),
        )
    return rows, nxt


async def access_entry(session: AsyncSession, actor: Actor, impl_id: int) -> OnlineEntry:
    """One published or draft entry in the reader's subtree (NotFound outside it)."""
    require_reader(actor)
    row = (
        await session.execute(
            select(
                Implementation.id,
                Implementation.impl_code,
                Implementation.name,
                Implementation.region_code,
                Implementation.department_id,
                Implementation.online_status,
                Implementation.online_reason,
                Implementation.online_override,
            ).where(
                Implementation.id == impl_id,
                _in_root(Implementation.region_code, actor.region_code),
            )
        )
    ).first()
    if row is None:
        raise NotFound("实施清单不存在", code="implementation_not_found")
    e = OnlineEntry(*row)
    rnames, dnames = await _names(session, {e.region_code}, {e.department_id})
    e.region_name, e.department_name = (
        rnames.get(e.region_code, e.region_code),
        dnames.get(e.department_id, ""),
    )
    return e


async def entry_findings(
    session: AsyncSession, actor: Actor, impl_id: int
) -> tuple[OnlineEntry, list[checks.Finding], int | None]:
    """An entry with its consistency findings (published version against the base's) and its draft version, if any."""
    e = await access_entry(session, actor, impl_id)
    impl = await session.get(Implementation, impl_id)
    assert impl is not None
    findings: list[checks.Finding] = []
    if impl.published_version_id:
        item = await session.get(CatalogueItem, impl.item_id)
        v = await session.get(ImplementationVersion, impl.published_version_id)
        if item is not None and v is not None and item.published_version:
            base = (
                await session.execute(
                    select(ItemVersion.fields).where(
                        ItemVersion.item_id == item.id,
                        ItemVersion.version == item.published_version,
                    )
                )
            ).scalar_one()
            findings = checks.consistency_diffs(
                ItemFields.model_validate(base), ItemFields.model_validate(v.fields)
            )
    draft = impl.current_version if impl.current_version != impl.published_version else None
    return e, findings, draft


async def departments_in(
    session: AsyncSession, actor: Actor, root: str
) -> list[tuple[int, str, str]]:
    """(id, name, region full name) of departments with entries in the subtree, for the filters."""
    require_reader(actor)
    stmt = (
        select(Department.id, Department.name, Region.full_name)
        .join(Region, Region.code == Department.region_code)
        .where(
            _in_root(Department.region_code, root),
            Department.id.in_(
                select(Implementation.department_id).where(
                    _in_root(Implementation.region_code, root)
                )
            ),
        )
        .order_by(Department.region_code, Department.name)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]


async def regions_in(session: AsyncSession, actor: Actor, root: str) -> list[tuple[str, str]]:
    """(code, full name) of regions with entries in the subtree, for the filters."""
    require_reader(actor)
    codes = (
        select(Implementation.region_code)
        .where(_in_root(Implementation.region_code, root))
        .distinct()
    )
    stmt = select(Region.code, Region.full_name).where(Region.code.in_(codes)).order_by(Region.code)
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]
