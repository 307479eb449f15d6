"""Catalogue import and export: template cells, every error reported before
anything is written, xlsx / CSV / GB18030 round trips into a fresh database,
idempotent re-imports, the Sichuan list (a small inline one and the real
1,135 rows of 广安区), the command line, and the import pages and API."""

from __future__ import annotations

import csv
import io as stdio
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests import builders as b
from tests.catalogue.helpers import admin, base_code, fields, published_impl, published_item
from tests.shared_data import shared_data
from tongban.catalogue import codes, io, service
from tongban.catalogue.demo_catalogue import ITEMS
from tongban.catalogue.models import (
    CatalogueChange,
    CatalogueItem,
    Implementation,
    ItemVersion,
)
from tongban.catalogue.schemas import ItemFields, dump
from tongban.core.audit import AuditEntry
from tongban.core.db import create_engine, make_sessionmaker
from tongban.core.identifiers import make_credit_code
from tongban.core.settings import Settings
from tongban.regions.models import Department

RICH: dict[str, Any] = fields(
    name="公共场所卫生许可",
    legal_basis=[
        {
            "title": "《公共场所卫生管理条例》",
            "article": "第八条",
            "text": "公共场所经营单位应当申请卫生许可证。",
        },
        {"title": "《公共场所卫生管理条例实施细则》"},
    ],
    levels=["3", "4"],
    service_objects=["2", "6"],
    materials=[
        {"name": "卫生许可证申请表", "issuer": "申请人自备", "originals": 1, "required": True},
        {
            "name": "营业执照",
            "issuer": "市场监管部门",
            "copies": 1,
            "kind": "electronic",
            "licence_type_code": "113700000000000000001",
            "note": "可调用电子证照",
        },
        {
            "name": "卫生检测报告",
            "issuer": "检测机构",
            "originals": 1,
            "copies": 2,
            "required": False,
            "kind": "paper",
            "commitment_allowed": True,
            "data_element": "env.report",
            "form_file": "a" * 64,
            "sample_file": "b" * 64,
        },
    ],
    statutory_limit={"value": 20, "unit": "working_day", "note": "不含现场审查时间"},
    promised_limit={"value": 48, "unit": "hour", "note": "告知承诺"},
    fee_charged=True,
    fees=[{"name": "检测费", "standard": "按项目", "basis": "《收费标准》第二条"}],
    handling_forms=["1", "2", "4"],
    visits=1,
    visit_reason="须现场核查场所",
    online_depth=3,
    online_url="https://example.gov.cn/apply",
    online_payment=True,
    appointment=True,
    express=True,
    tongban_scope="cross_city",
    special_procedures=[
        {
            "kind": "2",
            "name": "现场核查",
            "limit": {"value": 10, "unit": "working_day", "note": "不计入时限"},
        },
        {"kind": "1", "name": "延长审批"},
    ],
    steps=[
        {"name": "受理", "actor": "综合窗口", "role": "clerk", "limit": {"value": 0}},
        {
            "name": "审查",
            "actor": "承办科室",
            "role": "approver",
            "limit": {"value": 3, "note": "含核查"},
            "description": "书面审查",
        },
        {"name": "决定"},
    ],
    result={
        "kind": "licence",
        "name": "公共场所卫生许可证",
        "licence_type_code": "113700000000000000002",
        "sample_file": "c" * 64,
    },
    quantity_limit="无",
    intermediary="卫生检测",
    joint_departments=["消防救援机构", "生态环境局"],
    themes=["permit", "start_business"],
    keywords=["卫生许可证", "开美容院"],
    summary="宾馆、美容美发场所开业前申请。",
    conditions="卫生设施符合标准。\n有卫生管理制度。",
)


def canonical(d: dict[str, Any]) -> dict[str, Any]:
    return dump(ItemFields.model_validate(d))


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc", [RICH, fields()] + [i.fields for i in ITEMS], ids=lambda d: d["name"]
)
def test_cells_round_trip(doc: dict[str, Any]) -> None:
    want = canonical(doc)
    cells = io.fields_to_cells(want)
    back, problems = io.cells_to_fields(cells)
    assert problems == []
    assert canonical(back) == want


