"""Guides (办事指南) and catalogue browsing through the front door: the guide page
and its sections, drafts and retired entries, file downloads, the PDF, theme /
department / region lists with filters and pages, the visitor's region, 繁體
and elderly display, the FAQ hook."""

from __future__ import annotations

import re
import sys
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from tests import builders as b
from tests.catalogue.helpers import admin, published_impl, published_item
from tests.web.conftest import page_login, token_of
from tongban.catalogue import service
from tongban.core import files
from tongban.core.clock import now

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Catalogue:
    ids: dict[str, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def cat(session) -> Catalogue:
    """A published guide with every element (v2), a draft, a retired entry, a
    person-facing entry with its own flow and fees, and 24 more birth entries
    across 历下 and 青岛市南 for the lists."""
    s, c = session, Catalogue()
    a = await admin(s)
    await service.ensure_default_themes(s)
    form = await files.store(s, PDF_BYTES, "食品经营许可申请书.pdf")
    sample = await files.store(s, PNG_BYTES, "示例.png")
    c.files = {"form": form.sha256, "sample": sample.sha256}
    food = await published_item(
        s,
        a,
        materials=[
            {
                "name": "食品经营许可申请书",
                "issuer": "申请人自备",
                "originals": 1,
                "required": True,
                "form_file": form.sha256,
                "sample_file": sample.sha256,
            },
            {
                "name": "营业执照",
                "issuer": "市场监管部门",
                "copies": 1,
                "licence_type_code": "113700000000000000002",
            },
            {
                "name": "户口簿",
                "issuer": "公安机关",
                "copies": 1,
                "required": False,
                "data_element": "person.household",
            },
            {
                "name": "无违法犯罪记录证明",
                "issuer": "公安机关",
                "originals": 1,
                "commitment_allowed": True,
            },
        ],
        conditions="具有与经营的食品品种、数量相适应的经营场所。\n有食品安全专业技术人员。",
        tongban_scope="cross_province",
    )
    impl = await published_impl(
        s,
        a,
        food,
        local={
            "address": "历下区政务服务中心 3 楼",
            "hours": "工作日 9:00-17:00",
            "window": "12 号窗口",
            "phone": "0531-1234567",
            "traffic": "地铁 2 号线龙奥站",
        },
    )
    await service.save_implementation_draft(
        s,
        a,
        impl.id,
        local={
            "address": "历下区政务服务中心 3 楼",
            "hours": "工作日 9:00-17:00",
            "window": "12 号窗口",
            "phone": "0531-1234567",
            "traffic": "地铁 2 号线龙奥站 B 口",
        },
    )
    await service.publish_implementation(s, a, impl.id)
    c.ids["food"], c.codes["food"], c.names["food"] = impl.id, impl.impl_code, food.name

    birth_fields = {
        "name": "出生医学证明首次签发",
        "item_type": "20",
        "service_objects": ["1"],
        "themes": ["birth"],
        "legal_basis": [],
        "fee_charged": True,
        "fees": [
            {"name": "工本费", "standard": "每证 10 元", "basis": "《关于出生医学证明收费的通知》"}
        ],
        "visits": 1,
        "visit_reason": "核验新生儿身份",
        "online_depth": 2,
        "handling_forms": ["1", "2"],
        "promised_limit": {"value": 0, "unit": "working_day"},
        "case_type": "1",
        "steps": [
            {"name": "提交申请", "actor": "父母"},
            {"name": "核验签发", "actor": "助产机构", "limit": {"value": 2, "unit": "hour"}},
        ],
        "result": {"kind": "document", "name": "出生医学证明"},
    }
    birth_item = await published_item(s, a, **birth_fields)
    birth = await published_impl(s, a, birth_item)
    c.ids["birth"] = birth.id

    draft_item = await published_item(s, a, name="草稿中的事项")
    dept = await b.department(s, region=b.LIXIA)
    draft = await service.create_implementation(s, a, item_id=draft_item.id, department_id=dept.id)
    c.ids["draft"] = draft.id

    old_item = await published_item(
        s, a, name="已经停用的事项", themes=["birth"], service_objects=["1"]
    )
    old = await published_impl(s, a, old_item)
    await service.retire_implementation(s, a, old.id, reason="职能调整")
    c.ids["retired"] = old.id

    # 24 more birth entries: 12 in 历下 (one department), 12 in 青岛市南; the
    # even ones are 全程网办 (depth IV, no visits), the odd ones are not.
    lixia = await b.department(s, region=b.LIXIA, name="历下区卫生健康局")
    qingdao = await b.department(s, region=b.QINGDAO_SHINAN, name="市南区卫生健康局")
    c.ids["lixia_dept"], c.ids["qingdao_dept"] = lixia.id, qingdao.id
    for i in range(24):
        online = i % 2 == 0
        it = await published_item(
            s,
            a,
            name=f"新生儿服务{i:02d}",
            item_type="20",
            service_objects=["1"],
            themes=["birth"],
            legal_basis=[],
            visits=0 if online else 1,
            visit_reason="" if online else "现场核验",
            online_depth=4 if online else 1,
            handling_forms=["1", "2"] if online else ["1"],
        )
        d = lixia if i < 12 else qingdao
        im = await service.create_implementation(s, a, item_id=it.id, department_id=d.id)
        await service.publish_implementation(s, a, im.id)
    await s.commit()
    return c


# --- the guide -------------------------------------------------------------------------------------


async def test_guide_shows_every_section(cat: Catalogue, client) -> None:
    gid = cat.ids["food"]
    r = client.get(f"/guide/{gid}")
    assert r.status_code == 200, r.text
    html = r.text
    today = now().astimezone()
    for text in (
        '<h1 id="guide-title">食品经营许可</h1>',
        "从事食品销售和餐饮服务，应当依法取得食品经营许可。",  # plain-language summary
        "事项名称",
        "事项类型",
        "行政许可",
        "实施主体",
        "山东省济南市历下区",
        "《中华人民共和国食品安全法》第三十五条",
        "受理条件",
        "有食品安全专业技术人员。",
        "申请材料",
        "食品经营许可申请书",
        "申请人自备",
        "原件 1 份",
        "复印件 1 份",
        "非必需",
        "可免提交",
        "可用电子证照代替",
        "通过政务数据共享获取",
        "告知承诺",
        "可以书面承诺代替本证明",
        "办理流程",
        "法定办结时限",
        "20个工作日",
        "承诺办结时限",
        "10个工作日",
        "收费标准",
        "不收费",
        "到现场次数",
        "0 次（不用跑）",
        "Ⅳ级（全程网办）",
        "全程网办",
        "办理地点",
        "历下区政务服务中心 3 楼",
        "工作日 9:00-17:00",
        "12 号窗口",
        "0531-1234567",
        "地铁 2 号线龙奥站 B 口",  # v2's local fields
        "办理结果",
        "食品经营许可证",
        "咨询电话",
        "监督投诉电话",
        "0531-12345",
        "通办范围",
        "跨省通办",
        "本指南版本 v2，",
    ):
        assert text in html, text
    assert f"{today.year}年{today.month}月" in html
    # The default flow, in order, as boxes.
    flow = re.search(r'<ol class="flow".*?</ol>', html, re.S).group(0)
    names = re.findall(r'<strong class="flow-name">([^<]+)</strong>', flow)
    assert names == ["申请", "受理", "审查", "决定", "送达"]
    # Downloads through the public file route, naming the guide.
    assert f'href="/files/{cat.files["form"]}?g={gid}"' in html
    assert f'href="/files/{cat.files["sample"]}?g={gid}"' in html
    # The online entry: a visitor goes to sign in first, then to /apply/{id}.
    assert f'href="/login?next={quote(f"/apply/{gid}", safe="")}"' in html and "在线办理" in html
    # Printable: the print stylesheet, the PDF link, the QR code and the address for paper.
    assert '<link rel="stylesheet" href="/static/css/print.css" media="print">' in html
    assert f'href="/guide/{gid}.pdf"' in html
    assert "<svg" in html and f"http://testserver/guide/{gid}" in html
    assert client.get("/static/css/print.css").status_code == 200
    assert "已停用" not in html


async def test_own_flow_fees_and_visits(cat: Catalogue, client) -> None:
    html = client.get(f"/guide/{cat.ids['birth']}").text
    names = re.findall(r'<strong class="flow-name">([^<]+)</strong>', html)
    assert names == ["提交申请", "核验签发"] and "2小时" in html
    assert "工本费" in html and "每证 10 元" in html and "《关于出生医学证明收费的通知》" in html
    assert "不收费" not in html
    assert "即办" in html and "1 次" in html and "核验新生儿身份" in html
    assert "公共服务" in html and "不通办" in html


async def test_drafts_are_404_and_retired_entries_say_so(cat: Catalogue, client) -> None:
    r = client.get(f"/guide/{cat.ids['draft']}")
    assert r.status_code == 404 and "办事指南不存在或尚未发布" in r.text
    assert client.get("/guide/999999").status_code == 404
    assert client.get(f"/guide/{cat.ids['draft']}.pdf").status_code == 404
    r = client.get(f"/guide/{cat.ids['retired']}")
    assert r.status_code == 200 and "已停用" in r.text and "本事项已停用" in r.text
    assert "在线办理" not in r.text and "/apply/" not in r.text
    assert "已经停用的事项" not in client.get("/services/themes/birth?page=1").text


async def test_guide_by_implementation_code_redirects(cat: Catalogue, client) -> None:
    r = client.get(f"/guide/code/{cat.codes['food']}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/guide/{cat.ids['food']}"
    assert client.get("/guide/code/NO-SUCH-CODE", follow_redirects=False).status_code == 404


async def test_signed_in_person_goes_straight_to_apply(cat: Catalogue, client, session) -> None:
    await b.citizen(session, username="alice")
    await session.commit()
    page_login(client, "alice")
    html = client.get(f"/guide/{cat.ids['food']}").text
    assert f'href="/apply/{cat.ids["food"]}"' in html and "需要先登录" not in html


async def test_guide_files_download_only_through_a_published_guide(
    cat: Catalogue, client, session
) -> None:
    form, gid = cat.files["form"], cat.ids["food"]
    r = client.get(f"/files/{form}?g={gid}")
    assert r.status_code == 200 and r.content == PDF_BYTES
    assert r.headers["content-type"] == "application/pdf"
    assert (
        "attachment" in r.headers["content-disposition"]
        and r.headers["x-content-type-options"] == "nosniff"
    )
    assert client.get(f"/files/{cat.files['sample']}?g={gid}").content == PNG_BYTES
    # A stored file no published guide offers (a case material, say) is not public.
    private = await files.store(session, PDF_BYTES + b"private", "材料.pdf")
    await session.commit()
    for url in (
        f"/files/{private.sha256}?g={gid}",  # not offered by this guide
        f"/files/{form}?g={cat.ids['birth']}",  # another guide does not offer it
        f"/files/{form}?g=999999",
        f"/files/{form}",
        "/files/not-a-hash?g=1",
    ):
        r = client.get(url)
        assert r.status_code in (404, 422), url
        assert PDF_BYTES not in r.content


# --- PDF ---------------------------------------------------------------------------------------------


def _pdf_streams(data: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue
    return out


def _pdf_text_chars(data: bytes) -> set[str]:
    """Every character the PDF's fonts map back to Unicode (their ToUnicode CMaps)."""
    chars: set[str] = set()
    for st in _pdf_streams(data):
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", st, re.S):
            for _, uni in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                chars.add(bytes.fromhex(uni.decode()).decode("utf-16-be"))
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", st, re.S):
            for lo, hi, uni in re.findall(
                rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block
            ):
                start = int(uni, 16)
                chars.update(chr(start + i) for i in range(int(hi, 16) - int(lo, 16) + 1))
    return chars


async def test_pdf_has_the_chinese_text_in_the_cjk_font_and_is_cached(
    cat: Catalogue, client, settings
) -> None:
    gid = cat.ids["food"]
    start = time.perf_counter()
    r = client.get(f"/guide/{gid}.pdf")
    first_ms = (time.perf_counter() - start) * 1000
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    data = r.content
    assert data.startswith(b"%PDF-")
    fonts = {
        f
        for st in _pdf_streams(data)
        for f in re.findall(rb"/BaseFont\s*/([A-Z]{6}\+[^\s/<>\[\]]+)", st)
    }
    assert any(b"WenQuanYi" in f for f in fonts), fonts  # the CJK font, embedded as a subset
    chars = _pdf_text_chars(data)
    for text in (
        "食品经营许可",
        "办事指南",
        "历下区政务服务中心",
        "不收费",
        "告知承诺",
        "本指南版本",
    ):
        missing = set(text) - chars
        assert not missing, (text, missing)
    assert "Server-Timing" in r.headers  # rendered now
    # The second request comes from the cache on disk: same bytes, no render.
    start = time.perf_counter()
    again = client.get(f"/guide/{gid}.pdf")
    cached_ms = (time.perf_counter() - start) * 1000
    assert again.content == data and "Server-Timing" not in again.headers
    assert list((settings.data_dir / "cache" / "guide-pdf").rglob("*.pdf"))
    etag = r.headers["etag"]
    assert client.get(f"/guide/{gid}.pdf", headers={"If-None-Match": etag}).status_code == 304
    print(
        f"guide PDF: first {first_ms:.0f} ms (render {r.headers['Server-Timing']}), cached {cached_ms:.0f} ms"
    )
    # 繁體: other HTML, so another cached file, in traditional characters.
    client.cookies.set("tongban_prefs", "e0.hant")
    hant = client.get(f"/guide/{gid}.pdf")
    print(f"guide PDF (繁體, warm process): render {hant.headers.get('Server-Timing')}")
    assert hant.content != data and not (
        set("食品經營許可辦事指南") - _pdf_text_chars(hant.content)
    )


async def test_retired_pdf_says_so(cat: Catalogue, client) -> None:
    r = client.get(f"/guide/{cat.ids['retired']}.pdf")
    assert r.status_code == 200 and not (set("已停用") - _pdf_text_chars(r.content))


# --- browsing ------------------------------------------------------------------------------------------


def _names(html: str) -> list[str]:
    return re.findall(r'<a class="service-name" href="/guide/\d+">([^<]+)</a>', html)


async def test_services_home_lists_themes_departments_and_regions(cat: Catalogue, client) -> None:
    r = client.get("/services")
    assert r.status_code == 200
    html = r.text
    assert 'action="/search"' in html and 'name="q"' in html
    assert (
        'href="/services/themes/birth"' in html and 'href="/services/themes/start_business"' in html
    )
    assert re.search(
        r'data-theme="birth">.*?<span class="desc">25 项服务</span>', html, re.S
    )  # 24 + 出生医学证明
    assert f'href="/services/departments/{cat.ids["lixia_dept"]}"' in html
    assert 'href="/services/regions/370000000000"' in html  # no region picked: the provinces
    assert "未选择" in html
    # The portal home and its navigation lead here.
    home = client.get("/").text
    assert (
        'href="/services/themes/birth"' in home and 'href="/services/themes/start_business"' in home
    )
    assert 'href="/services#personal"' in home or 'href="/services"' in home


async def test_theme_list_pages_and_filters(cat: Catalogue, client) -> None:
    r = client.get("/services/themes/birth")
    assert r.status_code == 200 and "个人办事 · 出生" in r.text
    assert re.search(r"共 <strong data-total>25</strong> 项", r.text)
    first = _names(r.text)
    assert len(first) == 20 and first == sorted(first)
    assert 'rel="next" href="/services/themes/birth?page=2"' in r.text
    second = _names(client.get("/services/themes/birth?page=2").text)
    assert len(second) == 5 and not set(first) & set(second)
    assert "全程网办" in r.text and "承诺时限 10个工作日" in r.text
    # 全程网办 only: the 12 even entries.
    online = client.get("/services/themes/birth", params={"online": "1"}).text
    assert re.search(r"data-total>12<", online) and all(
        int(n[-2:]) % 2 == 0 for n in _names(online)
    )
    # A region subtree: 青岛市南's 12.
    qd = client.get("/services/themes/birth", params={"region": b.QINGDAO_SHINAN}).text
    assert re.search(r"data-total>12<", qd)
    assert (
        client.get("/services/themes/birth", params={"audience": "enterprise"}).text.count(
            "service-name"
        )
        == 0
    )
    # htmx asks for the results only.
    part = client.get("/services/themes/birth?page=2", headers={"HX-Request": "true"})
    assert "<html" not in part.text and len(_names(part.text)) == 5
    # Bad input is a clear error, not a 500; an unknown theme is 404.
    assert client.get("/services/themes/birth?page=0").status_code == 422
    assert client.get("/services/themes/birth?region=37").status_code == 422
    assert client.get("/services/themes/nope").status_code == 404
    # A page past the end shows the last one.
    assert len(_names(client.get("/services/themes/birth?page=99").text)) == 5


async def test_legacy_theme_links_redirect(cat: Catalogue, client) -> None:
    r = client.get("/services?theme=birth", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/services/themes/birth"
    r = client.get("/services?theme=employment", follow_redirects=False)
    assert r.headers["location"] == "/services/themes/work"
    assert client.get("/services?theme=nope").status_code == 404


async def test_visitor_region_sorts_its_entries_first(cat: Catalogue, client) -> None:
    plain = _names(client.get("/services/themes/birth").text)
    assert plain[:3] == ["出生医学证明首次签发", "新生儿服务00", "新生儿服务01"]
    token = token_of(client, "/services")
    r = client.post(
        "/services/region",
        data={"csrf_token": token, "region": b.QINGDAO_SHINAN, "next": "/services/themes/birth"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/services/themes/birth"
    html = client.get("/services/themes/birth").text
    names = _names(html)
    assert names[:12] == [f"新生儿服务{i:02d}" for i in range(12, 24)]  # 市南 first
    assert "山东省青岛市市南区" in html and 'class="service-row local"' in html
    home = client.get("/services").text
    assert (
        "山东省青岛市市南区" in home
        and f'href="/services/departments/{cat.ids["qingdao_dept"]}"' in home
    )
    assert (
        f'href="/services/departments/{cat.ids["lixia_dept"]}"' not in home
    )  # serves another region
    # A bad region is refused; an empty one clears the choice.
    assert (
        client.post(
            "/services/region", data={"csrf_token": token, "region": "999999999999"}
        ).status_code
        == 404
    )
    client.post("/services/region", data={"csrf_token": token, "region": ""})
    assert _names(client.get("/services/themes/birth").text) == plain
    # Without the CSRF token nothing changes.
    assert client.post("/services/region", data={"region": b.LIXIA}).status_code == 403


async def test_signed_in_account_region_is_the_default(cat: Catalogue, client, session) -> None:
    await b.citizen(session, region=b.QINGDAO_SHINAN, username="qingdao")
    await session.commit()
    page_login(client, "qingdao")
    assert _names(client.get("/services/themes/birth").text)[0] == "新生儿服务12"


async def test_department_and_region_browsing(cat: Catalogue, client) -> None:
    r = client.get(f"/services/departments/{cat.ids['lixia_dept']}")
    assert r.status_code == 200 and "历下区卫生健康局" in r.text
    assert re.search(r"data-total>12<", r.text) and set(_names(r.text)) == {
        f"新生儿服务{i:02d}" for i in range(12)
    }
    assert re.search(
        r"data-total>6<", client.get(f"/services/departments/{cat.ids['lixia_dept']}?online=1").text
    )
    assert client.get("/services/departments/999999").status_code == 404
    # The province: its cities with counts; the city of 济南 holds the 历下 entries.
    prov = client.get("/services/regions/370000000000")
    assert prov.status_code == 200 and re.search(r"data-total>26<", prov.text)
    assert re.search(
        r'href="/services/regions/370100000000">济南市</a> <span class="small muted">14 项',
        prov.text,
    )
    assert re.search(
        r'href="/services/regions/370200000000">青岛市</a> <span class="small muted">12 项',
        prov.text,
    )
    county = client.get(f"/services/regions/{b.QINGDAO_SHINAN}")
    assert re.search(r"data-total>12<", county.text) and "设为我的地区" in county.text
    assert "山东省" in county.text  # the breadcrumb of ancestors
    regions = client.get("/services/regions")
    assert regions.status_code == 200 and "山东省" in regions.text and "26 项" in regions.text
    assert client.get("/services/regions/370000").status_code == 422
    assert client.get("/services/regions/990000000000").status_code == 404


# --- display: 繁體, elderly mode; the FAQ hook ----------------------------------------------------------


async def test_traditional_and_elderly_display(cat: Catalogue, client) -> None:
    client.cookies.set("tongban_prefs", "e1.hant")
    r = client.get(f"/guide/{cat.ids['food']}")
    assert '<html lang="zh-Hant">' in r.text and re.search(r'<body class="elderly', r.text)
    for text in (
        "食品經營許可",
        "事項名稱",
        "申請材料",
        "辦理流程",
        "承諾辦結時限",
        "本指南版本 v2",
    ):
        assert text in r.text, text
    assert "在線辦理" in r.text
    assert "個人辦事 · 出生" in client.get("/services/themes/birth").text


async def test_faq_block_lists_the_items_faq(cat: Catalogue, client, monkeypatch) -> None:
    """The block shows what ``tongban.search.faq_for_item`` answers for the
    item's base code and name, and nothing when it has nothing or fails."""
    import tongban.search

    calls = []

    async def faq_for_item(session, *, item_name: str = "", item_code: str = "", limit: int = 8):
        calls.append((item_name, item_code))
        return [
            {"question": "个体户需要办理吗？", "answer": "从事食品经营的个体工商户也需要办理。"}
        ]

    async def nothing(session, **kwargs):
        return []

    async def broken(session, **kwargs):
        raise RuntimeError("index not built")

    monkeypatch.setattr(tongban.search, "faq_for_item", nothing)
    assert "常见问题" not in client.get(f"/guide/{cat.ids['food']}").text
    monkeypatch.setattr(tongban.search, "faq_for_item", faq_for_item)
    html = client.get(f"/guide/{cat.ids['food']}").text
    assert "常见问题" in html and "个体户需要办理吗？" in html
    assert calls == [("食品经营许可", cat.codes["food"][-12:])]  # the name and the 基本编码
    monkeypatch.setattr(tongban.search, "faq_for_item", broken)
    r = client.get(f"/guide/{cat.ids['food']}")
    assert r.status_code == 200 and "常见问题" not in r.text
    # Without the search package at all: no block either.
    monkeypatch.setitem(sys.modules, "tongban.search", None)
    r = client.get(f"/guide/{cat.ids['food']}")
    assert r.status_code == 200 and "常见问题" not in r.text


def test_pdf_cache_prunes_the_oldest(tmp_path) -> None:
    import os

    from tongban.catalogue import pdf

    root = pdf.cache_dir(tmp_path)
    for i in range(5):
        p = root / f"{i:02d}" / f"{i:02d}{'0' * 62}.pdf"
        p.parent.mkdir(parents=True)
        p.write_bytes(b"%PDF-")
        os.utime(p, (1000 + i, 1000 + i))
    assert pdf.prune(root, keep=3) == 2
    assert sorted(p.name[:2] for p in root.rglob("*.pdf")) == ["02", "03", "04"]


async def test_bad_ids_are_refused_not_500(client) -> None:
    big = "9" * 25
    for url in (
        f"/guide/{big}",
        f"/guide/{big}.pdf",
        f"/services/departments/{big}",
        f"/files/{'0' * 64}?g={big}",
    ):
        assert client.get(url).status_code == 422, url
    assert client.get(f"/files/{'0' * 64}").status_code == 404
