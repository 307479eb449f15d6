"""FAQ matching, second stage: rerank the first stage's best topics.

Pure: no database. See ``faq.py`` for the first stage. For each of the
``CANDIDATES`` best topics, ``features`` describes the (question, topic)
pair: the first stage's four views (scaled and raw), its fused score and
rank, whether the topic names the place asked about (or another, or none),
the share of the question's bigrams (weighted by idf × topicality) and
words (idf) found in the topic's questions, its answers or either, the
longest substring the question shares with one of its questions or
answers, and the best single question's bigram share. Nothing describes
the topic's size (a leave-one-out question's own topic is one row short:
a size feature would learn that, not matching). ``Reranker`` scores the
features and their pairwise products with stored weights
(``faq_rank_weights``, trained by ``bench/eval_faq.py --train``).
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tongban.search import analysis

if TYPE_CHECKING:
    from tongban.search.faq import FaqMatcher, _Query

CANDIDATES = 50

FEATURES = (
    "v_topic_words",
    "v_topic_bigrams",
    "v_best_q_words",
    "v_best_q_bigrams",
    "fused",
    "first_rank_recip",
    "raw_topic_words",
    "raw_topic_bigrams",
    "place_match",
    "place_other",
    "place_none",
    "place_unasked",
    "place_share",
    "gram_cov_q",
    "gram_cov_a",
    "gram_cov_any",
    "word_cov_q",
    "word_cov_a",
    "lcs_q",
    "lcs_a",
    "lcs_q_abs",
    "gram_cov_best_row",
)


class RowText:
    """Per row: the sets and texts the features compare against."""

    def __init__(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        q_grams: Sequence[Sequence[str]],
        a_grams: Sequence[Sequence[str]],
        q_words: Sequence[Sequence[str]],
        a_words: Sequence[Sequence[str]],
    ) -> None:
        self.q_grams = [frozenset(x) for x in q_grams]
        self.a_grams = [frozenset(x) for x in a_grams]
        self.q_words = [frozenset(w for w in x if len(w) >= 2) for x in q_words]
        self.a_words = [frozenset(w for w in x if len(w) >= 2) for x in a_words]
        self.q_text = [analysis.compact(t) for t in questions]
        self.a_text = [analysis.compact(t) for t in answers]


def _lcs(q: str, text: str) -> int:
    """Length of the longest substring of ``q`` (two characters or more) in ``text``."""
    alive = [i for i in range(len(q) - 1) if q[i : i + 2] in text]
    length = 2 if alive else 0
    while alive:
        alive = [i for i in alive if i + length < len(q) and q[i : i + length + 1] in text]
        if alive:
            length += 1
    return length


def _idf(units: Any, terms: set[str], m: FaqMatcher, excluded: set[int]) -> dict[str, float]:
    """BM25's idf over topics, the excluded rows taken out (as ``_Units.score``)."""
    left: dict[int, float] = {}
    for i in excluded:
        k = m.topic_of[i]
        left[k] = left.get(k, units.unit_len[k]) - sum(units.row_tf[i].values())
    n = units.n - sum(1 for v in left.values() if v <= 1e-9)
    out = {}
    for t in terms:
        df = units.df.get(t, 0)
        gone: dict[int, float] = {}
        for i in excluded:
            if t in units.row_tf[i]:
                k = m.topic_of[i]
                gone[k] = gone.get(k, 0.0) + units.row_tf[i][t]
        df -= sum(1 for k, g in gone.items() if units.unit_tf[k][t] - g <= 1e-9)
        out[t] = math.log(1 + (n - df + 0.5) / (df + 0.5)) if df > 0 and n > 0 else 0.0
    return out