def test_implementation_cells_hold_only_differences() -> None:
    base = canonical(RICH)
    impl = canonical(
        {
            **RICH,
            "name": "公共场所卫生许可（县级）",
            "conditions": "",
            "materials": RICH["materials"][:2],
            "visits": 2,
        }
    )
    data = io.ExportData([], [])
    cells = {}
    for col in io.ITEM_COLUMNS:
        mine, theirs = col.get(impl), col.get(base)
        cells[col.header] = "" if mine == theirs else (mine or io.EMPTY)
    data.impl_rows.append(list(cells.values()))
    assert {h for h, v in cells.items() if v} == {"事项名称", "受理条件", "申请材料", "到现场次数"}
    assert cells["受理条件"] == io.EMPTY
    back, problems = io.cells_to_fields(cells, base=base)
    assert problems == [] and canonical(back) == impl


@pytest.mark.parametrize(
    ("header", "text", "field", "value"),
    [
        ("事项类型", "1", "item_type", "01"),
        ("事项类型", "01 行政许可", "item_type", "01"),
        ("事项类型", "公共服务", "item_type", "20"),
        ("事项类型", "行政确认事项", "item_type", "07"),
        ("法定办结时限", "20工作日", "statutory_limit", {"value": 20, "unit": "working_day"}),
        ("法定办结时限", "30 天", "statutory_limit", {"value": 30, "unit": "natural_day"}),
        ("法定办结时限", "当场办结", "statutory_limit", {"value": 0, "unit": "working_day"}),
        ("承诺办结时限", "4小时", "promised_limit", {"value": 4, "unit": "hour"}),
        ("网办深度", "IV", "online_depth", 4),
        ("网办深度", "Ⅲ级（网上受理，现场核验）", "online_depth", 3),
        ("办理形式", "窗口，网上办理、邮寄", "handling_forms", ["1", "2", "4"]),
        ("行使层级", "市级、县", "levels", ["3", "4"]),
        ("服务对象", "企业", "service_objects", ["2"]),
        ("办件类型", "即办件", "case_type", "1"),
        ("是否收费", "否", "fee_charged", False),
        ("通办范围", "跨省", "tongban_scope", "cross_province"),
    ],
)
def test_cell_spellings(header: str, text: str, field: str, value: Any) -> None:
    doc, problems = io.cells_to_fields({header: text})
    assert problems == []
    assert doc[field] == value


# --- writing template files in tests ---------------------------------------------------------------


def template_csv(
    headers: list[str], rows: list[dict[str, str]], encoding: str = "utf-8-sig"
) -> bytes:
    buf = stdio.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(headers)
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    return buf.getvalue().encode(encoding)


def base_row(code: str, **cells: str) -> dict[str, str]:
    row = io.fields_to_cells(canonical(fields()))
    row.update({"基本编码": code, "所属区划代码": "000000000000", **cells})
    return row


def impl_row(
    impl_code: str, base: str, dept: str, credit: str = "", region: str = b.LIXIA, **cells: str
) -> dict[str, str]:
    return {
        "实施编码": impl_code,
        "基本编码": base,
        "实施区划代码": region,
        "实施部门": dept,
        "部门统一社会信用代码": credit,
        "办理地点": "历下区政务服务中心",
        "办理时间": "工作日 9:00-17:00",
        **cells,
    }


def gb_code(credit: str, base: str, level: str = "4") -> str:
    return codes.make_implementation_code(credit, level, base)


