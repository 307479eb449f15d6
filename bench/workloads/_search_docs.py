"""The ``search`` workload's data: 100,000 published implementation entries
(实施清单) in the run's database, made from the 1,135 real items of 广安区
(``../shared/data/service_items_guangan``) spread over every county of the
region tree; and the query mix the clients send.

``load(ctx)`` runs this file as a script with the run's environment, before
the server starts:

1. the real list is imported through the product's catalogue import
   (``catalogue.io.import_catalogue``, layout ``sichuan-list``): 1,135 base
   items, their 34 departments and 1,135 published entries of 广安区;
2. the rest are copies of those entries, entry *i* being item ``i mod 1135``
   in county ``(i × 7919 + i div 1135) mod counties`` (a pair met twice is
   skipped), each under its county's department of the same kind
   (``历下区经信局`` for ``区经信局``), with the implementation code's region
   segment set to the county and the published version's document copied.
   Written with bulk inserts: going through ``create_implementation`` and
   ``publish_implementation`` 100,000 times would take most of an hour and
   measure the catalogue, not search.

The shared FAQ knowledge base (4,393 real policy questions and answers) is
imported too, through the product's FAQ import: the search box matches a
query against it on every first page.

The server then indexes them through the catalogue's own provider
(``catalogue/search_provider.py``), as in production; the index build time
the workload reports includes reading the 100,000 entries and their documents.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path
from typing import Any

ENTRIES = 100_000
GUANGAN = "511602000000"
ITEMS_CSV = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "service_items_guangan"
    / "service_items.csv"
)


FAQ_KB = ITEMS_CSV.parents[1] / "faq_policy_qa_2020" / "faq_kb.tsv"


def item_rows() -> list[dict[str, str]]:
    with ITEMS_CSV.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def placements(n_items: int, counties: list[str], n: int = ENTRIES) -> list[tuple[int, str]]:
    """``n`` distinct (item index, county) pairs, the first ``n_items`` in 广安区."""
    out = [(k, GUANGAN) for k in range(n_items)]
    seen = set(out)
    others = [c for c in counties if c != GUANGAN] or [GUANGAN]
    i = 0
    while len(out) < n:
        pair = (i % n_items, others[(i * 7919 + i // n_items) % len(others)])
        i += 1
        if pair not in seen:
            seen.add(pair)
            out.append(pair)
    return out


def load(ctx: Any) -> dict[str, Any]:
    """Import and copy the entries (a script in the run's environment)."""
    return ctx.run_script(__file__, "loading the search entries", timeout=1800)


async def _load(out: Path) -> None:
    import time

    from sqlalchemy import bindparam, func, insert, select, update

    from tongban.catalogue import io, service
    from tongban.catalogue.models import Implementation, ImplementationVersion
    from tongban.core.db import create_engine, make_sessionmaker, session_scope
    from tongban.regions.models import Department, Region
    from tongban.search import service as search_service

    t0 = time.perf_counter()
    engine = create_engine()
    maker = make_sessionmaker(engine)
    impl_t, ver_t, dept_t = (
        Implementation.__table__,
        ImplementationVersion.__table__,
        Department.__table__,
    )
    try:
        async with session_scope(maker) as s:
            await service.ensure_default_themes(s)
            src = io.Source(ITEMS_CSV.name, ITEMS_CSV.read_bytes())
            report = await io.import_catalogue(
                s, io.command_line_actor(GUANGAN[:6]), [src], layout="sichuan-list",
                region_code=GUANGAN[:6],
            )  # fmt: skip
            if not report.ok:
                raise SystemExit(f"import failed: {report.errors[:5]}")
        t_import = time.perf_counter() - t0
        async with session_scope(maker) as s:
            counties = dict(
                (await s.execute(select(Region.code, Region.name).where(Region.level == 3))).all()
            )
            impls = [
                dict(r._mapping)
                for r in await s.execute(
                    select(impl_t).where(impl_t.c.region_code == GUANGAN).order_by(impl_t.c.id)
                )
            ]
            versions = {
                r.id: dict(r._mapping)
                for r in await s.execute(
                    select(ver_t).where(ver_t.c.id.in_([i["published_version_id"] for i in impls]))
                )
            }
            depts = {
                r.id: r.name
                for r in await s.execute(select(dept_t.c.id, dept_t.c.name).where(dept_t.c.region_code == GUANGAN))
            }  # fmt: skip
            pairs = placements(len(impls), sorted(counties))[len(impls) :]
            # a department per (county, kind), as a county's own bureaus
            wanted = sorted({(county, depts[impls[k]["department_id"]]) for k, county in pairs})
            existing = {
                (r.region_code, r.name): r.id
                for r in await s.execute(select(dept_t.c.id, dept_t.c.region_code, dept_t.c.name))
            }

            def county_dept(county: str, name: str) -> str:
                return counties[county] + name.removeprefix("区").removeprefix("广安区")

            new_depts = [
                {"region_code": c, "name": county_dept(c, n), "short_name": county_dept(c, n)[:40],
                 "kind": "", "credit_code": None}
                for c, n in wanted if (c, county_dept(c, n)) not in existing
            ]  # fmt: skip
            for chunk in range(0, len(new_depts), 5000):
                await s.execute(insert(dept_t), new_depts[chunk : chunk + 5000])
            dept_ids = {
                (r.region_code, r.name): r.id
                for r in await s.execute(select(dept_t.c.id, dept_t.c.region_code, dept_t.c.name))
            }
            t_depts = time.perf_counter() - t0
            n = 0
            for chunk in range(0, len(pairs), 5000):
                part = pairs[chunk : chunk + 5000]
                rows = []
                for k, county in part:
                    src_impl = impls[k]
                    row = {c: v for c, v in src_impl.items() if c != "id"}
                    row["region_code"] = county
                    row["department_id"] = dept_ids[
                        (county, county_dept(county, depts[src_impl["department_id"]]))
                    ]
                    row["impl_code"] = src_impl["impl_code"].replace(GUANGAN, county, 1)
                    if row["impl_code"] == src_impl["impl_code"]:
                        row["impl_code"] = f"{src_impl['impl_code']}@{county}"
                    row["published_version_id"] = None
                    rows.append(row)
                ids = (
                    await s.execute(
                        insert(impl_t).returning(impl_t.c.id, sort_by_parameter_order=True), rows
                    )
                ).scalars().all()  # fmt: skip
                vrows = []
                for (k, _county), impl_id in zip(part, ids, strict=True):
                    v = versions[impls[k]["published_version_id"]]
                    vrows.append(
                        {**{c: x for c, x in v.items() if c != "id"}, "implementation_id": impl_id}
                    )
                vids = (
                    await s.execute(
                        insert(ver_t).returning(ver_t.c.id, sort_by_parameter_order=True), vrows
                    )
                ).scalars().all()  # fmt: skip
                await s.execute(
                    update(impl_t).where(impl_t.c.id == bindparam("b_id")).values(published_version_id=bindparam("b_vid")),
                    [{"b_id": i, "b_vid": v} for i, v in zip(ids, vids, strict=True)],
                )  # fmt: skip
                n += len(part)
            total = (
                await s.execute(
                    select(func.count()).select_from(impl_t).where(impl_t.c.status == "published")
                )
            ).scalar_one()
        # the FAQ knowledge base too: the search box answers from it on every first page
        async with session_scope(maker) as s:
            faq = await search_service.import_faq(
                s, None, filename=FAQ_KB.name, content=FAQ_KB.read_bytes(), source="kb"
            )
            if faq.status != "done":
                raise SystemExit(f"FAQ import failed: {[e.text() for e in faq.errors[:5]]}")
        result = {
            "faq_rows": faq.rows_written,
            "imported": report.rows,
            "copied": n,
            "published_entries": total,
            "departments_created": len(new_depts),
            "counties": len({c for _k, c in pairs} | {GUANGAN}),
            "import_seconds": round(t_import, 1),
            "departments_seconds": round(t_depts - t_import, 1),
            "total_seconds": round(time.perf_counter() - t0, 1),
        }
    finally:
        await engine.dispose()
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


def queries(seed: int = 7) -> list[str]:
    """What people type: whole names, words of names, colloquial phrases,
    traditional characters, pinyin and initials, a homophone typo."""
    import opencc
    from pypinyin import Style, lazy_pinyin

    rnd = random.Random(seed)
    names = [r["name"] for r in item_rows()]
    s2t = opencc.OpenCC("s2t")
    out: list[str] = []
    for name in rnd.sample(names, 120):
        core = name.split("（")[0].split("(")[0]
        out.append(core)
        out.append(core[: max(2, len(core) // 2)])
        out.append(s2t.convert(core))
        syl = lazy_pinyin(core[:4])
        out.append("".join(syl[:2]))
        out.append("".join(p[0] for p in lazy_pinyin(core[:4], style=Style.FIRST_LETTER)))
    out += [
        "生孩子要办什么", "营业执照怎么办", "生育津帖", "户口迁移", "退休", "医保报销", "公积金提取",
        "残疾人补贴", "驾驶证", "建筑工程施工许可", "食品经营许可证", "社保卡", "高龄津贴", "低保",
        "结婚登记", "出生医学证明", "养老金", "失业金怎么领", "开饭店要什么证", "房屋登记",
    ]  # fmt: skip
    rnd.shuffle(out)
    return out


if __name__ == "__main__":
    import asyncio

    asyncio.run(_load(Path(sys.argv[1])))
