"""Search through the API with the real Guang'an item names: traditional
characters, pinyin, initials, a typo, a colloquial synonym, region ranking,
autocomplete, "did you mean", clicks and learning."""

from __future__ import annotations

import dataclasses

import opencc
import pytest
from pypinyin import Style, lazy_pinyin

from tests import builders as b
from tests.search.conftest import GUANGAN, LIXIA, find, titles
from tests.web.conftest import csrf_from, page_login
from tongban.search import analysis, service
from tongban.search.engine import get_engine
from tongban.search.models import SearchLog, Synonym

pytestmark = pytest.mark.shared_data


def test_simplified_query_finds_the_item(search_client) -> None:
    body = find(search_client, "生育津贴")
    assert titles(body)[0] == "生育津贴支付"
    top = body["results"][0]
    assert top["kind"] == "item" and top["region_code"] == GUANGAN and top["url"].startswith("http")
    assert "<em>生育津贴</em>" in top["title_html"] and top["department"]


def test_traditional_query(search_client) -> None:
    q = opencc.OpenCC("s2t").convert("户口迁移审批")
    assert q == "戶口遷移審批"
    assert titles(find(search_client, q))[0] == "户口迁移审批"
    # Full-width Latin and digits are read half-width.
    assert analysis.normalise("ＡＢＣ１２３") == "abc123"


@pytest.mark.parametrize("q", ["shengyu", "shengyujin", "shengyujintie"])
def test_full_pinyin(search_client, q: str) -> None:
    found = titles(find(search_client, q))
    assert found and all("生育" in t for t in found[:3]), found
    if q == "shengyujintie":
        assert found[0] == "生育津贴支付"


def test_initials(search_client) -> None:
    name = "病残津贴申领"
    initials = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))  # bcjtsl
    assert initials == "bcjtsl"
    assert titles(find(search_client, initials[:4]))[0] == name
    assert "生育津贴支付" in titles(find(search_client, "syjt"))


def test_homophone_typo_is_corrected(search_client) -> None:
    # 帖 for 贴: same pinyin (tie), the input method's commonest slip.
    body = find(search_client, "生育津帖")
    assert titles(body)[0] == "生育津贴支付"
    assert body["corrected"] is True and body["suggestion"] == "生育津贴"


def test_character_typo_still_finds(search_client) -> None:
    # 注消 (a wrong character of another sound than 销) in 户口注销.
    assert "户口注销" in titles(find(search_client, "户口注消"))[:3]


async def test_colloquial_synonym(search_client, session) -> None:
    assert "《出生医学证明》首次签发" not in titles(find(search_client, "生孩子"))[:3]
    admin = await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username="admin")
    await session.commit()
    b.login(search_client, admin.username)
    r = search_client.post(
        "/api/v1/search/synonyms", json={"term": "生孩子", "canonical": "出生", "approve": True}
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "approved"
    found = titles(find(search_client, "生孩子要办什么"))
    assert found[0] == "《出生医学证明》首次签发", found


def test_region_ranking(search_client, items) -> None:
    lixia = [
        dataclasses.replace(
            d, key=d.key + "-lixia", region_code=LIXIA, department="历下区医疗保障局"
        )
        for d in items.docs
        if d.title == "生育津贴支付"
    ]
    items.docs.extend(lixia)
    get_engine(search_client.app).snapshot = None  # provider changed: build again
    here = find(search_client, "生育津贴", region="370102")["results"]
    assert (here[0]["region_code"], here[0]["key"]) == (LIXIA, lixia[0].key)
    assert here[1]["region_code"] == GUANGAN and here[1]["score"] < here[0]["score"]
    there = find(search_client, "生育津贴", region="5116")["results"]
    assert there[0]["region_code"] == GUANGAN
    # A region inside 广安市 (a township code) ranks the 广安区 entry as its own.
    assert (
        find(search_client, "生育津贴", region="511602001")["results"][0]["region_code"] == GUANGAN
    )


def test_kind_filter_and_pages(search_client) -> None:
    first = find(search_client, "登记", kind="item", size=5)
    assert first["pages"] > 1 and len(first["results"]) == 5
    second = find(search_client, "登记", kind="item", size=5, page=2)
    assert not set(titles(first)) & set(titles(second))
    assert find(search_client, "登记", kind="guide")["results"] == []
    r = search_client.get("/api/v1/search", params={"q": "x", "kind": "cases"})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"


def test_autocomplete(search_client) -> None:
    r = search_client.get("/api/v1/search/suggest", params={"q": "户口"})
    found = [s["title"] for s in r.json()["suggestions"]]
    assert found and all(t.startswith("户口") for t in found[:5]) and "户口迁移审批" in found
    contains = [
        s["title"]
        for s in search_client.get("/api/v1/search/suggest", params={"q": "津贴"}).json()[
            "suggestions"
        ]
    ]
    assert "生育津贴支付" in contains and "病残津贴申领" in contains
    by_pinyin = [
        s["title"]
        for s in search_client.get("/api/v1/search/suggest", params={"q": "hukou"}).json()[
            "suggestions"
        ]
    ]
    assert by_pinyin and all(t.startswith("户口") or "户口" in t for t in by_pinyin)


def test_did_you_mean(search_client) -> None:
    body = find(search_client, "高龄老人津贴发放80岁")
    assert (
        body["suggestion"] == "80周岁以上老年人高龄津贴发放"
        or titles(body)[0] == "80周岁以上老年人高龄津贴发放"
    )
    nothing = find(search_client, "房屋公积金贷款提前还款")
    assert nothing["total"] <= 3 or nothing["suggestion"] is None


async def test_click_feeds_popularity(search_client, items, sessionmaker_) -> None:
    twins = [d for d in items.docs if d.title in ("户口恢复", "户口变更")]
    assert len(twins) == 2
    body = find(search_client, "户口")
    order = [h["title"] for h in body["results"] if h["title"] in ("户口恢复", "户口变更")]
    loser = order[-1]
    key = next(d.key for d in twins if d.title == loser)
    for _ in range(3):
        sid = find(search_client, "户口")["search_id"]
        r = search_client.post(
            "/api/v1/search/click", json={"search_id": sid, "kind": "item", "key": key}
        )
        assert r.status_code == 204, r.text
    after = [
        h["title"]
        for h in find(search_client, "户口")["results"]
        if h["title"] in ("户口恢复", "户口变更")
    ]
    assert after[0] == loser
    # Logged and counted in the database (other processes read it at their next build).
    async with sessionmaker_() as s:
        await get_engine(search_client.app).flush_logs(s)
        await s.commit()
        from sqlalchemy import func, select

        from tongban.search.models import SearchPopularity

        clicks = (
            await s.execute(select(SearchPopularity.clicks).where(SearchPopularity.key == key))
        ).scalar_one()
        chosen = (
            await s.execute(
                select(func.count()).select_from(SearchLog).where(SearchLog.chosen_key == key)
            )
        ).scalar_one()
    assert clicks == 3 and chosen == 3
    bad = search_client.post(
        "/api/v1/search/click", json={"search_id": "0123456789abcdef", "kind": "item", "key": key}
    )
    assert bad.status_code == 404 and bad.json()["code"] == "search_not_found"


async def test_synonyms_learned_from_the_log(search_client, session) -> None:
    key = next(
        h["key"]
        for h in find(search_client, "出生医学证明")["results"]
        if "出生医学证明" in h["title"]
    )
    for _ in range(2):
        body = find(search_client, "娃娃落地证")
        assert "出生医学证明" not in "".join(titles(body)[:3])
        r = search_client.post(
            "/api/v1/search/click",
            json={"search_id": body["search_id"], "kind": "item", "key": key},
        )
        assert r.status_code == 204
    engine = get_engine(search_client.app)
    proposed = await service.learn_synonyms(session, engine=engine)
    await session.commit()
    assert [(s.term, s.canonical, s.status, s.source, s.evidence) for s in proposed] == [
        ("娃娃落地证", "出生医学证明", "proposed", "learned", 2)
    ]
    # Learning twice proposes nothing new; approving puts it to use.
    assert await service.learn_synonyms(session, engine=engine) == []
    admin = await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username="admin2")
    await session.commit()
    b.login(search_client, admin.username)
    assert (
        search_client.post(f"/api/v1/search/synonyms/{proposed[0].id}/approve", json={}).status_code
        == 200
    )
    assert titles(find(search_client, "娃娃落地证"))[0] == "《出生医学证明》首次签发"