# --- every error, nothing written -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
async def test_every_error_is_reported_with_row_and_column_and_nothing_is_written(
    session, encoding
) -> None:
    a = await admin(session)
    credit = make_credit_code("11370102MB0000901")
    good, second = base_code(), base_code()
    base = template_csv(
        io.BASE_HEADERS,
        [
            base_row(good),  # 2 fine
            base_row("3701"),  # 3 code too short
            base_row(base_code(), 事项类型="33"),  # 4 unknown type
            base_row(base_code(), 法定办结时限="二十天"),  # 5 limit
            base_row(base_code(), 申请材料="申请书|申请人|一份|0|是"),  # 6 originals not a number
            base_row(good),  # 7 duplicate of 2
            base_row(base_code("20"), 事项类型="行政许可"),  # 8 code says 20, cell 01
            base_row(second, 到现场次数="11"),  # 9 too many visits
        ],
        encoding,
    )
    impl = template_csv(
        io.IMPL_HEADERS,
        [
            impl_row(gb_code(credit, good), good, "历下区市场监督管理局", credit),  # 2 fine
            impl_row("XYZ", good, "历下区市场监督管理局"),  # 3 bad code
            impl_row(
                gb_code(credit, "379900009000"), "379900009000", "历下区市场监督管理局"
            ),  # 4 unknown base
            impl_row(
                gb_code(credit, good)[:-1] + "9", good, "某部门", region="999900"
            ),  # 5 unknown region
            impl_row(
                gb_code(make_credit_code("11370102MB0000902"), good),
                good,
                "历下区卫生健康局",
                "123",
            ),  # 6 credit code
            impl_row(
                gb_code(make_credit_code("11370102MB0000903"), good),
                good,
                "历下区民政局",
                到现场次数="很多",
            ),  # 7
        ],
        encoding,
    )
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(
            session, a, [io.Source("基本目录.csv", base), io.Source("实施清单.csv", impl)]
        )
    report = e.value.report
    got = {(x.sheet.split("「")[1].rstrip("」"), x.row, x.column) for x in report.errors}
    assert got == {
        ("基本目录.csv", 3, "基本编码"),
        ("基本目录.csv", 4, "事项类型"),
        ("基本目录.csv", 5, "法定办结时限"),
        ("基本目录.csv", 6, "申请材料"),
        ("基本目录.csv", 7, "基本编码"),
        ("基本目录.csv", 8, "事项类型"),
        ("基本目录.csv", 9, "到现场次数"),
        ("实施清单.csv", 3, "实施编码"),
        ("实施清单.csv", 4, "基本编码"),
        ("实施清单.csv", 5, "实施区划代码"),
        ("实施清单.csv", 6, "部门统一社会信用代码"),
        ("实施清单.csv", 7, "到现场次数"),
    }, [str(x) for x in report.errors]
    assert report.error_count == 12 and e.value.code == "catalogue_import_invalid"
    messages = {
        (x.row, x.column): x.message for x in report.errors if x.sheet.endswith("基本目录.csv」")
    }
    assert "第 2 行重复" in messages[(7, "基本编码")] and "原件份数" in messages[(6, "申请材料")]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in x.message) for x in report.errors)
    assert e.value.details and e.value.details[0]["row"]
    for model in (CatalogueItem, Implementation, CatalogueChange):
        assert (await session.execute(select(func.count()).select_from(model))).scalar_one() == 0
    assert (
        await session.execute(select(Department).where(Department.name == "历下区市场监督管理局"))
    ).first() is None


async def test_unreadable_files_are_refused(session) -> None:
    a = await admin(session)
    from tongban.core.errors import ValidationFailed

    for src, code in (
        (io.Source("x.csv", "名称,编号\n甲,1\n".encode()), "import_unknown_layout"),
        (io.Source("x.csv", b"\xff\xfe\x00\x01\x80\x81\xfe"), "import_encoding"),
        (io.Source("x.xlsx", b"PK\x03\x04 not a zip"), "import_unreadable"),
    ):
        with pytest.raises(ValidationFailed) as e:
            await io.import_catalogue(session, a, [src])
        assert e.value.code == code, src.name


async def test_a_nul_in_a_cell_is_an_error_of_its_row(session) -> None:
    # PostgreSQL refuses U+0000 in text: the import must report it, not fail on it
    a = await admin(session)
    data = template_csv(
        io.BASE_HEADERS,
        [base_row(base_code(), 事项名称="某\x00事项"), base_row("3701")],
    )
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(session, a, [io.Source("b.csv", data)])
    assert [(x.row, x.column) for x in e.value.report.errors] == [(2, "事项名称"), (3, "基本编码")]
    assert e.value.report.errors[0].message == "含有无效字符（空字符）"
    assert (
        await session.execute(select(func.count()).select_from(CatalogueItem))
    ).scalar_one() == 0


async def test_missing_columns_and_unknown_columns(session) -> None:
    a = await admin(session)
    data = template_csv(
        ["基本编码", "事项名称", "备用列"], [{"基本编码": base_code(), "事项名称": "某事项"}]
    )
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(session, a, [io.Source("b.csv", data)])
    assert [x.message for x in e.value.report.errors] == ["缺少必填列：事项类型"]
    assert [x.column for x in e.value.report.warnings] == ["备用列"]


# --- writing, idempotence ---------------------------------------------------------------------


