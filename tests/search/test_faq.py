"""FAQ knowledge base: import (TSV, xlsx) with every error reported by row and
nothing written, FAQ matching through the API and the search box."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests import builders as b
from tests.search.conftest import find
from tests.web.conftest import csrf_from, page_login
from tongban.search import faq_io, service
from tongban.search.models import FaqEntry, FaqImport

KB = (
    "id\tdocid\tquestion\tanswer\n"
    "q1\tsz\t苏州市为返工人员提供什么服务？\t“站到站”包车运输服务\n"
    "q2\tsz\t苏州市返工包车的费用由谁承担？\t由政府全额承担\n"
    "q3\tbj\t北京重点保障企业获得贴息后时间是多久？\t不超过1年。\n"
    "q4\tbj\t北京对重点保障企业名单是如何管理的？\t由市发展改革委、市经济和信息化局按职责分工实施名单制管理。\n"
    "q5\ttax\t秦皇岛海港区税务局推出的一二三工作法是什么？\t一个理念、两个目标、三项措施\n"
)


async def _admin(session, username: str = "faqadmin"):
    acc = await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username=username)
    await session.commit()
    return acc


async def _count(session) -> int:
    return (await session.execute(select(func.count()).select_from(FaqEntry))).scalar_one()


def test_parse_reports_every_error_with_its_row() -> None:
    bad = (
        "id\tdocid\tquestion\tanswer\n"
        "a1\td1\t有效的问题？\t有效的答案\n"
        "\td1\t没有编号的问题？\t答案\n"  # row 3
        "a1\td2\t编号重复的问题？\t答案\n"  # row 4
        "a4\t\t问\t\n"  # row 5: three errors
        "\n"
        "a6\td6\t列太多\t答案\t多出来的\n"  # row 7
        "a8\td8\t空字符\x00的问题？\t答案\n"  # row 8: PostgreSQL refuses a NUL
    )
    parsed = faq_io.parse("kb.tsv", bad.encode())
    assert [(e.row, e.column) for e in parsed.errors] == [
        (3, "id"), (4, "id"), (5, "docid"), (5, "question"), (5, "answer"), (7, ""),
        (8, "question"),
    ]  # fmt: skip
    assert parsed.errors[-1].text() == "第 8 行「问题」：含有无效字符（空字符）"
    assert parsed.errors[1].text() == "第 4 行「编号」：与第 2 行重复"
    assert [r["id"] for r in parsed.rows] == ["a1"]
    missing = faq_io.parse("kb.tsv", "编号\t问题\n1\t问题？\n".encode())
    assert missing.errors[0].row == 1 and "docid（主题）" in missing.errors[0].message
    assert faq_io.parse("kb.pdf", b"x").errors[0].message == "只支持 .tsv 或 .xlsx 文件"


async def test_import_with_errors_writes_nothing(search_client, session) -> None:
    await _admin(session)
    csrf = {"X-CSRF-Token": b.login(search_client, "faqadmin")["csrf_token"]}
    bad = KB + "q6\tsz\t\t没有问题的答案\n" + "q1\tsz\t编号重复？\t答案\n"
    r = search_client.post(
        "/api/v1/faq/imports",
        files={"file": ("kb.tsv", bad.encode(), "text/tab-separated-values")},
        headers=csrf,
    )
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == "rejected" and body["rows_written"] == 0 and body["rows_read"] == 7
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(7, "question"), (8, "id")]
    assert body["errors"][0]["message"] == "第 7 行「问题」：不能为空，至少 2 个字"
    assert await _count(session) == 0
    assert (await session.execute(select(func.count()).select_from(FaqImport))).scalar_one() == 0


async def test_import_then_ask(search_client, session) -> None:
    await _admin(session)
    csrf = {"X-CSRF-Token": b.login(search_client, "faqadmin")["csrf_token"]}
    r = search_client.post(
        "/api/v1/faq/imports", files={"file": ("kb.tsv", KB.encode(), "text/plain")}, headers=csrf
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows_written"] == 5 and r.json()["status"] == "done"
    # The same ids again: an error unless the file replaces the knowledge base.
    again = search_client.post(
        "/api/v1/faq/imports", files={"file": ("kb.tsv", KB.encode(), "text/plain")}, headers=csrf
    )
    assert again.status_code == 422 and again.json()["errors"][0]["row"] == 2
    replaced = search_client.post(
        "/api/v1/faq/imports",
        files={"file": ("kb.tsv", KB.encode(), "text/plain")},
        data={"replace": "true"},
        headers=csrf,
    )
    assert replaced.status_code == 200 and await _count(session) == 5

    # A new question about 苏州 returns-to-work transport: the 苏州 topic.
    r = search_client.post("/api/v1/faq/ask", json={"question": "苏州返工人员坐包车要花钱吗"})
    assert r.status_code == 200
    answers = r.json()["answers"]
    assert answers[0]["topic"] == "sz" and answers[0]["answer"] in (
        "“站到站”包车运输服务",
        "由政府全额承担",
    )
    assert len({a["topic"] for a in answers}) == len(answers)  # one answer per topic
    # Traditional characters ask the same.
    trad = search_client.post(
        "/api/v1/faq/ask", json={"question": "北京重點保障企業名單怎麼管理"}
    ).json()["answers"]
    assert trad[0]["key"] and trad[0]["question"] == "北京对重点保障企业名单是如何管理的？"
    # The search box shows confident FAQ answers beside the results.
    body = find(search_client, "北京重点保障企业贴息多久")
    assert body["faq"] and body["faq"][0]["topic"] == "bj" and body["faq"][0]["confidence"] >= 0.45
    assert any(h["kind"] == "faq" for h in body["results"])
    assert search_client.post("/api/v1/faq/ask", json={"question": "x"}).status_code == 422


async def test_import_xlsx(session) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "主题", "问题", "答案", "事项编码"])
    ws.append(["x1", "birth", "新生儿怎么办出生医学证明？", "在出生医院申领", "511A0138000000"])
    ws.append(["x2", None, "没有主题的问题", "答案"])
    buf = io.BytesIO()
    wb.save(buf)
    report = await service.import_faq(
        session, None, filename="kb.xlsx", content=buf.getvalue(), source="x"
    )
    assert report.status == "rejected" and [(e.row, e.column) for e in report.errors] == [
        (3, "docid")
    ]
    ws.delete_rows(3)
    buf = io.BytesIO()
    wb.save(buf)
    report = await service.import_faq(
        session, None, filename="kb.xlsx", content=buf.getvalue(), source="x"
    )
    await session.commit()
    assert report.status == "done" and report.rows_written == 1
    entry = (await session.execute(select(FaqEntry))).scalar_one()
    assert (entry.topic, entry.item_code, entry.external_id) == ("birth", "511A0138000000", "x1")
    found = await service.faq_for_item(session, item_code="511A0138000000")
    assert found == [{"question": "新生儿怎么办出生医学证明？", "answer": "在出生医院申领"}]


async def test_faq_admin_page_reports_errors(search_client, session) -> None:
    await _admin(session, "faqpage")
    page_login(search_client, "faqpage")
    token = csrf_from(search_client.get("/admin/search/faq").text)
    bad = KB + "q9\t\t没有主题？\t答案\n"
    r = search_client.post(
        "/admin/search/faq/import",
        data={"csrf_token": token, "source": "faq"},
        files={"file": ("kb.tsv", bad.encode(), "text/plain")},
    )
    assert (
        r.status_code == 422
        and "未导入任何内容" in r.text
        and "第 7 行「主题」：不能为空" in r.text
    )
    r = search_client.post(
        "/admin/search/faq/import",
        data={"csrf_token": token, "source": "faq"},
        files={"file": ("kb.tsv", KB.encode(), "text/plain")},
    )
    assert r.status_code == 200 and "已导入 5 条问答" in r.text
    entry_id = (
        await session.execute(select(FaqEntry.id).where(FaqEntry.external_id == "q3"))
    ).scalar_one()
    page = search_client.get(f"/faq/{entry_id}")
    assert page.status_code == 200 and "不超过1年" in page.text


@pytest.mark.parametrize("q", ["", "   "])
def test_ask_nothing(search_client, q: str) -> None:
    r = search_client.post("/api/v1/faq/ask", json={"question": q})
    assert r.status_code == 422
