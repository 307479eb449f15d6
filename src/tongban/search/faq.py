"""FAQ matching (常见问题匹配): answer a question with the stored questions of
the most similar topic. Pure: no database.

Questions that share a topic (the knowledge base's ``docid``) ask about
different points of one policy passage, so a new question rarely repeats an
old one: it shares the passage's subject — the place, the body, the policy's
name — and a few of its words. The matcher therefore ranks *topics*, from
four BM25 views fused after scaling each to its best score:

===============================  ======  ===========================================
view                             weight  why
===============================  ======  ===========================================
topic words (questions + ⅓ of    1.0     everything the topic says, answers included
answers), places ×3
topic character bigrams          2.0     words jieba splits differently, abbreviations
best single question (words)     0.3     a near-paraphrase of one stored question
best single question (bigrams)   0.3     same, at character level
===============================  ======  ===========================================

The bigram views weight each of the question's bigrams by its *topicality*,
learned from the knowledge base: how often a bigram of a stored question
also occurs in another row (question or answer) of the same topic, against
the rate over all bigrams (smoothed towards it). Bigrams of the subject —
the place, the body, the policy's name — recur across a topic's questions;
those of the point asked (申报期限, 多少钱) recur across topics. The weight
is ``1 + TOPICALITY_BETA · (rate / global rate − 1)``, at least 0.05.

Places are recognised with the region tree (泰州市, 泰州 and 海陵区 all name
江苏 › 泰州; the feature is the division code and its ancestors), weighted ×3,
and a topic about another place is scaled by 0.5 (0.6 when it names none).
Measured on the shared 2020 policy KB by leave-one-out (``bench/eval_faq.py``).

A second stage (``faq_rank.py``) reorders the 50 best topics of this fused
score: a learned function of 28 features per (question, topic) — each view's
scaled and raw score, the first-stage rank, place match/mismatch, the share
of the question's (idf × topicality weighted) bigrams and words found in the
topic's questions and in its answers, the longest common substring with a
question and with an answer, six word-association features (the question's
words the topic lacks, answered by words that go with them in the knowledge
base: ``faq_rank.Associations``) — and their pairwise products. Its weights are
stored (``faq_rank_weights.py``), trained on the shared KB by
``bench/eval_faq.py --train``; the evaluation is cross-fitted by docid folds.
No feature sees a topic's size. The score shown stays the first stage's.

``exclude``: score as if those rows were not in the knowledge base at all
(their words leave the topic's counts, lengths and the document
frequencies, the topicality and association counts and the second stage's
features). The evaluation uses it for leave-one-out; it is the same code
every question goes through.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tongban.search import analysis, faq_rank

QUESTION_W = 1.0
ANSWER_W = 1 / 3
PLACE_W = 3.0
QUOTED_W = 2.0
VIEW_WEIGHTS = (1.0, 2.0, 0.3, 0.3)
TOPICALITY_BETA = 0.7
TOPICALITY_PRIOR = 2.0  # pseudo-observations at the global rate
TOPICALITY_MIN = 0.05
OTHER_PLACE = 0.5
NO_PLACE = 0.6
K1 = 1.0
B = 0.85


@dataclass(frozen=True, slots=True)
class FaqRow:
    key: str
    topic: str
    question: str
    answer: str
    item_code: str = ""


@dataclass(frozen=True, slots=True)
class FaqMatch:
    key: str
    topic: str
    question: str
    answer: str
    item_code: str
    score: float
    confidence: float = 0.0  # share of the question's character bigrams found in the topic


class Gazetteer:
    """Place names → division-code features, from the region tree."""

    def __init__(self, regions: Iterable[tuple[str, str, int, str | None]] = ()) -> None:
        # (code12, name, level, parent_code12)
        parent: dict[str, str | None] = {}
        by_name: dict[str, set[str]] = defaultdict(set)
        levels: dict[str, int] = {}
        for code, name, level, parent_code in regions:
            if level > 3 or name in (
                "市辖区",
                "县",
                "省直辖县级行政区划",
                "自治区直辖县级行政区划",
            ):
                continue
            parent[code] = parent_code
            levels[code] = level
            for form in analysis.place_short_forms(name):
                by_name[form].add(code)
        # An ambiguous short form keeps only its highest-level readings
        # (南昌 is the city, not 南昌县).
        self.names: dict[str, frozenset[str]] = {}
        for form, codes in by_name.items():
            top = min(levels[c] for c in codes)
            self.names[form] = frozenset(c for c in codes if levels[c] == top)
        self._parent = parent
        self._features: dict[str, frozenset[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.names)

    def features_of(self, code: str) -> frozenset[str]:
        f = self._features.get(code)
        if f is None:
            chain: list[str] = []
            c: str | None = code
            while c and "@" + c not in chain and len(chain) < 6:
                chain.append("@" + c)
                c = self._parent.get(c)
            f = self._features[code] = frozenset(chain)
        return f

    def split(self, words: Sequence[str]) -> tuple[list[str], set[str]]:
        """(words that are not place names, place features)."""
        rest: list[str] = []
        places: set[str] = set()
        for w in words:
            codes = self.names.get(w) if len(w) >= 2 else None
            if codes:
                for c in codes:
                    places |= self.features_of(c)
            else:
                rest.append(w)
        return rest, places


def _features(text: str, gaz: Gazetteer) -> tuple[list[str], set[str]]:
    words = analysis.SEGMENTER.cut(analysis.normalise(text))
    rest, places = gaz.split(words)
    quoted = ["“" + q for q in analysis.quoted_terms(text)]
    return rest + sorted(places) + quoted, places


class _Units:
    """BM25 over units (rows or topics) built from weighted row term counts,
    able to leave rows out at query time."""

    def __init__(self, row_tf: list[dict[str, float]], unit_of: list[int], n_units: int) -> None:
        self.row_tf = row_tf
        self.unit_of = unit_of
        utf: list[Counter[str]] = [Counter() for _ in range(n_units)]
        for i, tf in enumerate(row_tf):
            utf[unit_of[i]].update(tf)
        self.unit_tf = utf
        self.unit_len = [sum(c.values()) for c in utf]
        self.n = sum(1 for n in self.unit_len if n > 0)
        self.total_len = sum(self.unit_len)
        df: Counter[str] = Counter()
        post: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for k, c in enumerate(utf):
            for t, n in c.items():
                df[t] += 1
                post[t].append((k, n))
        self.df = df
        self.post = dict(post)
        self._norm: list[float] | None = None

    def score(
        self, query: Iterable[str], weight_of: dict[str, float], exclude: Sequence[int] = ()
    ) -> dict[int, float]:
        # What the excluded rows take away from their units: their counts,
        # their lengths, the document frequencies and the average length.
        minus: dict[int, Counter[str]] = {}
        minus_len: dict[int, float] = {}
        for i in exclude:
            k = self.unit_of[i]
            minus.setdefault(k, Counter()).update(self.row_tf[i])
            minus_len[k] = minus_len.get(k, 0.0) + sum(self.row_tf[i].values())
        emptied = sum(1 for k, n in minus_len.items() if self.unit_len[k] - n <= 1e-9)
        n_units = self.n - emptied
        if n_units <= 0:
            return {}
        avg = (self.total_len - sum(minus_len.values())) / n_units
        if not minus and self._norm is not None:
            norm = self._norm
        else:
            norm = [K1 * (1 - B + B * length / avg) for length in self.unit_len]
            if not minus:
                self._norm = norm
            for k, m in minus_len.items():
                norm[k] = K1 * (1 - B + B * (self.unit_len[k] - m) / avg)
        k1p = K1 + 1
        out: dict[int, float] = defaultdict(float)
        for t in set(query):
            postings = self.post.get(t)
            if not postings:
                continue
            df = self.df[t]
            for k, m in minus.items():
                if t in m and self.unit_tf[k][t] - m[t] <= 1e-9:
                    df -= 1
            if df <= 0:
                continue
            w = math.log(1 + (n_units - df + 0.5) / (df + 0.5)) * weight_of.get(t, 1.0)
            if minus:
                for k, n in postings:
                    if k in minus:
                        n -= minus[k].get(t, 0.0)
                        if n <= 1e-9:
                            continue
                    out[k] += w * n * k1p / (n + norm[k])
            else:
                for k, n in postings:
                    out[k] += w * n * k1p / (n + norm[k])
        return out


class _Topicality:
    """Per term: of the stored questions that contain it (in topics of two or
    more rows), how many share it with another row of their topic."""

    def __init__(
        self,
        asked: list[frozenset[str]],
        said: list[frozenset[str]],
        topic_rows: dict[int, list[int]],
    ) -> None:
        self.asked = asked  # a row's question terms
        self.said = said  # a row's question and answer terms
        self.topic_rows = topic_rows
        self.opp: Counter[str] = Counter()
        self.hit: Counter[str] = Counter()
        for rs in topic_rows.values():
            self._count(rs, None, self.opp, self.hit)
        self.n_opp = sum(self.opp.values())
        self.n_hit = sum(self.hit.values())

    def _count(
        self, rs: Sequence[int], only: set[str] | None, opp: Counter[str], hit: Counter[str]
    ) -> None:
        if len(rs) < 2:
            return
        for i in rs:
            terms = self.asked[i] if only is None else self.asked[i] & only
            for t in terms:
                opp[t] += 1
                if any(t in self.said[j] for j in rs if j != i):
                    hit[t] += 1

    def weights(
        self, terms: Iterable[str], topic_of: list[int], excluded: set[int]
    ) -> dict[str, float]:
        wanted = set(terms)
        opp: Counter[str] = Counter({t: self.opp.get(t, 0) for t in wanted})
        hit: Counter[str] = Counter({t: self.hit.get(t, 0) for t in wanted})
        n_opp, n_hit = self.n_opp, self.n_hit
        # Excluded rows: recount their topics without them (the global rate too).
        for k in {topic_of[i] for i in excluded}:
            rs = self.topic_rows[k]
            b_o: Counter[str] = Counter()
            b_h: Counter[str] = Counter()
            self._count(rs, None, b_o, b_h)
            a_o: Counter[str] = Counter()
            a_h: Counter[str] = Counter()
            self._count([i for i in rs if i not in excluded], None, a_o, a_h)
            n_opp += sum(a_o.values()) - sum(b_o.values())
            n_hit += sum(a_h.values()) - sum(b_h.values())
            for t in wanted:
                opp[t] += a_o[t] - b_o[t]
                hit[t] += a_h[t] - b_h[t]
        if n_opp <= 0 or n_hit <= 0:
            return {}
        g = n_hit / n_opp
        out = {}
        for t in wanted:
            p = (hit[t] + TOPICALITY_PRIOR * g) / (opp[t] + TOPICALITY_PRIOR)
            out[t] = max(TOPICALITY_MIN, 1 + TOPICALITY_BETA * (p / g - 1))
        return out


@dataclass(slots=True)
class _Query:
    """A question's analysis and its first-stage topic scores."""

    text: str
    words: list[str]
    places: set[str]
    grams: list[str]
    gram_w: dict[str, float]
    word_w: dict[str, float]
    raw: tuple[dict[int, float], ...]  # per view, before scaling
    views: tuple[dict[int, float], ...]  # per view, scaled to its best
    fused: dict[int, float]  # topic → fused score, place factor applied
    row_words: dict[int, float]  # row → question-words BM25