async def test_import_writes_publishes_and_reimport_is_a_no_op(session) -> None:
    a = await admin(session)
    await service.ensure_default_themes(session)
    credit = make_credit_code("11370102MB0000911")
    code = base_code()
    base = template_csv(io.BASE_HEADERS, [base_row(code)])
    impl = template_csv(
        io.IMPL_HEADERS,
        [
            impl_row(
                gb_code(credit, code),
                code,
                "历下区市场监督管理局",
                credit,
                承诺办结时限="3个工作日",
            )
        ],
    )
    sources = [io.Source("基本目录.csv", base), io.Source("实施清单.csv", impl)]
    dry = await io.import_catalogue(session, a, sources, dry_run=True)
    assert dry.items["created"] == 1 and dry.implementations["created"] == 1
    assert (
        await session.execute(select(func.count()).select_from(CatalogueItem))
    ).scalar_one() == 0
    r = await io.import_catalogue(session, a, sources)
    assert (r.items["created"], r.implementations["created"], r.departments_created) == (
        1,
        1,
        ["历下区市场监督管理局"],
    )
    impl_row_ = (await session.execute(select(Implementation))).scalar_one()
    assert (
        impl_row_.status == "published"
        and impl_row_.online_status == "done"
        and impl_row_.level == "4"
    )
    v = await service.impl_version(session, impl_row_.id, 1)
    assert v.fields["promised_limit"]["value"] == 3 and v.form["schema"]["properties"]
    assert v.content_hash == service.content_hash(
        {"fields": v.fields, "local": v.local, "form": v.form}
    )
    item = (await session.execute(select(CatalogueItem))).scalar_one()
    assert v.base_version_id == (await service.item_version(session, item.id, 1)).id
    assert impl_row_.published_version_id == v.id
    changes = (await session.execute(select(CatalogueChange.entity, CatalogueChange.action))).all()
    assert sorted(changes) == [("implementation", "import"), ("item", "import")]
    audits = (
        await session.execute(
            select(AuditEntry.action).where(AuditEntry.action == "catalogue.import")
        )
    ).all()
    assert len(audits) == 1
    # the same file again: nothing changes
    again = await io.import_catalogue(session, a, sources)
    assert again.items == {"unchanged": 1} and again.implementations == {"unchanged": 1}
    assert (await session.execute(select(func.count()).select_from(ItemVersion))).scalar_one() == 1
    # one changed cell: one new version, published; the entry is untouched
    changed = template_csv(io.BASE_HEADERS, [base_row(code, 受理条件="新的受理条件")])
    r3 = await io.import_catalogue(session, a, [io.Source("基本目录.csv", changed)])
    assert r3.items["updated"] == 1 and r3.items["published"] == 1
    assert item.published_version == 2


async def test_no_publish_keeps_drafts_and_entries_need_a_published_base(session) -> None:
    a = await admin(session)
    code = base_code()
    credit = make_credit_code("11370102MB0000921")
    base = template_csv(io.BASE_HEADERS, [base_row(code)])
    impl = template_csv(
        io.IMPL_HEADERS, [impl_row(gb_code(credit, code), code, "历下区民政局", credit)]
    )
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(
            session, a, [io.Source("b.csv", base), io.Source("i.csv", impl)], publish=False
        )
    assert [x.column for x in e.value.report.errors] == [
        "基本编码"
    ] and "尚未发布" in e.value.report.errors[0].message
    r = await io.import_catalogue(session, a, [io.Source("b.csv", base)], publish=False)
    assert r.items["created"] == 1
    item = (await session.execute(select(CatalogueItem))).scalar_one()
    assert item.status == "draft" and item.published_version is None
    r = await io.import_catalogue(
        session, a, [io.Source("b.csv", base)]
    )  # unchanged, now published
    assert item.status == "published" and r.items["published"] == 1


async def test_block_inconsistent_publish_is_checked_before_writing(session, monkeypatch) -> None:
    from tongban.core.settings import get_settings

    a = await admin(session)
    item = await published_item(session, a)
    credit = make_credit_code("11370102MB0000931")
    impl = template_csv(
        io.IMPL_HEADERS,
        [
            impl_row(
                gb_code(credit, item.base_code),
                item.base_code,
                "历下区教育局",
                credit,
                事项名称="食品经营许可（历下）",
            )
        ],
    )
    monkeypatch.setattr(get_settings(), "catalogue_block_inconsistent_publish", True)
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(session, a, [io.Source("i.csv", impl)])
    assert [(x.row, x.column) for x in e.value.report.errors] == [(2, "事项名称")]


async def test_permissions_are_checked_per_row(session) -> None:
    qingdao = await admin(session, region=b.QINGDAO_SHINAN)
    code = base_code()
    credit = make_credit_code("11370102MB0000941")
    base = template_csv(io.BASE_HEADERS, [base_row(code)])
    impl = template_csv(
        io.IMPL_HEADERS, [impl_row(gb_code(credit, code), code, "历下区民政局", credit)]
    )
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(
            session, qingdao, [io.Source("b.csv", base), io.Source("i.csv", impl)]
        )
    assert {(x.row, x.column) for x in e.value.report.errors} == {
        (2, "所属区划代码"),
        (2, "实施部门"),
    }


