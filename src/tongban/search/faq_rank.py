"""FAQ matching, second stage: rerank the first stage's best topics.

Pure: no database. See ``faq.py`` for the first stage. For each of the
``CANDIDATES`` best topics, ``features`` describes the (question, topic)
pair: the first stage's four views (scaled and raw), its fused score and
rank, whether the topic names the place asked about (or another, or none),
the share of the question's bigrams (weighted by idf × topicality) and
words (idf) found in the topic's questions, its answers or either, the
longest substring the question shares with one of its questions or
answers, the best single question's bigram share, and how well the
topic's other wording answers the question's words it lacks, through
word associations learned from the knowledge base (``Associations``:
which words of one stored question go with which words of another row of
its topic, counted per topic). Nothing describes
the topic's size (a leave-one-out question's own topic is one row short:
a size feature would learn that, not matching). ``Reranker`` scores the
features and their pairwise products with stored weights
(``faq_rank_weights``, trained by ``bench/eval_faq.py --train``).
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Iterable, Sequence
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
    "assoc_p",
    "assoc_pmi",
    "assoc_strong",
    "assoc_strong_n",
    "assoc_pmi_per_word",
    "assoc_pmi_log",
)
# Associations: a pair counts once per topic; its PMI is shrunk below
# ASSOC_FULL topics, and "strong" means ASSOC_STRONG_MIN topics and PMI > 1.
ASSOC_FULL = 3
ASSOC_STRONG_MIN = 2
ASSOC_STRONG_PMI = 1.0
_NLOG = 256
_LOG = [0.0] + [math.log(c) for c in range(1, _NLOG)]


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


def _content(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w for w in words if not w.startswith(("@", "“")))


class Associations:
    """Which words go with which, learned from the knowledge base: a word
    ``u`` of one stored question and a word ``v`` of *another* row (question
    or answer) of the same topic count as one co-occurrence of (u, v) in that
    topic. Over the topics of two or more rows: ``p(v | u)`` = topics where
    (u, v) co-occur / topics where ``u`` is asked, and PMI against the share
    of topics that say ``v``. Lets a question's word meet what a topic says
    around it in other words; on the shared 2020 KB the strongest partners
    of 口罩 are 日产量, 防护服, 消毒液, 医用, of 复工 停产, 停工, 厂区, 宿舍:
    topical company more than synonyms.

    Counts only, so ``exclude`` is exact: the excluded rows' topics are
    counted again without them (as ``faq._Topicality``)."""

    def __init__(self, rt: RowText, topic_rows: dict[int, list[int]]) -> None:
        self.asked = [_content(w) for w in rt.q_words]
        self.said = [q | _content(a) for q, a in zip(self.asked, rt.a_words, strict=True)]
        self.topic_rows = topic_rows
        pairs: dict[str, dict[str, int]] = {}
        asked: dict[str, int] = {}
        said: dict[str, int] = {}
        n = 0
        for rs in topic_rows.values():
            if len(rs) < 2:
                continue
            n += 1
            co, src, tgt = self._count(rs)
            for u, vs in co.items():
                row = pairs.setdefault(u, {})
                for v in vs:
                    row[v] = row.get(v, 0) + 1
            for u in src:
                asked[u] = asked.get(u, 0) + 1
            for v in tgt:
                said[v] = said.get(v, 0) + 1
        self.pairs = pairs
        self.asked_in = asked  # topics where u is asked
        self.said_in = said  # topics where v is said
        self.n = n
        self.log_said = {v: math.log(c) for v, c in said.items()}

    def _count(self, rs: Sequence[int]) -> tuple[dict[str, set[str]], set[str], set[str]]:
        """One topic's (u → the v it co-occurs with, words asked, words said)."""
        co: dict[str, set[str]] = {}
        src: set[str] = set()
        tgt: set[str] = set()
        if len(rs) < 2:
            return co, src, tgt
        for i in rs:
            src |= self.asked[i]
            tgt |= self.said[i]
        for i in rs:
            others: set[str] = set()
            for j in rs:
                if j != i:
                    others |= self.said[j]
            for u in self.asked[i]:
                co.setdefault(u, set()).update(others)
        return co, src, tgt

    def of(
        self,
        words: set[str],
        topic_of: Sequence[int],
        excluded: set[int],
        within: set[str] | None = None,
    ) -> _AssocQuery:
        """A question's words' associations, without the ``excluded`` rows;
        only those with the words ``within`` if given (the candidates' words)."""
        d_pair: dict[str, dict[str, int]] = {}
        d_asked: dict[str, int] = {}
        d_said: dict[str, int] = {}
        n = self.n
        for k in {topic_of[i] for i in excluded}:
            rs = self.topic_rows[k]
            left = [i for i in rs if i not in excluded]
            n += (len(left) >= 2) - (len(rs) >= 2)
            for (co, src, tgt), sign in ((self._count(rs), -1), (self._count(left), 1)):
                for u in words:
                    for v in co.get(u, ()):
                        row = d_pair.setdefault(u, {})
                        row[v] = row.get(v, 0) + sign
                    if u in src:
                        d_asked[u] = d_asked.get(u, 0) + sign
                for v in tgt:
                    d_said[v] = d_said.get(v, 0) + sign
        per_word = []
        idf: dict[str, float] = {}
        log_n = math.log(n) if n > 0 else 0.0
        log_said = self.log_said
        said_log = {
            v: math.log(self.said_in[v] + d) for v, d in d_said.items() if self.said_in[v] + d > 0
        }
        for u in words:
            asked = self.asked_in.get(u, 0) + d_asked.get(u, 0)
            idf[u] = math.log(1 + n / (1 + asked))
            pairs = self.pairs.get(u)
            if not pairs or asked < 1 or n < 1:
                continue
            delta = d_pair.get(u, {})
            base = log_n - math.log(asked)
            p_of: dict[str, float] = {}
            pmi_of: dict[str, float] = {}
            strong: list[str] = []
            if within is None:
                hits: Iterable[str] = pairs
            elif len(within) < len(pairs):
                hits = [v for v in within if v in pairs]
            else:
                hits = [v for v in pairs if v in within]
            for v in hits:
                c = pairs[v]
                if delta:
                    c += delta.get(v, 0)
                    if c <= 0:
                        continue
                p_of[v] = c / asked
                pmi = base + (_LOG[c] if c < _NLOG else math.log(c))
                pmi -= said_log[v] if v in said_log else log_said[v]
                if pmi <= 0.0:
                    pmi_of[v] = 0.0
                    continue
                if c < ASSOC_FULL:
                    pmi *= c / ASSOC_FULL
                if c >= ASSOC_STRONG_MIN and pmi > ASSOC_STRONG_PMI:
                    strong.append(v)
                pmi_of[v] = pmi
            if p_of:
                per_word.append((u, frozenset(p_of), p_of, pmi_of, frozenset(strong), idf[u]))
        return _AssocQuery(per_word, sum(idf.values()) or 1.0)


