"""Search rules: searching, FAQ answers, clicks, synonyms, corrections,
learning from the search log, FAQ import. Services flush; the edge commits.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import audit, scope
from tongban.core.clock import now
from tongban.core.errors import AppError, NotFound, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.search import analysis, faq_io, repository
from tongban.search.engine import SearchEngine
from tongban.search.faq import FaqMatch
from tongban.search.index import KINDS, NATIONAL, Hit
from tongban.search.models import FaqImport, SearchCorrection, Synonym

# Searches with at most this many results, followed by a click, teach synonyms.
LEARN_MAX_RESULTS = 3
LEARN_MIN_SEARCHES = 2
# FAQ answers shown beside search results need this share of the query's words.
FAQ_MIN_CONFIDENCE = 0.45

SYNONYM_ADMINS = ("platform_admin",)
SYNONYM_PROPOSERS = ("platform_admin", "dept_admin")


class SynonymExists(AppError):
    code = "synonym_exists"
    message = "该同义词已存在"
    status = 409


class FaqImportRejected(AppError):
    code = "faq_import_rejected"
    message = "文件中有错误，未导入任何内容"
    status = 422


@dataclass(slots=True)
class SearchPage:
    search_id: str
    query: str
    total: int
    page: int
    pages: int
    suggestion: str | None
    corrected: bool
    hits: list[Hit]
    faq: list[FaqMatch]


@dataclass(slots=True)
class ImportReport:
    import_id: int | None
    status: str
    rows_read: int
    rows_written: int
    errors: list[faq_io.RowError] = field(default_factory=list)


async def mark_changed(session: AsyncSession) -> None:
    """The index must be rebuilt (catalogue published, synonyms changed …):
    every process picks it up within a few seconds of the commit."""
    await repository.bump_version(session)


def _region12(region: str | None) -> str | None:
    if not region:
        return None
    try:
        return scope.normalise(region)
    except ValueError:
        raise ValidationFailed(
            "行政区划代码应为 2、4、6、9 或 12 位数字", code="invalid_region"
        ) from None


# --- searching -------------------------------------------------------------------------------


async def search(
    engine: SearchEngine,
    *,
    q: str,
    kind: str | None = None,
    region: str | None = None,
    page: int = 1,
    size: int = 10,
    actor: Actor | None = None,
    faq_limit: int = 3,
    faq_min_confidence: float = FAQ_MIN_CONFIDENCE,
    exclude_faq: Iterable[str] = (),
    log: bool = True,
    conn: Any = None,
) -> SearchPage:
    """One search across items, guides and FAQ answers, ranked for the
    searcher's region (``region``, else the signed-in actor's).

    FAQ answers: the best ``faq_limit`` topics whose answer shares at least
    ``faq_min_confidence`` of the query's character bigrams. ``exclude_faq``
    scores as if those FAQ entries had never been imported (the
    leave-one-out evaluation)."""
    q = q.strip()
    if kind is not None and kind not in KINDS:
        raise ValidationFailed("kind 只能是 item、guide 或 faq", code="invalid_kind")
    region12 = _region12(region) or (actor.region_code if actor is not None else None)
    snap = await engine.current(conn)
    search_id = os.urandom(8).hex()
    if not analysis.compact(q):
        return SearchPage(search_id, q, 0, page, 0, None, False, [], [])
    results = snap.search(q, kind=kind, region=region12, page=page, size=size)
    answers: list[FaqMatch] = []
    if page == 1 and kind in (None, "faq") and faq_limit > 0 and not analysis.is_pinyin_query(q):
        answers = [
            a
            for a in snap.faq_answers(q, limit=faq_limit, exclude=exclude_faq)
            if a.confidence >= faq_min_confidence
        ]
    if log:
        engine.log_search(
            {
                "search_id": search_id,
                "query": q[:200],
                "normalised": analysis.compact(q)[:200],
                "kind": kind or "",
                "results_count": results.total,
                "actor_id": actor.account_id if actor is not None else None,
                "region_code": region12 or NATIONAL,
                "created_at": now(),
            }
        )
    return SearchPage(
        search_id, q, results.total, results.page, results.pages, results.suggestion, results.corrected,
        results.hits, answers,
    )  # fmt: skip


async def suggest(
    engine: SearchEngine, *, q: str, kind: str | None = None, limit: int = 8
) -> list[tuple[str, str]]:
    """Autocomplete: titles (and their pinyin) starting with, then containing, the query."""
    snap = await engine.current()
    return snap.suggest(q, limit=limit, kind=kind)


async def ask_faq(
    engine: SearchEngine, *, question: str, limit: int = 5, exclude: Iterable[str] = ()
) -> list[FaqMatch]:
    """FAQ matching: the best answers, one per topic, best first."""
    snap = await engine.current()
    return snap.faq_answers(question, limit=limit, exclude=exclude)


async def record_click(
    session: AsyncSession,
    engine: SearchEngine,
    *,
    search_id: str,
    kind: str,
    key: str,
    actor: Actor | None,
) -> None:
    """Log the result a person chose after a search; it counts towards popularity."""
    snap = await engine.current()
    title = snap.title_of(kind, key)
    if title is None:
        raise NotFound("该搜索结果不存在", code="result_not_found")
    buffered = engine.buffered(search_id)
    if buffered is not None:
        buffered.update(chosen_kind=kind, chosen_key=key, chosen_title=title[:300])
    elif await repository.set_log_choice(session, search_id, kind, key, title) == 0:
        raise NotFound("搜索记录不存在或已过期", code="search_not_found")
    await repository.add_click(session, kind, key)
    snap.add_click(kind, key)


# --- synonyms ----------------------------------------------------------------------------------


def _require(actor: Actor, roles: tuple[str, ...]) -> None:
    if not actor.has_any_role(*roles):
        raise PermissionDenied()


async def propose_synonym(
    session: AsyncSession, actor: Actor | None, *, term: str, canonical: str, approve: bool = False,
    source: str = "admin", evidence: int = 0,
) -> Synonym:  # fmt: skip
    """Propose "people say ``term``, the catalogue says ``canonical``" (approved
    at once when a platform administrator asks for it)."""
    if actor is not None:
        _require(actor, SYNONYM_PROPOSERS)
    t, c = analysis.compact(term), analysis.normalise(canonical)
    if not t:
        raise ValidationFailed("请填写群众的说法", code="synonym_term_empty")
    if not c:
        raise ValidationFailed("请填写规范说法", code="synonym_canonical_empty")
    if t == c.replace(" ", ""):
        raise ValidationFailed("两种说法相同，无需添加", code="synonym_same")
    if len(t) > 50 or len(c) > 100:  # as stored: normalising may lengthen (ﬃ → ffi)
        raise ValidationFailed(
            "说法过长：群众说法不超过 50 字，规范说法不超过 100 字", code="synonym_too_long"
        )
    if await repository.get_synonym_by_pair(session, t, c) is not None:
        raise SynonymExists(f"“{t} → {c}”已存在")
    syn = Synonym(term=t[:50], canonical=c[:100], status="proposed", source=source, evidence=evidence,
                  proposed_by=actor.account_id if actor else None, created_at=now())  # fmt: skip
    session.add(syn)
    await session.flush()
    if actor is not None:
        await audit.record(session, actor=actor.ref, action="search.synonym_proposed", target_type="search_synonym",
                           target_id=syn.id, region_code=actor.region_code,
                           details={"term": syn.term, "canonical": syn.canonical})  # fmt: skip
    if approve:
        await approve_synonym(session, actor, syn.id)  # type: ignore[arg-type]
    return syn


async def approve_synonym(session: AsyncSession, actor: Actor, synonym_id: int) -> Synonym:
    """Put a proposed synonym into use (the index rebuilds)."""
    _require(actor, SYNONYM_ADMINS)
    syn = await repository.get_synonym(session, synonym_id)
    if syn is None:
        raise NotFound("同义词不存在")
    if syn.status != "approved":
        syn.status = "approved"
        syn.approved_by = actor.account_id
        syn.approved_at = now()
        await session.flush()
        await audit.record(session, actor=actor.ref, action="search.synonym_approved", target_type="search_synonym",
                           target_id=syn.id, region_code=actor.region_code,
                           details={"term": syn.term, "canonical": syn.canonical})  # fmt: skip
        await mark_changed(session)
    return syn


async def delete_synonym(session: AsyncSession, actor: Actor, synonym_id: int) -> None:
    _require(actor, SYNONYM_ADMINS)
    syn = await repository.get_synonym(session, synonym_id)
    if syn is None:
        raise NotFound("同义词不存在")
    was_active = syn.status == "approved"
    details = {"term": syn.term, "canonical": syn.canonical}
    await session.delete(syn)
    await session.flush()
    await audit.record(session, actor=actor.ref, action="search.synonym_deleted", target_type="search_synonym",
                       target_id=synonym_id, region_code=actor.region_code, details=details)  # fmt: skip
    if was_active:
        await mark_changed(session)


async def get_synonyms(
    session: AsyncSession,
    *,
    q: str = "",
    status: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> tuple[list[Synonym], int | None]:
    return await repository.get_synonyms(
        session, q=analysis.compact(q), status=status, after=after, limit=limit
    )


# --- learning ----------------------------------------------------------------------------------


def _learned_canonical(query: str, title: str, fewest_results: int, max_results: int) -> str | None:
    """What the query should also be read as, or None.

    A query teaches a synonym when people chose a result although the query
    found little (at most ``max_results``) or shares no word with the chosen
    title (it was found by fuzzy matching or picked further down): "娃娃落地证"
    → "出生医学证明". The canonical side is the title's first phrase."""
    q_words = {w for w in analysis.tokens(query) if len(w) >= 2}
    t_words = {w for w in analysis.tokens(title) if len(w) >= 2}
    if not t_words or t_words <= q_words:
        return None
    if fewest_results > max_results and q_words & t_words:
        return None
    chunks = analysis.title_chunks(title)
    return chunks[0] if chunks else analysis.normalise(title)