# --- round trips into a fresh database ---------------------------------------------------------------------


@pytest.fixture
async def fresh_maker(template_db: str, tmp_path: Path) -> AsyncIterator[Any]:
    """A second, freshly migrated database (with the region tree and nothing else)."""
    from tests import conftest

    if conftest.PG_URL:
        name = f"tongban_fresh_{uuid.uuid4().hex[:10]}"
        admin_url = conftest._pg_admin_url()
        await conftest._pg_exec(admin_url, f'CREATE DATABASE "{name}"')
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        await conftest._prepare(url, tmp_path)
    else:
        path = tmp_path / "fresh.db"
        shutil.copyfile(make_url(template_db).database, path)
        url = f"sqlite:///{path}"
    engine = create_engine(Settings(data_dir=tmp_path, database_url=url, embedded_worker=False))
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
        if conftest.PG_URL:
            await conftest._pg_exec(
                conftest._pg_admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )


async def _documents(s) -> dict[str, Any]:
    """Every base item's and entry's latest documents, by code (what a round trip must keep)."""
    items = {i.base_code: i for i in (await s.execute(select(CatalogueItem))).scalars()}
    out: dict[str, Any] = {}
    for code, item in items.items():
        v = await service.item_version(s, item.id, item.current_version)
        out[code] = (item.region_code, item.code_scheme, v.fields)
    depts = {d.id: d for d in (await s.execute(select(Department))).scalars()}
    for impl in (await s.execute(select(Implementation))).scalars():
        v = await service.impl_version(s, impl.id, impl.current_version)
        d = depts[impl.department_id]
        out[impl.impl_code] = (
            impl.region_code,
            d.name,
            d.credit_code,
            v.fields,
            v.local,
            v.form,
            impl.level,
            impl.online_status,
        )
    return out


async def test_round_trips_xlsx_csv_and_gb18030_into_a_fresh_database(session, fresh_maker) -> None:
    a = await admin(session)
    await service.ensure_default_themes(session)
    rich = await published_item(session, a, **{k: v for k, v in RICH.items() if k != "item_type"})
    plain = await published_item(
        session, a, name="个体工商户设立登记", materials=[{"name": "申请书"}]
    )
    await published_impl(session, a, rich)
    await published_impl(
        session,
        a,
        rich,
        region=b.SHIZHONG,
        overrides={
            "name": "公共场所卫生许可证核发",
            "conditions": "",
            "materials": RICH["materials"][:1],
            "promised_limit": {"value": 30},
        },
    )
    impl = await published_impl(
        session,
        a,
        plain,
        local={"address": "市中区", "hours": "全天", "window": "3 号窗口", "traffic": "乘 K51 路"},
    )
    custom = {
        "schema": {
            "type": "object",
            "properties": {"shop": {"title": "店名", "type": "string"}},
            "required": ["shop"],
        },
        "ui": {"sections": [{"title": "信息", "fields": ["shop"]}], "fields": {}},
    }
    await service.save_implementation_draft(
        session, a, impl.id, form=custom
    )  # a draft on top of the published one
    own = await service.create_item(
        session,
        a,
        base_code=base_code(),
        fields=fields(name="省级草稿事项"),
        region_code=b.SHANDONG,
    )  # a province's own draft item
    await session.commit()
    before = await _documents(session)
    files = await io.export_catalogue(session, a, fmt="xlsx")
    csvs = await io.export_catalogue(session, a, fmt="csv")
    assert set(csvs) == {"基本目录.csv", "实施清单.csv"} and csvs["基本目录.csv"].startswith(
        b"\xef\xbb\xbf"
    )

    cli = io.command_line_actor(b.SHANDONG)  # no accounts in the fresh database
    async with fresh_maker() as s:
        r = await io.import_catalogue(
            s, cli, [io.Source("catalogue.xlsx", files["catalogue.xlsx"])]
        )
        await s.commit()
        assert r.items["created"] == 3 and r.implementations["created"] == 3
        after = await _documents(s)
    assert after == before
    assert own.base_code in after
    # the same documents in CSV (UTF-8 with BOM, and re-encoded as GB18030): nothing to change
    gb = {k: v.decode("utf-8-sig").encode("gb18030") for k, v in csvs.items()}
    for variant in (csvs, gb):
        async with fresh_maker() as s:
            again = await io.import_catalogue(s, cli, [io.Source(k, v) for k, v in variant.items()])
            assert again.items == {"unchanged": 3} and again.implementations == {"unchanged": 3}, (
                again.summary()
            )
            await s.rollback()