class _AssocQuery:
    """A question's words with their associations (``Associations.of``)."""

    __slots__ = ("per_word", "total")

    def __init__(
        self,
        per_word: list[
            tuple[str, frozenset[str], dict[str, float], dict[str, float], frozenset[str], float]
        ],
        total: float,
    ) -> None:
        self.per_word = per_word
        self.total = total

    def features(self, said: set[str], n_words: int) -> list[float]:
        """How well the topic's words (``said``) answer the question's words it
        lacks: per word lacked, the best p(v | u), the best shrunk PMI and
        whether a strong association is there (idf-weighted shares of the
        question's words), and the PMI sum in two other scales."""
        p_sum = pmi_sum = strong_sum = strong_n = 0.0
        for u, known, p_of, pmi_of, strong, w in self.per_word:
            if u in said:
                continue
            hits = known & said
            if not hits:
                continue
            p_sum += w * max(map(p_of.__getitem__, hits))
            pmi_sum += w * max(map(pmi_of.__getitem__, hits))
            n_strong = len(strong & said) if strong else 0
            if n_strong:
                strong_sum += w
                strong_n += w * min(n_strong, 5) / 5
        total = self.total
        return [
            p_sum / total,
            pmi_sum / total,
            strong_sum / total,
            strong_n / total,
            pmi_sum / max(1, n_words),
            math.log1p(pmi_sum),
        ]


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
    said_of: list[set[str]] = []
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
        said_of.append(qw | aw)
        out.append((k, f))
    aq = m.associations.of(words, m.topic_of, excluded, set().union(*said_of))
    for (_, f), said in zip(out, said_of, strict=True):
        f.extend(aq.features(said, len(words)))
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
