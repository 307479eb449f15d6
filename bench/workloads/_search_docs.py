"""Bench-only search provider: 100,000 implementation entries generated from
the 1,135 real item names of 广安区 (``../shared/data/service_items_guangan``)
spread over every county of the region tree in the database. Nothing is
inserted: the documents are generated when the index is built.

The server imports this module through ``TONGBAN_SEARCH_PROVIDER_MODULES``
(set by the ``search`` workload), until the catalogue registers its own
provider of implementation entries. Also the query mix the clients send.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

ENTRIES = 100_000
ITEMS_CSV = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "service_items_guangan"
    / "service_items.csv"
)


def item_rows() -> list[dict[str, str]]:
    with ITEMS_CSV.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def generate(counties: list[tuple[str, str]], n: int = ENTRIES) -> list[Any]:
    """``n`` entries: item i of the list in county ``(i * 7919) mod counties``."""
    from tongban.search.index import SearchDocument

    items = item_rows()
    out = []
    for i in range(n):
        it = items[i % len(items)]
        code, county = counties[(i * 7919 + i // len(items)) % len(counties)]
        dept = it["department"].removeprefix("区").removeprefix("广安区")
        out.append(
            SearchDocument(
                kind="item",
                key=f"{it['itemCode'].split('-')[0]}-{code}-{i}",
                title=it["name"],
                body="" if it["main_item"] == "未分类" else it["main_item"],
                region_code=code,
                department=f"{county}{dept}",
                url=f"/guide/bench-{i}",
            )
        )
    return out


async def bench_items(session: Any) -> list[Any]:
    from sqlalchemy import select

    from tongban.regions.models import Region

    rows = (
        await session.execute(
            select(Region.code, Region.name).where(Region.level == 3).order_by(Region.code)
        )
    ).all()
    counties = [(c, n) for c, n in rows] or [("511602000000", "广安区")]
    return generate(counties)


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


try:  # registered when the server imports this module
    from tongban.search.engine import register_provider

    register_provider("item", bench_items)
except ImportError:  # imported by the harness before the project is importable
    pass