async def test_export_is_scoped_to_the_actors_region(session) -> None:
    a = await admin(session)
    item = await published_item(session, a)
    await published_impl(session, a, item, region=b.LIXIA)
    await published_impl(session, a, item, region=b.QINGDAO_SHINAN)
    data = await io.collect_export(session, await admin(session, region=b.JINAN))
    assert [r[2] for r in data.impl_rows] == [b.LIXIA]
    assert [r[0] for r in data.base_rows] == [item.base_code]
    from tongban.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        await io.collect_export(session, await admin(session, region=b.JINAN), region_code="3702")


# --- the Sichuan list ----------------------------------------------------------------------------------------

SICHUAN_ROWS = [
    [
        "区市监局",
        "食品（含保健食品）经营许可",
        "食品经营许可（新办）",
        "511A0101700001-511602000000-000-11511301MB051073XA-1-00",
        "511602000000",
        "1",
        "x",
        "http://www.sczwfw.gov.cn/a",
    ],
    [
        "区司法局",
        "未分类",
        "法律援助",
        "512C0107400001-511602000000-000-00877868-5-1-00",
        "511602000000",
        "20",
        "00877868-5",
        "",
    ],
    [
        "区市监局",
        "未分类",
        "企业名称争议裁决",
        "E-000021-001-1111111111111111",
        "511602000000",
        "9",
        "1",
        "",
    ],
]


def sichuan_csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = stdio.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(io.SICHUAN_HEADERS)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


async def test_sichuan_list_small(session) -> None:
    await service.ensure_default_themes(session)
    cli = io.command_line_actor("511602")
    src = io.Source("list.csv", sichuan_csv(SICHUAN_ROWS, "gb18030"))
    r = await io.import_catalogue(session, cli, [src], layout="sichuan-list")
    assert r.layout == "sichuan-list" and r.codes == {"complete": 2, "incomplete": 1}
    assert sorted(r.departments_created) == ["区司法局", "区市监局"]
    assert [(w.row, w.column) for w in r.warnings if "缺少区划" in w.message] == [(4, "itemCode")]
    assert "要素待补充" in "".join(r.defaults) or r.defaults
    depts = {d.name: d for d in (await session.execute(select(Department))).scalars()}
    assert (
        depts["区市监局"].credit_code == "11511301MB051073XA"
        and depts["区司法局"].credit_code is None
    )
    assert depts["区市监局"].region_code == "511602000000"
    items = {i.base_code: i for i in (await session.execute(select(CatalogueItem))).scalars()}
    assert set(items) == {"511A0101700001", "512C0107400001", "E-000021-001"}
    assert {i.code_scheme for i in items.values()} == {"free"} and {
        i.region_code for i in items.values()
    } == {"510000000000"}
    assert items["E-000021-001"].item_type == "09" and items["512C0107400001"].item_type == "20"
    impls = {i.impl_code: i for i in (await session.execute(select(Implementation))).scalars()}
    assert {i.code_scheme for i in impls.values()} == {"sichuan"}
    v = await service.impl_version(session, impls[SICHUAN_ROWS[0][3]].id, 1)
    assert v.fields["online_url"] == "http://www.sczwfw.gov.cn/a" and v.fields["keywords"] == [
        "食品（含保健食品）经营许可"
    ]
    assert "要素待补充" in v.fields["statutory_limit"]["note"] and "permit" in v.fields["themes"]
    # an administrator completes one item; a re-import of the list keeps that work
    food = items["511A0101700001"]
    enriched = {
        **(await service.item_version(session, food.id, 1)).fields,
        "materials": [{"name": "食品经营许可申请书"}],
    }
    await service.save_item_draft(session, io.command_line_actor("51"), food.id, enriched)
    await service.publish_item(session, io.command_line_actor("51"), food.id)
    again = await io.import_catalogue(session, cli, [src])
    assert again.items == {"unchanged": 3} and again.implementations == {"unchanged": 3}
    # the list renames an item: the name changes, the materials stay
    renamed = [list(r) for r in SICHUAN_ROWS]
    renamed[0][2] = "食品经营许可（新办证）"
    r3 = await io.import_catalogue(session, cli, [io.Source("list.csv", sichuan_csv(renamed))])
    assert r3.items["updated"] == 1 and r3.implementations["updated"] == 1
    latest = await service.item_version(session, food.id, food.current_version)
    assert (
        latest.fields["name"] == "食品经营许可（新办证）"
        and latest.fields["materials"][0]["name"] == "食品经营许可申请书"
    )


