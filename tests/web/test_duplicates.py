"""Two requests creating the same thing at the same moment: each checks first,
neither sees the other, the database's unique constraint refuses the second.
That is answered 409 ``duplicate`` in Chinese (the first one's row stands),
never a 500."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests import builders as b
from tongban.search.models import Synonym


async def test_creates_at_once_answer_duplicate_not_500(settings, session) -> None:
    await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username="dupadmin")
    await session.commit()
    body = {"term": "开饭店", "canonical": "食品经营许可"}
    answers = []
    async with b.asgi_client(settings, "dupadmin") as c:
        for _round in range(3):  # a race is likely, not certain, in one round
            answers += await asyncio.gather(
                *[c.post("/api/v1/search/synonyms", json=body) for _ in range(6)]
            )
    statuses = [r.status_code for r in answers]
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409}, [r.text[:200] for r in answers]
    refused = {r.json()["code"] for r in answers if r.status_code == 409}
    assert refused <= {"duplicate", "synonym_exists"}, refused
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(Synonym)) == 1


async def test_normalising_that_lengthens_is_refused_not_truncated(client, session) -> None:
    """ﬃ normalises to ffi: 17 of them are 51 characters, past the column's 50.
    Stored truncated, two different terms collided (a 500 on the second)."""
    await b.staff(session, roles=["platform_admin"], region=b.SHANDONG, username="lenadmin")
    await session.commit()
    b.login(client, "lenadmin")
    ok = client.post("/api/v1/search/synonyms", json={"term": "ﬃ" * 16, "canonical": "出生"})
    assert ok.status_code == 201, ok.text
    for n in (17, 21):
        r = client.post("/api/v1/search/synonyms", json={"term": "ﬃ" * n, "canonical": "出生"})
        assert r.status_code == 422 and r.json()["code"] == "synonym_too_long", r.text
    r = client.post(
        "/api/v1/search/corrections",
        json={"query": "ⅷ" * 61, "kind": "item", "key": "x"},
    )
    assert r.status_code == 422 and r.json()["code"] == "correction_query_too_long", r.text
