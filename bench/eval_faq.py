"""FAQ matching evaluation: ``.venv/bin/python bench/eval_faq.py [--kb PATH] [--queries PATH] [--rerank cv|shipped|off] [--train]``.

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

The second stage (``search/faq_rank.py``: a learned reranker over the first
stage's 50 best topics) is trained on this KB, so its evaluation is
cross-fitted. ``--train`` computes every leave-one-out question's candidate
features (its own row excluded, as above), splits the docids into 5 folds
(``faq_rank.fold_of``: md5 of the docid) and fits one weight set per fold on
the questions of the *other* four folds, plus ``FULL`` on all; it writes
``src/tongban/search/faq_rank_weights.py`` (needs numpy, a dev tool only: the
product scores with the stored weights in pure Python). The leave-one-out
evaluation (``--rerank cv``, the default) answers each question with the
weights of its docid's fold, which never saw that docid's questions, nor the
question itself; everything else is the product's code path. ``--rerank
shipped`` uses ``FULL`` (what the product uses: optimistic here, it saw every
question) and ``--rerank off`` the first stage alone. With ``--queries`` the
shipped weights are used.

FAQ answers are judged as ranked (``faq_min_confidence=0``: the search box
hides answers below a confidence threshold, which is display, not ranking).

Last line of stdout: ``{"n", "top1", "top5", "p99_ms"}`` (p99 of the search
call's wall time per query).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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


@contextlib.asynccontextmanager
async def instance(kb: Path) -> AsyncIterator[tuple[Any, Any, dict[str, str]]]:
    """A fresh instance with the KB imported: (search engine, snapshot, file id → row key)."""
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
            yield search, snap, key_of
        finally:
            await engine.dispose()


def leave_one_out(kb_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of docids with two or more questions: each is asked with itself left out."""
    size: dict[str, int] = defaultdict(int)
    for r in kb_rows:
        size[r["docid"]] += 1
    return [r for r in kb_rows if size[r["docid"]] >= 2]


async def run(kb: Path, queries: Path | None, limit: int | None, rerank: str) -> dict[str, float]:
    from tongban.search import faq_rank, faq_rank_weights, service

    async with instance(kb) as (search, snap, key_of):
        kb_rows = read_rows(kb)
        if queries is None:
            asks = [(r["question"], r["docid"], [key_of[r["id"]]]) for r in leave_one_out(kb_rows)]
            log(
                f"leave-one-out: {len(asks)} questions of {len({a[1] for a in asks})} docids with two or more"
            )
        else:
            asks = [(r["question"], r["docid"], []) for r in read_rows(queries)]
            log(f"{len(asks)} queries from {queries}")
        if limit:
            asks = asks[:limit]
        # Which second stage answers each question (see the module docstring).
        shipped = snap.faq.reranker
        by_fold = [faq_rank.Reranker(w) for w in faq_rank_weights.BY_FOLD]
        log(f"second stage: {rerank}")
        topic_of_key = {key_of[r["id"]]: r["docid"] for r in kb_rows}
        top1 = top5 = 0
        times: list[float] = []
        for n, (question, docid, exclude) in enumerate(asks, 1):
            if rerank == "off":
                snap.faq.reranker = None
            elif rerank == "cv" and queries is None:
                snap.faq.reranker = by_fold[faq_rank.fold_of(docid, faq_rank_weights.FOLDS)]
            else:
                snap.faq.reranker = shipped
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
        snap.faq.reranker = shipped
        n = len(asks)
        return {
            "n": n,
            "top1": round(top1 / n, 4) if n else 0.0,
            "top5": round(top5 / n, 4) if n else 0.0,
            "p99_ms": round(percentile(times, 99), 2),
        }


# --- training the second stage (--train) ----------------------------------------------------

TRAIN_L2 = 1e-2
TRAIN_STEPS = 300
WEIGHTS_FILE = REPO / "src" / "tongban" / "search" / "faq_rank_weights.py"