async def test_sichuan_list_errors(session) -> None:
    cli = io.command_line_actor("511602")
    bad = [list(r) for r in SICHUAN_ROWS]
    bad[0][5] = "3"  # no such taskType
    bad[1][3] = "garbage"
    bad[2][0] = ""
    with pytest.raises(io.ImportInvalid) as e:
        await io.import_catalogue(session, cli, [io.Source("list.csv", sichuan_csv(bad))])
    assert {(x.row, x.column) for x in e.value.report.errors} == {
        (2, "taskType"),
        (3, "itemCode"),
        (4, "department"),
    }


@pytest.mark.shared_data
async def test_real_guangan_list(session) -> None:
    """All 1,135 real items of 四川省广安市广安区: every code parses, 34 departments."""
    path = shared_data("service_items_guangan", "service_items.csv")
    await service.ensure_default_themes(session)
    cli = io.command_line_actor("511602")
    src = io.Source(path.name, path.read_bytes())
    t = time.perf_counter()
    r = await io.import_catalogue(session, cli, [src], layout="sichuan-list", region_code="511602")
    await session.commit()
    seconds = time.perf_counter() - t
    print(f"\nGuang'an list, {r.rows} rows: import {seconds:.2f} s")  # reported in the issue
    assert r.rows == 1135 and r.ok
    assert (r.items["created"], r.implementations["created"], r.implementations["published"]) == (
        1135,
        1135,
        1135,
    )
    assert r.codes == {"complete": 1132, "incomplete": 3}
    incomplete = sorted(w.row for w in r.warnings if "缺少区划和层级段" in w.message)
    assert incomplete == [167, 368, 632]
    assert len(r.departments_created) == 34
    count = await session.execute(
        select(func.count())
        .select_from(Implementation)
        .where(Implementation.region_code == "511602000000")
    )
    assert count.scalar_one() == 1135
    assert (
        await session.execute(
            select(func.count())
            .select_from(Department)
            .where(Department.region_code == "511602000000")
        )
    ).scalar_one() == 34
    with_credit = (
        await session.execute(
            select(func.count())
            .select_from(Department)
            .where(Department.region_code == "511602000000", Department.credit_code.is_not(None))
        )
    ).scalar_one()
    assert with_credit == 33  # 区烟草专卖局 has no valid code in the list
    types = dict(
        (
            await session.execute(
                select(CatalogueItem.item_type, func.count()).group_by(CatalogueItem.item_type)
            )
        ).all()
    )
    assert types == {"01": 536, "20": 348, "10": 182, "07": 50, "05": 9, "09": 8, "08": 2}
    schemes = {
        p.scheme
        for p in (
            codes.parse_implementation_code(c, "sichuan")
            for c in (await session.execute(select(Implementation.impl_code))).scalars()
        )
    }
    assert schemes == {"sichuan"}
    assert seconds < 30
    t = time.perf_counter()
    again = await io.import_catalogue(
        session, cli, [src], layout="sichuan-list", region_code="511602"
    )
    print(f"re-import (no changes) {time.perf_counter() - t:.2f} s")
    assert again.items == {"unchanged": 1135} and again.implementations == {"unchanged": 1135}


# --- command line ----------------------------------------------------------------------------------------------