def features(
    m: FaqMatcher,
    q: _Query,
    ranked: Sequence[tuple[int, float]],
    excluded: set[int],
    n: int = CANDIDATES,
) -> list[tuple[int, list[float]]]:
    """(topic, features) for the first ``n`` of ``ranked``; the ``excluded``
    rows are left out of everything, as in the first stage."""
    rt = m.rank_text
    grams = set(q.grams)
    gidf = _idf(m.topic_bigrams, grams, m, excluded)
    gw = {g: gidf[g] * q.gram_w.get(g, 1.0) for g in grams}
    g_total = sum(gw.values()) or 1.0
    words = {w for w in q.words if len(w) >= 2 and not w.startswith(("@", "“"))}
    widf = _idf(m.topic_words, words, m, excluded)
    w_total = sum(widf.values()) or 1.0
    qtext = analysis.compact(q.text)
    qlen = max(1, len(qtext))
    places = q.places
    top = ranked[0][1] if ranked and ranked[0][1] > 0 else 1.0
    out = []
    for rank, (k, s) in enumerate(ranked[:n]):
        rows = [i for i in m.topic_rows[k] if i not in excluded]
        qg: set[str] = set()
        ag: set[str] = set()
        qw: set[str] = set()
        aw: set[str] = set()
        best_row = 0.0
        lq = la = 0
        for i in rows:
            qg |= rt.q_grams[i]
            ag |= rt.a_grams[i]
            qw |= rt.q_words[i]
            aw |= rt.a_words[i]
            best_row = max(best_row, sum(gw[g] for g in grams & rt.q_grams[i]))
            lq = max(lq, _lcs(qtext, rt.q_text[i]))
            la = max(la, _lcs(qtext, rt.a_text[i]))
        tp = m._topic_places(k, excluded)
        f = [
            q.views[0].get(k, 0.0),
            q.views[1].get(k, 0.0),
            q.views[2].get(k, 0.0),
            q.views[3].get(k, 0.0),
            s / top,
            1.0 / (rank + 1),
            math.log1p(q.raw[0].get(k, 0.0)),
            math.log1p(q.raw[1].get(k, 0.0)),
            float(bool(places) and bool(tp & places)),
            float(bool(places) and bool(tp) and not tp & places),
            float(bool(places) and not tp),
            float(not places and bool(tp)),
            len(tp & places) / len(places) if places else 0.0,
            sum(gw[g] for g in grams & qg) / g_total,
            sum(gw[g] for g in grams & ag) / g_total,
            sum(gw[g] for g in grams & (qg | ag)) / g_total,
            sum(widf[w] for w in words & qw) / w_total,
            sum(widf[w] for w in words & aw) / w_total,
            lq / qlen,
            la / qlen,
            min(lq, 12) / 12,
            best_row / g_total,
        ]
        out.append((k, f))
    return out


def fold_of(topic: str, folds: int) -> int:
    """The cross-fitting fold of a topic: stable across runs and machines."""
    return int(hashlib.md5(topic.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % folds


def expand(f: Sequence[float]) -> list[float]:
    """The features and their pairwise products (i ≤ j, row by row)."""
    out = list(f)
    n = len(f)
    for i in range(n):
        fi = f[i]
        out.extend(fi * f[j] for j in range(i, n))
    return out


class Reranker:
    """score = w · (features, their pairwise products); stored weights."""

    def __init__(self, weights: Sequence[float], n: int = CANDIDATES) -> None:
        d = len(FEATURES)
        if len(weights) != d + d * (d + 1) // 2:
            raise ValueError(f"{len(weights)} weights for {d} features")
        self.linear = list(weights[:d])
        self.pairs: list[list[float]] = []
        at = d
        for i in range(d):
            self.pairs.append(list(weights[at : at + d - i]))
            at += d - i
        self.n = n

    def score(self, f: Sequence[float]) -> float:
        s = 0.0
        for i, fi in enumerate(f):
            if fi:
                s += fi * (self.linear[i] + sum(map(operator.mul, self.pairs[i], f[i:])))
        return s

    def rerank(
        self,
        m: FaqMatcher,
        q: _Query,
        ranked: list[tuple[int, float]],
        excluded: set[int],
    ) -> list[tuple[int, float]]:
        feats = features(m, q, ranked, excluded, self.n)
        scored = [(k, self.score(f)) for k, f in feats]
        scored.sort(key=lambda kv: -kv[1])  # stable: the first stage breaks ties
        # The order is the second stage's; the score shown stays the first stage's.
        return [(k, q.fused[k]) for k, _ in scored] + list(ranked[self.n :])


def shipped() -> Reranker | None:
    """The reranker with the weights trained on the shared KB (``faq_rank_weights``)."""
    try:
        from tongban.search import faq_rank_weights as w
    except ImportError:
        return None
    if tuple(w.FEATURES) != FEATURES:
        return None
    return Reranker(w.FULL)
