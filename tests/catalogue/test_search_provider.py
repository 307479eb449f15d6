"""The catalogue's search provider: published entries become search
documents, and the entries of one item across counties — each under its own
county's department — share one text in the index (one group, scored once)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tests import builders as b
from tests.catalogue import helpers as h
from tongban.catalogue import service
from tongban.catalogue.search_provider import implementation_documents
from tongban.search.engine import SearchEngine, discover_providers


async def _entry(s: AsyncSession, actor, item, region: str, dept_name: str):
    dept = await b.department(s, region=region, name=dept_name)
    impl = await service.create_implementation(
        s, actor, item_id=item.id, department_id=dept.id,
        local={"address": "政务服务中心", "hours": "工作日 9:00-17:00", "phone": "0531-1234567"},
    )  # fmt: skip
    await service.publish_implementation(s, actor, impl.id)
    return impl


async def test_entries_of_one_item_share_a_group(session, sessionmaker_) -> None:
    s = session
    actor = await h.admin(s)
    item = await h.published_item(s, actor, name="食品经营许可")
    other = await h.published_item(s, actor, name="公共场所卫生许可")
    lixia = await _entry(s, actor, item, b.LIXIA, "历下区市场监督管理局")
    shizhong = await _entry(s, actor, item, b.SHIZHONG, "市中区市场监督管理局")
    await _entry(s, actor, other, b.LIXIA, "历下区卫生健康局")
    draft = await service.create_implementation(
        s, actor, item_id=other.id,
        department_id=(await b.department(s, region=b.SHIZHONG, name="市中区卫生健康局")).id,
    )  # fmt: skip
    await s.commit()

    docs = {d.url: d for d in await implementation_documents(s)}
    assert f"/guide/{draft.id}" not in docs  # drafts are not searchable
    a, c = docs[f"/guide/{lixia.id}"], docs[f"/guide/{shizhong.id}"]
    assert (a.title, a.body) == (c.title, c.body) and a.department != c.department
    assert "从事食品销售" in a.body and "监督管理局" not in a.body

    discover_providers()
    snap = await SearchEngine(sessionmaker_).build()
    group = snap.doc_group[snap.doc_index[("item", a.key)]]
    assert snap.doc_group[snap.doc_index[("item", c.key)]] == group
    assert len(snap.groups) == 2
    # the department's words are still searched, and the searcher's county comes first
    hits = snap.search("市场监督管理局", region=b.SHIZHONG).hits
    assert [hit.doc.url for hit in hits[:2]] == [f"/guide/{shizhong.id}", f"/guide/{lixia.id}"]


def test_department_words_drop_the_place_only() -> None:
    from tongban.search.faq import Gazetteer
    from tongban.search.index import _dept_words

    gaz = Gazetteer(
        [
            ("370000000000", "山东省", 1, None),
            ("370100000000", "济南市", 2, "370000000000"),
            ("370102000000", "历下区", 3, "370100000000"),
            ("370103000000", "市中区", 3, "370100000000"),
            ("421000000000", "荆州市", 2, None),
            ("421022000000", "公安县", 3, "421000000000"),
        ]
    )
    longest = max(map(len, gaz.names))
    cache: dict[str, str] = {}
    assert _dept_words("济南市历下区市场监督管理局", gaz, cache, longest) == "市场监督管理局"
    assert _dept_words("市中区市场监督管理局", gaz, cache, longest) == "市场监督管理局"
    assert _dept_words("济南市公安局", gaz, cache, longest) == "公安局"  # 公安 is also a county
    assert _dept_words("公安县公安局", gaz, cache, longest) == "公安局"
    assert _dept_words("區經信局", gaz, cache, longest) == "区经信局"  # traditional, no place
    assert _dept_words("", gaz, cache, longest) == ""