def test_command_line_import_and_export(settings, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from tongban import cli
    from tongban.core import settings as settings_module

    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    path = tmp_path / "list.csv"
    path.write_bytes(sichuan_csv(SICHUAN_ROWS))
    runner = CliRunner()
    r = runner.invoke(cli.app, ["catalogue", "import", str(path), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "检查通过，未写入" in r.output
    r = runner.invoke(cli.app, ["catalogue", "import", str(path), "--layout", "sichuan-list"])
    assert r.exit_code == 0, r.output
    assert "新增 3" in r.output and "不完整 1" in r.output
    bad = tmp_path / "bad.csv"
    rows = [list(x) for x in SICHUAN_ROWS]
    rows[0][5] = "3"
    bad.write_bytes(sichuan_csv(rows))
    r = runner.invoke(cli.app, ["catalogue", "import", str(bad)])
    assert r.exit_code == 1 and "第2行「taskType」" in "".join(r.output.split())
    out = tmp_path / "out.xlsx"
    r = runner.invoke(cli.app, ["catalogue", "export", str(out), "--region", "511602"])
    assert r.exit_code == 0, r.output
    tables = io.read_sources([io.Source(out.name, out.read_bytes())])
    assert [len(t.rows) for t in tables] == [3, 3]
    r = runner.invoke(
        cli.app, ["catalogue", "export", str(tmp_path / "out.csv"), "--region", "511602"]
    )
    assert r.exit_code == 0 and (tmp_path / "out.实施清单.csv").exists()


# --- pages and API ------------------------------------------------------------------------------------------------


async def _admin_account(session) -> None:
    await b.staff(
        session, roles=["platform_admin"], region="510000000000", username="cadmin"
    )  # 四川省
    dept = await b.department(session, region="511600000000", name="广安市行政审批局")
    await b.staff(
        session, roles=["supervisor"], region="511600000000", dept=dept, username="super"
    )  # 广安市
    await session.commit()


async def test_import_page_checks_then_imports(session, client) -> None:
    from tests.web.conftest import page_login, token_of

    await _admin_account(session)
    page_login(client, "cadmin")
    token = token_of(client, "/admin/catalogue/import")
    data = sichuan_csv(SICHUAN_ROWS)
    files = {"file": ("list.csv", data, "text/csv")}
    r = client.post(
        "/admin/catalogue/import",
        data={"csrf_token": token, "mode": "check", "publish": "yes"},
        files=files,
    )
    assert r.status_code == 200 and "检查结果" in r.text and "将新增 3" in r.text
    assert (
        await session.execute(select(func.count()).select_from(CatalogueItem))
    ).scalar_one() == 0
    r = client.post(
        "/admin/catalogue/import",
        data={"csrf_token": token, "mode": "import", "publish": "yes"},
        files=files,
    )
    assert r.status_code == 200 and "导入完成" in r.text and "要素待补充" in r.text
    rows = [list(x) for x in SICHUAN_ROWS]
    rows[1][5] = "42"
    r = client.post(
        "/admin/catalogue/import",
        data={"csrf_token": token, "mode": "import"},
        files={"file": ("bad.csv", sichuan_csv(rows), "text/csv")},
    )
    assert r.status_code == 422 and "导入未通过检查" in r.text and "taskType" in r.text
    assert (
        client.post("/admin/catalogue/import", data={"mode": "import"}, files=files).status_code
        == 403
    )  # no CSRF token
    r = client.get("/admin/catalogue/import/template.xlsx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert [t.kind for t in io.read_sources([io.Source("t.xlsx", r.content)])] == ["base", "impl"]
    r = client.get("/admin/catalogue/export?format=csv&table=impl")
    assert r.status_code == 200 and "511A0101700001" in r.content.decode("utf-8-sig")


async def test_import_api_and_access(session, client) -> None:
    await _admin_account(session)
    h = {"X-CSRF-Token": b.login(client, "cadmin")["csrf_token"]}
    rows = [list(x) for x in SICHUAN_ROWS]
    rows[2][5] = "x"
    r = client.post(
        "/api/v1/catalogue/import",
        headers=h,
        files={"file": ("l.csv", sichuan_csv(rows), "text/csv")},
    )
    assert r.status_code == 422 and r.json()["code"] == "catalogue_import_invalid"
    assert r.json()["details"] == [
        {
            "sheet": "文件「l.csv」",
            "row": 4,
            "column": "taskType",
            "message": r.json()["details"][0]["message"],
        }
    ]
    r = client.post(
        "/api/v1/catalogue/import?dry_run=true",
        headers=h,
        files={"file": ("l.csv", sichuan_csv(SICHUAN_ROWS), "text/csv")},
    )
    assert r.status_code == 200 and r.json()["items"] == {"created": 3} and r.json()["dry_run"]
    r = client.get("/api/v1/catalogue/export?format=xlsx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    client.cookies.clear()
    h = {"X-CSRF-Token": b.login(client, "super")["csrf_token"]}
    r = client.post(
        "/api/v1/catalogue/import",
        headers=h,
        files={"file": ("l.csv", sichuan_csv(SICHUAN_ROWS), "text/csv")},
    )
    assert r.status_code == 403
    assert client.get("/admin/catalogue/import").status_code == 403


def test_template_doc_lists_every_column() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "catalogue-template.md").read_text()
    for header in [*io.BASE_HEADERS, *io.IMPL_HEADERS]:
        assert f"| {header} |" in doc, header


def test_sichuan_code_with_an_old_organisation_code() -> None:
    c = codes.parse_implementation_code(
        "512C0107400001-511602000000-000-00877868-5-1-00", "sichuan"
    )
    assert (c.item_code, c.area_code, c.body_code, c.level, c.complete) == (
        "512C0107400001",
        "511602000000",
        "00877868-5",
        "1",
        True,
    )