async def learn_synonyms(
    session: AsyncSession,
    *,
    min_searches: int = LEARN_MIN_SEARCHES,
    max_results: int = LEARN_MAX_RESULTS,
    since: dt.datetime | None = None,
    engine: SearchEngine | None = None,
) -> list[Synonym]:
    """Propose synonyms from the search log: a query that found little, after
    which people chose the same result at least ``min_searches`` times,
    becomes "query → chosen title" for an administrator to approve."""
    if engine is not None:
        await engine.flush_logs(session)
    proposed: list[Synonym] = []
    for query, _kind, title, n, fewest in await repository.get_learning_candidates(
        session, since=since
    ):
        if n < min_searches or not query or len(query) > 50:
            continue
        canonical = _learned_canonical(query, title, fewest, max_results)
        if canonical is None:
            continue
        existing = await repository.get_synonym_by_pair(session, query, canonical)
        if existing is not None:
            if existing.source == "learned" and existing.evidence < n:
                existing.evidence = n
            continue
        syn = Synonym(term=query[:50], canonical=canonical[:100], status="proposed", source="learned",
                      evidence=n, created_at=now())  # fmt: skip
        session.add(syn)
        proposed.append(syn)
    await session.flush()
    return proposed


# --- staff corrections -------------------------------------------------------------------------