def _scaled(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    top = max(scores.values())
    if top <= 0:
        return {}
    return {k: v / top for k, v in scores.items()}


def _best_per_topic(scores: dict[int, float], topic_of: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for row, s in scores.items():
        k = topic_of[row]
        if s > out.get(k, 0.0):
            out[k] = s
    return out


class FaqMatcher:
    """The FAQ knowledge base, indexed for topical matching."""

    def __init__(
        self, rows: Sequence[FaqRow], gazetteer: Gazetteer | None = None, *, rerank: bool = True
    ) -> None:
        self.rows = list(rows)
        self.gaz = gazetteer or Gazetteer()
        self.row_index = {r.key: i for i, r in enumerate(self.rows)}
        topics: dict[str, int] = {}
        self.topic_of: list[int] = []
        for r in self.rows:
            self.topic_of.append(topics.setdefault(r.topic or f"~{r.key}", len(topics)))
        self.n_topics = len(topics)
        self.topic_rows: dict[int, list[int]] = defaultdict(list)
        for i, k in enumerate(self.topic_of):
            self.topic_rows[k].append(i)
        q_words, q_bi, a_words, a_bi, places = [], [], [], [], []
        for r in self.rows:
            qw, qp = _features(r.question, self.gaz)
            aw, ap = _features(r.answer, self.gaz)
            q_words.append(qw)
            a_words.append(aw)
            q_bi.append(analysis.bigrams(r.question))
            a_bi.append(analysis.bigrams(r.answer))
            places.append(qp | ap)
        self.row_places = places

        def mix(xs: list[list[str]], ys: list[list[str]] | None) -> list[dict[str, float]]:
            out = []
            for i, x in enumerate(xs):
                c: dict[str, float] = defaultdict(float)
                for t in x:
                    c[t] += QUESTION_W
                if ys is not None:
                    for t in ys[i]:
                        c[t] += ANSWER_W
                out.append(dict(c))
            return out

        rows_of = list(range(len(self.rows)))
        self.topic_words = _Units(mix(q_words, a_words), self.topic_of, self.n_topics)
        self.topic_bigrams = _Units(mix(q_bi, a_bi), self.topic_of, self.n_topics)
        self.row_words = _Units(mix(q_words, None), rows_of, len(self.rows))
        self.row_bigrams = _Units(mix(q_bi, None), rows_of, len(self.rows))
        self.bigram_topicality = _Topicality(
            [frozenset(x) for x in q_bi],
            [frozenset(x) | frozenset(y) for x, y in zip(q_bi, a_bi, strict=True)],
            self.topic_rows,
        )
        self.topic_place_count: list[Counter[str]] = [Counter() for _ in range(self.n_topics)]
        for i, p in enumerate(places):
            self.topic_place_count[self.topic_of[i]].update(p)
        self.topic_places = [frozenset(c) for c in self.topic_place_count]
        self.rank_text = faq_rank.RowText(
            [r.question for r in self.rows],
            [r.answer for r in self.rows],
            q_bi,
            a_bi,
            q_words,
            a_words,
        )
        self.associations = faq_rank.Associations(self.rank_text, self.topic_rows)
        self.reranker: faq_rank.Reranker | None = faq_rank.shipped() if rerank else None

    def __len__(self) -> int:
        return len(self.rows)

    def _topic_places(self, k: int, excluded: set[int]) -> frozenset[str]:
        if not excluded or not any(i in excluded for i in self.topic_rows[k]):
            return self.topic_places[k]
        c = Counter(self.topic_place_count[k])
        for i in self.topic_rows[k]:
            if i in excluded:
                c.subtract(self.row_places[i])
        return frozenset(p for p, n in c.items() if n > 0)

    def topic_scores(self, question: str, excluded: set[int]) -> _Query | None:
        """The first stage: every topic's fused score for ``question``."""
        if not self.rows or not analysis.compact(question):
            return None
        ex = sorted(excluded)
        words, places = _features(question, self.gaz)
        weight = {t: PLACE_W for t in words if t.startswith("@")}
        weight.update({t: QUOTED_W for t in words if t.startswith("“")})
        grams = analysis.bigrams(question)
        gram_w = self.bigram_topicality.weights(grams, self.topic_of, excluded)
        row_words = self.row_words.score(words, weight, ex)
        raw = (
            self.topic_words.score(words, weight, ex),
            self.topic_bigrams.score(grams, gram_w, ex),
            _best_per_topic(row_words, self.topic_of),
            _best_per_topic(self.row_bigrams.score(grams, gram_w, ex), self.topic_of),
        )
        views = tuple(_scaled(v) for v in raw)
        fused: dict[int, float] = defaultdict(float)
        for w, view in zip(VIEW_WEIGHTS, views, strict=True):
            for k, s in view.items():
                fused[k] += w * s
        if places:
            for k in fused:
                tp = self._topic_places(k, excluded)
                if not tp:
                    fused[k] *= NO_PLACE
                elif not tp & places:
                    fused[k] *= OTHER_PLACE
        return _Query(
            question, words, places, grams, gram_w, weight, raw, views, dict(fused), row_words
        )

    def match(
        self, question: str, *, limit: int = 5, exclude: Iterable[str] = ()
    ) -> list[FaqMatch]:
        """The best stored question of each of the ``limit`` best topics."""
        excluded = {self.row_index[k] for k in exclude if k in self.row_index}
        q = self.topic_scores(question, excluded)
        if q is None:
            return []
        ranked = sorted(q.fused.items(), key=lambda kv: -kv[1])
        if self.reranker is not None:
            ranked = self.reranker.rerank(self, q, ranked, excluded)
        best = ranked[:limit]
        # Within a topic, show the stored question closest to the one asked.
        row_scores = q.row_words
        distinct = set(q.grams)
        out = []
        for k, s in best:
            candidates = [i for i in self.topic_rows[k] if i not in excluded]
            if not candidates:
                continue
            i = max(candidates, key=lambda r: row_scores.get(r, 0.0))
            r = self.rows[i]
            present: set[str] = set()
            for j in candidates:
                present.update(t for t in self.topic_bigrams.row_tf[j] if t in distinct)
            confidence = len(present) / len(distinct) if distinct else 0.0
            out.append(
                FaqMatch(
                    r.key,
                    r.topic,
                    r.question,
                    r.answer,
                    r.item_code,
                    round(s, 4),
                    round(confidence, 3),
                )
            )
        return out