async def test_staff_correction_comes_first(search_client, session, items) -> None:
    admin = await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username="admin3")
    await session.commit()
    b.login(search_client, admin.username)
    target = next(d for d in items.docs if d.title == "户口注销")
    assert titles(find(search_client, "销户"))[:1] != ["户口注销"]
    r = search_client.post(
        "/api/v1/search/corrections", json={"query": "销户", "kind": "item", "key": target.key}
    )
    assert r.status_code == 201, r.text
    assert titles(find(search_client, "销户"))[0] == "户口注销"


async def test_synonym_admin_pages(search_client, session) -> None:
    admin = await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username="admin4")
    await session.commit()
    page_login(search_client, admin.username)
    html = search_client.get("/admin/search/synonyms").text
    token = csrf_from(html)
    r = search_client.post("/admin/search/synonyms", data={"csrf_token": token, "term": "营业执照", "canonical": "企业设立登记"},
                           follow_redirects=True)  # fmt: skip
    assert r.status_code == 200 and "待审核" in r.text and "营业执照" in r.text
    syn_id = (await session.execute(__import__("sqlalchemy").select(Synonym.id))).scalar_one()
    r = search_client.post(
        f"/admin/search/synonyms/{syn_id}/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "已启用" in r.text
    assert "个人独资企业设立登记" in titles(find(search_client, "办营业执照"))[:3]
    duplicate = search_client.post(
        "/admin/search/synonyms",
        data={"csrf_token": token, "term": "营业执照", "canonical": "企业设立登记"},
    )
    assert duplicate.status_code == 409 and "已存在" in duplicate.text
    listed = search_client.get("/admin/search/synonyms", params={"q": "营业"}).text
    assert "企业设立登记" in listed
    confirm = search_client.get(f"/admin/search/synonyms/{syn_id}/delete")
    assert confirm.status_code == 200 and "确认删除" in confirm.text
    r = search_client.post(f"/admin/search/synonyms/{syn_id}/delete", data={"csrf_token": token, "confirm": "yes"},
                           follow_redirects=True)  # fmt: skip
    assert "已删除" in r.text and "没有符合条件的同义词" in r.text


def test_admin_pages_need_an_administrator(search_client) -> None:
    assert search_client.get("/admin/search/synonyms").status_code == 401
    assert search_client.get("/admin/search/faq").status_code == 401
    assert (
        search_client.post(
            "/api/v1/search/synonyms", json={"term": "a", "canonical": "b"}
        ).status_code
        == 401
    )


def test_empty_and_bad_queries(search_client) -> None:
    assert find(search_client, "")["results"] == []
    assert find(search_client, "？？！")["results"] == []
    r = search_client.get("/api/v1/search", params={"q": "户口", "region": "37x"})
    assert r.status_code == 422