async def add_correction(
    session: AsyncSession, engine: SearchEngine, actor: Actor, *, query: str, kind: str, key: str
) -> SearchCorrection:
    """A staff member marks the right result for a query: it comes first for that query."""
    if not actor.is_staff:
        raise PermissionDenied("只有工作人员可以纠正搜索结果")
    norm = analysis.compact(query)
    if not norm:
        raise ValidationFailed("请填写搜索词", code="correction_query_empty")
    if len(norm) > 200:  # as stored: normalising may lengthen (ⅷ → viii)
        raise ValidationFailed("搜索词过长：不超过 200 字", code="correction_query_too_long")
    snap = await engine.current()
    title = snap.title_of(kind, key)
    if title is None:
        raise NotFound("该搜索结果不存在", code="result_not_found")
    existing = await repository.get_correction(session, norm, kind, key)
    if existing is not None:
        return existing
    corr = SearchCorrection(normalised=norm[:200], kind=kind, key=key, title=title[:300], actor_id=actor.account_id,
                            region_code=actor.region_code, created_at=now())  # fmt: skip
    session.add(corr)
    await session.flush()
    await audit.record(session, actor=actor.ref, action="search.corrected", target_type="search_correction",
                       target_id=corr.id, region_code=actor.region_code,
                       details={"query": norm, "kind": kind, "key": key})  # fmt: skip
    await mark_changed(session)
    return corr