def fit(lists: list[tuple[list[list[float]], int]]) -> list[float]:
    """Weights over ``faq_rank.expand(features)`` minimising the softmax loss of
    the right topic among each question's candidates (full-batch Adam, L2)."""
    import numpy as np

    from tongban.search import faq_rank

    width = max(len(f) for f, _ in lists)
    dim = len(faq_rank.expand(lists[0][0][0]))
    x = np.zeros((len(lists), width, dim))
    mask = np.full((len(lists), width), -1e9)
    y = np.array([j for _, j in lists])
    for n, (feats, _) in enumerate(lists):
        x[n, : len(feats)] = [faq_rank.expand(f) for f in feats]
        mask[n, : len(feats)] = 0.0
    flat = x[mask == 0.0]
    mu, sd = flat.mean(0), flat.std(0) + 1e-9
    x = (x - mu) / sd
    w = np.zeros(dim)
    m1 = np.zeros(dim)
    m2 = np.zeros(dim)
    for step in range(1, TRAIN_STEPS + 1):
        s = x @ w + mask
        s -= s.max(1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1.0
        g = np.einsum("nl,nld->d", p, x) / len(y) + TRAIN_L2 * w
        m1 = 0.9 * m1 + 0.1 * g
        m2 = 0.999 * m2 + 0.001 * g * g
        w -= 0.05 * (m1 / (1 - 0.9**step)) / (np.sqrt(m2 / (1 - 0.999**step)) + 1e-8)
    # Back to raw features: the mean shift is the same for every candidate of a question.
    return [float(v) for v in w / sd]


def write_weights(
    kb_name: str, n: int, folds: int, full: list[float], by_fold: list[list[float]]
) -> None:
    from tongban.search import faq_rank

    def tup(ws: list[float]) -> str:
        nums = [f"{v:.6g}," for v in ws]
        return (
            "(\n"
            + "".join("    " + " ".join(nums[i : i + 8]) + "\n" for i in range(0, len(nums), 8))
            + ")"
        )

    names = "".join(f'    "{name}",\n' for name in faq_rank.FEATURES)
    WEIGHTS_FILE.write_text(
        '"""Second-stage FAQ weights, written by ``bench/eval_faq.py --train``: do not edit.\n\n'
        f"Trained on {kb_name} ({n} leave-one-out questions). ``FULL`` is what the\n"
        "product uses; ``BY_FOLD[k]`` never saw the questions of the docids in fold k\n"
        '(``faq_rank.fold_of``): the evaluation answers those with it.\n"""\n\n'
        "# fmt: off\n"
        f"FEATURES = (\n{names})\nFOLDS = {folds}\nFULL = {tup(full)}\n"
        "BY_FOLD = (\n" + "".join(tup(w) + ",\n" for w in by_fold) + ")\n# fmt: on\n",
        encoding="utf-8",
    )


async def train(kb: Path, folds: int) -> None:
    from tongban.search import faq_rank

    async with instance(kb) as (_search, snap, key_of):
        m = snap.faq
        m.reranker = None
        asks = leave_one_out(read_rows(kb))
        log(f"features of {len(asks)} questions, each with itself left out")
        lists: list[tuple[str, list[list[float]], int]] = []
        for n, r in enumerate(asks, 1):
            row = m.row_index[key_of[r["id"]]]
            excluded = {row}
            q = m.topic_scores(r["question"], excluded)
            if q is None:
                continue
            ranked = sorted(q.fused.items(), key=lambda kv: -kv[1])
            feats = faq_rank.features(m, q, ranked, excluded)
            right = [j for j, (k, _) in enumerate(feats) if k == m.topic_of[row]]
            if right:  # questions whose topic the first stage misses teach nothing
                lists.append((r["docid"], [f for _, f in feats], right[0]))
            if n % 500 == 0:
                log(f"{n}/{len(asks)}")
    log(f"training on {len(lists)} questions with their topic among the candidates")
    by_fold = []
    for k in range(folds):
        by_fold.append(fit([(f, j) for d, f, j in lists if faq_rank.fold_of(d, folds) != k]))
        log(f"fold {k + 1}/{folds}")
    full = fit([(f, j) for _, f, j in lists])

    write_weights(kb.name, len(lists), folds, full, by_fold)
    log(f"wrote {WEIGHTS_FILE}")


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
    p.add_argument(
        "--rerank",
        choices=("cv", "shipped", "off"),
        default="cv",
        help="second stage: cross-fitted fold weights (default), the shipped weights, or none",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help=f"train the second stage and write {WEIGHTS_FILE.name} (needs numpy)",
    )
    p.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.kb.exists():
        log(f"knowledge base not found: {args.kb} (shared data absent)")
        return 2
    if args.train:
        asyncio.run(train(args.kb, 5))
        return 0
    result = asyncio.run(run(args.kb, args.queries, args.limit, args.rerank))
    print(
        f"FAQ matching: n={result['n']}  top-1 {result['top1']:.3f}  top-5 {result['top5']:.3f}  "
        f"p99 {result['p99_ms']:.1f} ms"
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
