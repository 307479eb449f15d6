"""The searcher's page, as ``Snapshot.search`` computes it with early exits
(groups settled, groups without a local entry skipped), equals the page of a
plain reference that expands every candidate group — the same scores, the
same entries above the page's last score: real item names spread over
counties of two provinces, queries, regions and page sizes at random."""

from __future__ import annotations

import random

import pytest

from tests.search.conftest import real_items
from tongban.search.index import (
    ELSEWHERE,
    NATIONAL,
    SAME_PROVINCE,
    SearchDocument,
    Snapshot,
    _region_chain,
)

pytestmark = pytest.mark.shared_data

COUNTIES = [
    "370102000000",
    "370103000000",
    "370112000000",
    "511602000000",
    "511621000000",
    "510104000000",
]


def _reference(snap: Snapshot, q: str, region: str, size: int) -> list[tuple[float, int]]:
    top_raw = snap._analysed(q, None)[0]
    chain = _region_chain(region)
    province = next(iter(sorted(c for c in chain if c != NATIONAL)))[:2]
    ranked = []
    for g, s in top_raw:
        s *= snap.boost[g]
        grp = snap.groups[g]
        local = [i for c in chain for i in grp.by_region.get(c, [])]
        ranked += [(s, i) for i in local]
        for i in grp.reps:
            if i not in local:
                f = (
                    SAME_PROVINCE
                    if (snap.docs[i].region_code or NATIONAL)[:2] == province
                    else ELSEWHERE
                )
                ranked.append((s * f, i))
    ranked.sort(key=lambda si: (-si[0], si[1]))
    return [(round(sc, 4), i) for sc, i in ranked[:size]]


def test_page_equals_the_reference() -> None:
    rnd = random.Random(5)
    base = real_items()
    docs = [
        SearchDocument(
            kind="item", key=f"{d.key}-{n}", title=d.title, body=d.body,
            region_code=rnd.choice(COUNTIES), department=d.department, url=f"/guide/{n}",
        )
        for n, d in enumerate(base * 4)
    ]  # fmt: skip
    snap = Snapshot(docs)
    words = [t for d in base[:300] for t in (d.title[:2], d.title[:4], d.title)]
    for n in range(300):
        q, region, size = rnd.choice(words), rnd.choice(COUNTIES), rnd.choice([5, 10, 20])
        got = [
            (h.score, snap.doc_index[(h.doc.kind, h.doc.key)])
            for h in snap.search(q, region=region, size=size).hits
        ]
        ref = _reference(snap, q, region, size)
        # the same scores; the same entries, except which of several equal
        # scores at the page's end make it (ties are settled by order found)
        assert [sc for sc, _ in got] == [sc for sc, _ in ref], (n, q, region)
        last = ref[-1][0] if ref else 0
        assert {i for sc, i in got if sc > last} == {i for sc, i in ref if sc > last}, (n, q)