# --- FAQ ---------------------------------------------------------------------------------------


async def import_faq(
    session: AsyncSession,
    actor: Actor | None,
    *,
    filename: str,
    content: bytes,
    source: str = "faq",
    region_code: str | None = None,
    replace: bool = False,
) -> ImportReport:
    """Import a FAQ knowledge base from TSV or xlsx. Every row is checked
    first; with any error nothing is written and every error is reported
    with its row number. ``replace``: the file replaces the entries of
    ``source``; otherwise an id already imported from ``source`` is an error."""
    if actor is not None:
        _require(actor, SYNONYM_ADMINS)
    region12 = _region12(region_code) or (actor.region_code if actor is not None else NATIONAL)
    source = (source or "faq").strip()[:60]
    parsed = faq_io.parse(filename, content)
    errors = list(parsed.errors)
    if not errors and not replace and parsed.rows:
        taken = await repository.get_existing_external_ids(
            session, source, [r["id"] for r in parsed.rows]
        )
        errors.extend(
            faq_io.RowError(
                int(r["row"]),
                "id",
                f"编号 {r['id']} 已导入过（来源 {source}）；如需整体替换请勾选“替换”",
            )
            for r in parsed.rows
            if r["id"] in taken
        )
    if not errors and not parsed.rows:
        errors.append(faq_io.RowError(2, "", "文件中没有问答"))
    rec = FaqImport(filename=(filename or "")[:200], source=source, rows_read=parsed.read, rows_written=0, error_count=len(errors),
        status="rejected" if errors else "done", actor_id=actor.account_id if actor else None,
        region_code=region12, created_at=now())  # fmt: skip
    if errors:
        errors.sort(key=lambda e: (e.row, e.column))
        return ImportReport(None, "rejected", rec.rows_read, 0, errors)
    session.add(rec)
    await session.flush()
    if replace:
        await repository.delete_faq_source(session, source)
    at = now()
    await repository.insert_faq_entries(
        session,
        [
            {
                "external_id": r["id"],
                "source": source,
                "topic": r["docid"],
                "question": r["question"],
                "answer": r["answer"],
                "item_code": r["item_code"],
                "import_id": rec.id,
                "region_code": region12,
                "created_at": at,
            }
            for r in parsed.rows
        ],
    )
    rec.rows_written = len(parsed.rows)
    await session.flush()
    if actor is not None:
        await audit.record(session, actor=actor.ref, action="search.faq_imported", target_type="faq_import",
                           target_id=rec.id, region_code=region12,
                           details={"filename": rec.filename, "rows": rec.rows_written, "replace": replace})  # fmt: skip
    await mark_changed(session)
    return ImportReport(rec.id, "done", rec.rows_read, rec.rows_written, [])


async def faq_for_item(
    session: AsyncSession, *, item_name: str = "", item_code: str = "", limit: int = 8
) -> list[dict[str, str]]:
    """FAQ entries for an item's guide page: those filed under its base code,
    then those matching its name well (from this process's index, if built)."""
    out: list[dict[str, str]] = []
    if item_code:
        for e in await repository.get_faq_by_item_code(session, item_code, limit=limit):
            out.append({"question": e.question, "answer": e.answer})
    from tongban.search.engine import latest_snapshot

    snap = latest_snapshot()
    if snap is not None and item_name and len(out) < limit:
        seen = {o["question"] for o in out}
        for m in snap.faq_answers(item_name, limit=limit):
            if m.confidence >= 0.6 and m.question not in seen:
                out.append({"question": m.question, "answer": m.answer})
    return out[:limit]
