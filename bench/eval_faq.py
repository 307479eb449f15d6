"""FAQ matching evaluation: ``.venv/bin/python bench/eval_faq.py [--kb PATH] [--queries PATH]``.

Loads the knowledge base into a fresh instance — a temporary SQLite database
migrated with Alembic, the bundled region tree, the KB imported through the
product's FAQ import (``search.service.import_faq``) — and answers every
query through the product's search service (``search.service.search``, the
code path of ``GET /api/v1/search``), judging the FAQ answers it returns.

- Without ``--queries``: leave-one-out. For each docid with two or more
  questions, each of its questions in turn is left out — its row, question
  *and* answer, is masked out of every count the matcher uses (``exclude``),
  exactly as if it had not been imported — and asked; a hit is a question of
  the same docid ranked first (top1) or within the first five (top5).
- With ``--queries FILE`` (the KB's columns): the whole KB is loaded and each
  query asked; judged by docid the same way.

FAQ answers are judged as ranked (``faq_min_confidence=0``: the search box
hides answers below a confidence threshold, which is display, not ranking).

Last line of stdout: ``{"n", "top1", "top5", "p99_ms"}`` (p99 of the search
call's wall time per query).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_KB = REPO.parent / "shared" / "data" / "faq_policy_qa_2020" / "faq_kb.tsv"


def log(msg: str) -> None:
    print(f"[eval] {msg}", file=sys.stderr, flush=True)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


async def run(kb: Path, queries: Path | None, limit: int | None) -> dict[str, float]:
    from sqlalchemy import select

    from tongban.core.db import create_engine, make_sessionmaker
    from tongban.core.migrate import upgrade
    from tongban.core.settings import Settings
    from tongban.regions.service import load_bundled_regions
    from tongban.search import service
    from tongban.search.engine import SearchEngine
    from tongban.search.models import FaqEntry

    with tempfile.TemporaryDirectory(prefix="tongban-eval-faq-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/eval.db", embedded_worker=False
        )
        engine = create_engine(settings)
        try:
            t = time.perf_counter()
            await upgrade(engine)
            maker = make_sessionmaker(engine)
            async with maker() as s:
                await load_bundled_regions(s)
                report = await service.import_faq(
                    s, None, filename=kb.name, content=kb.read_bytes(), source="kb"
                )
                if report.status != "done":
                    for e in report.errors[:20]:
                        log(e.text())
                    raise SystemExit(f"the KB did not import: {len(report.errors)} errors")
                await s.commit()
                key_of = {
                    ext: str(i)
                    for ext, i in (await s.execute(select(FaqEntry.external_id, FaqEntry.id))).all()
                }
            log(f"imported {report.rows_written} rows in {time.perf_counter() - t:.1f} s")
            search = SearchEngine(maker)
            t = time.perf_counter()
            snap = await search.build()
            log(f"index built in {time.perf_counter() - t:.1f} s: {snap.stats()}")

            kb_rows = read_rows(kb)
            if queries is None:
                by_doc: dict[str, list[dict[str, str]]] = defaultdict(list)
                for r in kb_rows:
                    by_doc[r["docid"]].append(r)
                asks = [
                    (r["question"], r["docid"], [key_of[r["id"]]])
                    for r in kb_rows
                    if len(by_doc[r["docid"]]) >= 2
                ]
                log(
                    f"leave-one-out: {len(asks)} questions of {sum(1 for v in by_doc.values() if len(v) >= 2)} docids with two or more"
                )
            else:
                asks = [(r["question"], r["docid"], []) for r in read_rows(queries)]
                log(f"{len(asks)} queries from {queries}")
            if limit:
                asks = asks[:limit]
            topic_of_key = {key_of[r["id"]]: r["docid"] for r in kb_rows}
            top1 = top5 = 0
            times: list[float] = []
            for n, (question, docid, exclude) in enumerate(asks, 1):
                t0 = time.perf_counter()
                page = await service.search(
                    search,
                    q=question,
                    kind="faq",
                    faq_limit=5,
                    faq_min_confidence=0.0,
                    exclude_faq=exclude,
                    log=False,
                )
                times.append((time.perf_counter() - t0) * 1000)
                topics = [topic_of_key.get(a.key, a.topic) for a in page.faq]
                top1 += bool(topics) and topics[0] == docid
                top5 += docid in topics[:5]
                if n % 500 == 0:
                    log(f"{n}/{len(asks)}: top1 {top1 / n:.3f} top5 {top5 / n:.3f}")
            n = len(asks)
            return {
                "n": n,
                "top1": round(top1 / n, 4) if n else 0.0,
                "top5": round(top5 / n, 4) if n else 0.0,
                "p99_ms": round(percentile(times, 99), 2),
            }
        finally:
            await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/eval_faq.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--kb", type=Path, default=DEFAULT_KB, help=f"knowledge base TSV (default {DEFAULT_KB})"
    )
    p.add_argument(
        "--queries",
        type=Path,
        help="queries TSV (id, docid, question, answer); default: leave-one-out",
    )
    p.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.kb.exists():
        log(f"knowledge base not found: {args.kb} (shared data absent)")
        return 2
    result = asyncio.run(run(args.kb, args.queries, args.limit))
    print(
        f"FAQ matching: n={result['n']}  top-1 {result['top1']:.3f}  top-5 {result['top5']:.3f}  "
        f"p99 {result['p99_ms']:.1f} ms"
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
