"""The in-memory search index: one immutable ``Snapshot`` per build.

Documents come from providers (``register_provider``): implementation entries
(kind ``item``) from the catalogue, guides, and the FAQ knowledge base. A
process holds one snapshot and swaps it whole when the index version in the
database moves (``engine.py``); queries never wait for a build.

Why it stays fast at 100,000 implementation entries: entries of one base item
in 3,000 counties share their text, so text is scored once per distinct text
(a *group*: kind, title, body, and the department's name without its place),
and only the best groups are expanded into entries, by the searcher's region.
Everything a query needs is precomputed: BM25 weights per posting, postings
per word and per character bigram, sorted pinyin keys, homophone keys, each
group's entries by region code. A query costs O(its postings) plus the
expansion of at most ``MAX_GROUPS`` groups.

Ranking, per entry: text score (BM25 over jieba search-mode words, titles ×3,
plus 0.4 × BM25 over character bigrams; pinyin queries match title keys by
prefix) × popularity (1 + 0.15·ln(1 + clicks of the group)) × region (1 for
the searcher's region and its ancestors — and national entries —, 0.5 for the
same province, 0.3 elsewhere). Staff corrections for the exact query come
first.
"""

from __future__ import annotations

import bisect
import heapq
import html
import math
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tongban.core import scope
from tongban.search import analysis
from tongban.search.faq import FaqMatch, FaqMatcher, FaqRow, Gazetteer

KINDS = {"item": "办事事项", "guide": "办事指南", "faq": "常见问题"}
NATIONAL = "000000000000"

K1 = 1.2
B = 0.75
TITLE_W = 3.0
BIGRAM_W = 0.4
BIGRAM_MAX_QUERY = 16  # bigrams in a query up to which the bigram view always runs
SYNONYM_W = 1.0
MAX_GROUPS = 200
POP_W = 0.15
SAME_PROVINCE = 0.5
ELSEWHERE = 0.3
FAQ_BODY_CHARS = 120
QUERY_CACHE = 2048  # queries whose text analysis a snapshot keeps
REPRESENTATIVES = 3  # entries shown per group when the region decides nothing


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """What a provider hands the index. ``key`` is stable within ``kind``
    (an implementation's 实施编码, a guide's id, an FAQ entry's id)."""

    kind: str  # "item" | "guide" | "faq"
    key: str
    title: str
    body: str = ""
    region_code: str = ""  # 12 digits; "" or 000000000000 = national
    department: str = ""  # the implementing department's name
    url: str = ""
    popularity: float = 0.0  # a prior (e.g. yearly case volume); clicks are added
    topic: str = ""  # FAQ: the topic (docid) the question belongs to
    item_code: str = ""  # 基本编码 of the base item, when there is one


Provider = Callable[[Any], Awaitable[Iterable[SearchDocument]] | Any]


@dataclass(slots=True)
class Group:
    kind: str
    title: str
    body: str
    title_key: str  # compact title
    docs: list[int] = field(default_factory=list)
    by_region: dict[str, list[int]] = field(default_factory=dict)
    reps: list[int] = field(default_factory=list)
    provinces: frozenset[str] = frozenset()  # first two digits of its entries' regions
    popularity: float = 0.0


@dataclass(slots=True)
class Hit:
    doc: SearchDocument
    score: float
    title_html: str
    snippet_html: str


@dataclass(slots=True)
class Results:
    hits: list[Hit]
    total: int
    terms: list[str]
    suggestion: str | None
    corrected: bool
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class Synonyms:
    """Approved synonyms: term (compact) → canonical texts."""

    pairs: tuple[tuple[str, str], ...] = ()


def _keep(heap: list[float], score: float, n: int) -> None:
    """Keep the ``n`` best scores in a min-heap."""
    if len(heap) < n:
        heapq.heappush(heap, score)
    elif score > heap[0]:
        heapq.heapreplace(heap, score)


def _region_chain(code: str | None) -> frozenset[str]:
    if not code:
        return frozenset()
    try:
        c = scope.normalise(code)
    except ValueError:
        return frozenset()
    return frozenset({c, NATIONAL, *scope.ancestors(c)})


def _entry_sort_key(doc: SearchDocument) -> tuple[int, float, str]:
    code = doc.region_code or NATIONAL
    level = 0 if code == NATIONAL else scope.level_of(code)
    return (level, -doc.popularity, doc.key)


class _Bm25:
    """Postings with precomputed BM25 weights over groups."""

    __slots__ = ("idf", "post")

    def __init__(self, group_tf: list[dict[str, float]]) -> None:
        n = len(group_tf)
        lengths = [sum(tf.values()) for tf in group_tf]
        avg = (sum(lengths) / n) if n else 1.0
        post: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for g, tf in enumerate(group_tf):
            norm = K1 * (1 - B + B * lengths[g] / (avg or 1.0))
            for t, f in tf.items():
                post[t].append((g, f * (K1 + 1) / (f + norm)))
        self.post = dict(post)
        self.idf = {
            t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.post.items()
        }

    def add_scores(
        self, acc: dict[int, float], terms: Iterable[tuple[str, float]], allowed: Any
    ) -> None:
        for t, qw in terms:
            p = self.post.get(t)
            if p is None:
                continue
            w = self.idf[t] * qw
            if allowed is None:
                for g, tfn in p:
                    acc[g] = acc.get(g, 0.0) + w * tfn
            else:
                for g, tfn in p:
                    if g in allowed:
                        acc[g] = acc.get(g, 0.0) + w * tfn


_ADMIN_SUFFIX = frozenset("省市区县州盟旗")


def _dept_words(department: str, gaz: Gazetteer, cache: dict[str, str], longest: int) -> str:
    """The department's name without place names: 广安区市场监督管理局 → 市场监督管理局.

    The leading place names are cut off by the gazetteer (longest name
    first), and only the rest is segmented, once per distinct rest: 100,000
    entries have ~50,000 department names (every county's own bureaus) but a
    few hundred rests, and segmenting each whole name was half of a build."""
    if not department:
        return ""
    text = analysis.normalise(department)
    stripped = True
    while stripped and len(text) > 2:
        stripped = False
        for n in range(min(longest, len(text) - 1), 1, -1):
            # a full name only (历下区, 济南市): a short form could be a word
            # (公安 is 公安县: 济南市公安局 must keep 公安局)
            if text[n - 1] in _ADMIN_SUFFIX and text[:n] in gaz.names:
                text, stripped = text[n:], True
                break
    found = cache.get(text)
    if found is None:
        rest, _ = gaz.split(analysis.SEGMENTER.cut(text))
        found = cache[text] = "".join(rest)
    return found


class Snapshot:
    """One immutable build of the index."""

    def __init__(
        self,
        documents: Iterable[SearchDocument],
        *,
        synonyms: Sequence[tuple[str, str]] = (),
        corrections: dict[str, list[tuple[str, str]]] | None = None,
        clicks: dict[tuple[str, str], float] | None = None,
        regions: Iterable[tuple[str, str, int, str | None]] = (),
        version: int = 0,
    ) -> None:
        self.version = version
        self.gaz = Gazetteer(regions)
        self.docs: list[SearchDocument] = []
        self.doc_index: dict[tuple[str, str], int] = {}
        for d in documents:
            k = (d.kind, d.key)
            if k in self.doc_index:  # a provider listed one twice: keep the last
                self.docs[self.doc_index[k]] = d
                continue
            self.doc_index[k] = len(self.docs)
            self.docs.append(d)
        self.clicks: dict[tuple[str, str], float] = dict(clicks or {})
        self.synonyms = tuple((analysis.compact(t), c) for t, c in synonyms if analysis.compact(t))
        self.corrections = {analysis.compact(q): v for q, v in (corrections or {}).items()}

        # Domain dictionary: title chunks and synonym terms, before any cut.
        words: set[str] = set()
        for d in self.docs:
            if d.kind != "faq":
                words.update(analysis.title_chunks(d.title))
        for t, c in self.synonyms:
            words.add(t)
            words.update(analysis.title_chunks(c))
        words.update(n for n in self.gaz.names if len(n) >= 2)
        analysis.SEGMENTER.add_words(sorted(words))

        # Groups: one per distinct text.
        self.groups: list[Group] = []
        group_of_text: dict[tuple[str, str, str, str], int] = {}
        dept_cache: dict[str, str] = {}
        rest_cache: dict[str, str] = {}
        longest_place = max(map(len, self.gaz.names), default=0)
        self.doc_group: list[int] = []
        for i, d in enumerate(self.docs):
            dept = dept_cache.get(d.department)
            if dept is None:
                dept = dept_cache[d.department] = _dept_words(
                    d.department, self.gaz, rest_cache, longest_place
                )
            # FAQ answers can be long: the FAQ matcher reads them whole; the
            # general index keeps their opening (what a snippet shows).
            body = d.body[:FAQ_BODY_CHARS] if d.kind == "faq" else d.body
            text_key = (d.kind, d.title, body, dept)
            g = group_of_text.get(text_key)
            if g is None:
                g = group_of_text[text_key] = len(self.groups)
                self.groups.append(
                    Group(
                        d.kind,
                        d.title,
                        body + (" " + dept if dept else ""),
                        analysis.compact(d.title),
                    )
                )
            grp = self.groups[g]
            grp.docs.append(i)
            grp.by_region.setdefault(d.region_code or NATIONAL, []).append(i)
            grp.popularity += d.popularity + self.clicks.get((d.kind, d.key), 0.0)
            self.doc_group.append(g)
        for grp in self.groups:
            grp.reps = sorted(grp.docs, key=lambda i: _entry_sort_key(self.docs[i]))[
                :REPRESENTATIVES
            ]
            grp.provinces = frozenset(c[:2] for c in grp.by_region)
        self.group_size = [len(grp.docs) for grp in self.groups]
        region_groups: dict[str, set[int]] = defaultdict(set)
        for g, grp in enumerate(self.groups):
            for code in grp.by_region:
                region_groups[code].add(g)
        self.region_groups = {c: frozenset(gs) for c, gs in region_groups.items()}
        self.boost = [1.0 + POP_W * math.log1p(grp.popularity) for grp in self.groups]
        self.kind_groups: dict[str, frozenset[int]] = {}
        by_kind: dict[str, set[int]] = defaultdict(set)
        for g, grp in enumerate(self.groups):
            by_kind[grp.kind].add(g)
        self.kind_groups = {k: frozenset(v) for k, v in by_kind.items()}

        # Text statistics per group.
        word_tf: list[dict[str, float]] = []
        bigram_tf: list[dict[str, float]] = []
        for grp in self.groups:
            wt: dict[str, float] = defaultdict(float)
            for t in analysis.tokens(grp.title):
                wt[t] += TITLE_W
            for t in analysis.tokens(grp.body):
                wt[t] += 1.0
            word_tf.append(dict(wt))
            bt: dict[str, float] = defaultdict(float)
            for t in analysis.bigrams(grp.title):
                bt[t] += TITLE_W
            for t in analysis.bigrams(grp.body):
                bt[t] += 1.0
            bigram_tf.append(dict(bt))
        self.words = _Bm25(word_tf)
        self.bigram_index = _Bm25(bigram_tf)
        # Homophones of known bigrams (typo correction).
        self.homophones: dict[str, list[str]] = defaultdict(list)
        for bg in self.bigram_index.post:
            self.homophones[analysis.bigram_pinyin(bg)].append(bg)
        self.title_vocab = sorted(
            {
                t
                for g, tf in enumerate(word_tf)
                if self.groups[g].kind != "faq"
                for t in tf
                if len(t) >= 2
            }
        )

        # Pinyin keys and titles for prefix search (autocomplete, pinyin queries).
        full: list[tuple[str, int]] = []
        initials: list[tuple[str, int]] = []
        titles: dict[str, int] = {}
        pinyin_cache: dict[str, tuple[set[str], set[str]]] = {}
        for g, grp in enumerate(self.groups):
            if grp.kind == "faq":  # questions are not typed as pinyin
                continue
            keys = pinyin_cache.get(grp.title)
            if keys is None:
                keys = pinyin_cache[grp.title] = analysis.pinyin_keys(grp.title)
            full.extend((k, g) for k in keys[0])
            initials.extend((k, g) for k in keys[1])
            if (
                grp.title_key not in titles
                or self.groups[titles[grp.title_key]].popularity < grp.popularity
            ):
                titles[grp.title_key] = g
        full.sort()
        initials.sort()
        self.py_full = [k for k, _ in full]
        self.py_full_g = [g for _, g in full]
        self.py_init = [k for k, _ in initials]
        self.py_init_g = [g for _, g in initials]
        self.title_keys = sorted(titles)
        self.title_group = [titles[t] for t in self.title_keys]
        self._title_choices: list[str] | None = None
        self._cache: OrderedDict[tuple[str, str | None], Any] = OrderedDict()
        self._faq_cache: OrderedDict[tuple[str, int], list[FaqMatch]] = OrderedDict()
        self._top_cache: dict[tuple[str, str | None], tuple[int, list[tuple[float, int]]]] = {}
        self._boost_epoch = 0
        self.doc_province = [(d.region_code or NATIONAL)[:2] for d in self.docs]

        # FAQ knowledge base.
        faq_rows = [
            FaqRow(d.key, d.topic, d.title, d.body, d.item_code)
            for d in self.docs
            if d.kind == "faq"
        ]
        self.faq = FaqMatcher(faq_rows, self.gaz)

    # --- stats -------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for d in self.docs:
            counts[d.kind] += 1
        return {
            "documents": len(self.docs),
            "groups": len(self.groups),
            "terms": len(self.words.post),
            "bigrams": len(self.bigram_index.post),
            "faq": len(self.faq),
            **{f"kind_{k}": v for k, v in counts.items()},
        }

    # --- query analysis ----------------------------------------------------------------------

    def analyse(
        self, q: str
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[str], str | None]:
        """Query → (weighted words, weighted bigrams, highlight terms, corrected query)."""
        norm = analysis.normalise(q)
        comp = norm.replace(" ", "")
        words: dict[str, float] = {}
        for t in analysis.SEGMENTER.cut_for_search(norm):
            words[t] = max(words.get(t, 0.0), 1.0)
        grams: dict[str, float] = {}
        for bg in analysis.bigrams(norm):
            grams[bg] = 1.0
        highlight = set(words)
        # Synonyms and colloquial mappings: a term inside the query adds its canonical words.
        for term, canonical in self.synonyms:
            if term in comp:
                for t in analysis.tokens(canonical):
                    words[t] = max(words.get(t, 0.0), SYNONYM_W)
                    highlight.add(t)
                for bg in analysis.bigrams(canonical):
                    grams[bg] = max(grams.get(bg, 0.0), SYNONYM_W)
        # Homophone typos: inside a word that is neither indexed nor in the
        # dictionary (津帖, or a run of single characters), a bigram the index
        # lacks is read as the indexed bigram of the same pinyin (津贴).
        corrected = comp
        changed = False
        suspects: list[str] = []
        run = ""
        for w in analysis.SEGMENTER.cut(norm):
            if len(w) == 1:
                run += w
                continue
            if len(run) >= 2:
                suspects.append(run)
            run = ""
            if w not in self.words.post and not analysis.SEGMENTER.known(w):
                suspects.append(w)
        if len(run) >= 2:
            suspects.append(run)
        for bg in {w[i : i + 2] for w in suspects for i in range(len(w) - 1)}:
            if bg in self.bigram_index.post:
                continue
            alts = self.homophones.get(analysis.bigram_pinyin(bg))
            if not alts:
                continue
            best = max(alts, key=lambda a: len(self.bigram_index.post[a]))
            grams[best] = max(grams.get(best, 0.0), 0.9)
            highlight.add(best)
            if bg in corrected:
                corrected = corrected.replace(bg, best)
                changed = True
        if changed:
            for t in analysis.tokens(corrected):
                if t not in words:
                    words[t] = 0.9
                    highlight.add(t)
        # Unknown longer words: the closest indexed word (edit distance).
        unknown = [t for t in words if len(t) >= 3 and t not in self.words.post]
        if unknown and self.title_vocab:
            from rapidfuzz import fuzz, process

            for t in unknown:
                found = process.extractOne(t, self.title_vocab, scorer=fuzz.ratio, score_cutoff=70)
                if found:
                    words[found[0]] = max(words.get(found[0], 0.0), 0.8)
                    highlight.add(found[0])
        return (
            list(words.items()),
            list(grams.items()),
            sorted(highlight, key=len, reverse=True),
            corrected if changed else None,
        )

    # --- search ----------------------------------------------------------------------------

    def _text_scores(self, q: str, allowed: Any) -> tuple[dict[int, float], list[str], str | None]:
        if analysis.is_pinyin_query(q):
            return self._pinyin_scores(analysis.compact(q), allowed), [], None
        words, grams, highlight, corrected = self.analyse(q)
        acc: dict[int, float] = {}
        self.words.add_scores(acc, words, allowed)
        # Character bigrams: the fallback for short queries (where a typo or an
        # unusual split matters most) and for queries the words missed.
        if len(grams) <= BIGRAM_MAX_QUERY or len(acc) < 5:
            bacc: dict[int, float] = {}
            self.bigram_index.add_scores(bacc, grams, allowed)
            for g, s in bacc.items():
                acc[g] = acc.get(g, 0.0) + BIGRAM_W * s
        return acc, highlight, corrected

    def _prefix_groups(
        self, keys: list[str], groups: list[int], q: str, limit: int = 5000
    ) -> dict[int, int]:
        """group → length of the key it matched (shorter rest = better)."""
        out: dict[int, int] = {}
        i = bisect.bisect_left(keys, q)
        n = 0
        while i < len(keys) and keys[i].startswith(q) and n < limit:
            g = groups[i]
            if g not in out or len(keys[i]) < out[g]:
                out[g] = len(keys[i])
            i += 1
            n += 1
        return out

    def _pinyin_scores(self, q: str, allowed: Any) -> dict[int, float]:
        acc: dict[int, float] = {}
        if len(q) < 2:  # one letter names half the catalogue
            return acc
        for keys, groups, weight in (
            (self.py_full, self.py_full_g, 2.0),
            (self.py_init, self.py_init_g, 1.0 if len(q) >= 2 else 0.5),
        ):
            for g, klen in self._prefix_groups(keys, groups, q).items():
                if allowed is not None and g not in allowed:
                    continue
                s = weight * (1.0 + len(q) / max(klen, 1))
                if s > acc.get(g, 0.0):
                    acc[g] = s
        return acc

    def _analysed(
        self, q: str, kind: str | None
    ) -> tuple[list[tuple[int, float]], int, int, tuple[str, ...], str | None, str | None]:
        """What a query's text decides, whatever the region and page: the best
        groups by text score, match counts, highlight terms, the homophone
        correction and the "did you mean" title. Cached per snapshot (LRU):
        popular queries repeat, and the snapshot never changes."""
        key = (q, kind)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        allowed = self.kind_groups.get(kind, frozenset()) if kind else None
        scores, highlight, corrected = self._text_scores(q, allowed)
        top = heapq.nlargest(MAX_GROUPS, scores.items(), key=lambda kv: kv[1])
        total = sum(self.group_size[g] for g in scores)
        shown = sum(min(self.group_size[g], REPRESENTATIVES) for g in scores)
        far = None
        if not corrected and len(scores) < 3 and not analysis.is_pinyin_query(q):
            far = self.did_you_mean(q)
        entry = (top, total, shown, tuple(highlight), corrected, far)
        self._cache[key] = entry
        if len(self._cache) > QUERY_CACHE:
            self._cache.popitem(last=False)
        return entry

    def search(
        self,
        q: str,
        *,
        kind: str | None = None,
        region: str | None = None,
        page: int = 1,
        size: int = 10,
    ) -> Results:
        top_raw, total, shown, highlight, corrected, far = self._analysed(q, kind)
        chain = _region_chain(region)
        province = next(iter(sorted(c for c in chain if c != NATIONAL)), "")[:2] if chain else ""
        # the groups by boosted score: cached with the text analysis's key
        # until a click changes a boost (``add_click``)
        cached = self._top_cache.get((q, kind))
        if cached is not None and cached[0] == self._boost_epoch:
            top = cached[1]
        else:
            boost = self.boost
            top = sorted(((s * boost[g], g) for g, s in top_raw), reverse=True)
            if len(self._top_cache) >= QUERY_CACHE:
                self._top_cache.clear()
            self._top_cache[(q, kind)] = (self._boost_epoch, top)
        # Expand groups into entries, best group first, until the page is
        # settled: no entry of a later group can beat the page's last entry
        # (an entry scores at most its group's score).
        need = page * size
        ranked: list[tuple[float, int]] = []
        best: list[float] = []  # min-heap of the ``need`` best entry scores
        docs = self.docs
        doc_province = self.doc_province
        chain_sets: list[frozenset[int]] | None = None  # groups with an entry in each chain region
        for s, g in top:
            full = len(best) >= need
            if full and best[0] >= s:
                break
            if chain and full and best[0] >= s * SAME_PROVINCE:
                # From here on only a group with an entry in the searcher's own
                # region or above can make the page; the others are skipped
                # by one set lookup (at 100,000 entries most groups are).
                if chain_sets is None:
                    region_groups = self.region_groups
                    chain_sets = [region_groups[c] for c in chain if c in region_groups]
                for groups_there in chain_sets:
                    if g in groups_there:
                        break
                else:
                    continue
            grp = self.groups[g]
            if chain:
                seen: set[int] = set()
                by_region = grp.by_region
                locals_ = [by_region[c] for c in chain if c in by_region]
                if (
                    not locals_
                    and full
                    and best[0] >= s * (SAME_PROVINCE if province in grp.provinces else ELSEWHERE)
                ):
                    continue  # only entries elsewhere, and none of them can make the page
                for local in locals_:
                    for i in local:
                        ranked.append((s, i))
                        seen.add(i)
                        _keep(best, s, need)
                for i in grp.reps:
                    if i in seen:
                        continue
                    f = SAME_PROVINCE if doc_province[i] == province else ELSEWHERE
                    ranked.append((s * f, i))
                    _keep(best, s * f, need)
            else:
                for i in grp.reps:
                    ranked.append((s, i))
                    _keep(best, s, need)
        # Staff corrections for this exact query first.
        pinned = self.corrections.get(analysis.compact(q), [])
        if pinned:
            first = max((sc for sc, _ in ranked), default=1.0) * 2 + 1
            pins = [
                (first - n * 1e-6, self.doc_index[k])
                for n, k in enumerate(pinned)
                if k in self.doc_index
            ]
            pins = [(sc, i) for sc, i in pins if kind is None or docs[i].kind == kind]
            pinned_ids = {i for _, i in pins}
            ranked = pins + [(sc, i) for sc, i in ranked if i not in pinned_ids]
            total += len(pins)
            shown += len(pins)
        ranked.sort(key=lambda si: (-si[0], si[1]))
        cut = ranked[: need + size]
        clicks = self.clicks
        if clicks:  # equal scores: the more chosen entry first
            cut.sort(
                key=lambda si: (
                    -si[0],
                    -clicks.get((docs[si[1]].kind, docs[si[1]].key), 0.0),
                    si[1],
                )
            )
        ranked = cut
        pages = min(50, max(1, math.ceil(max(shown, len(ranked)) / size))) if ranked else 0
        start = (page - 1) * size
        hits = [
            Hit(
                self.docs[i],
                round(s, 4),
                highlight_html(self.docs[i].title, highlight),
                snippet_html(self.docs[i], highlight),
            )
            for s, i in ranked[start : start + size]
        ]
        suggestion = None
        if corrected:
            suggestion = corrected
        elif far is not None:
            suggestion = far
        elif analysis.is_pinyin_query(q) and ranked:
            suggestion = self.docs[ranked[0][1]].title
        return Results(
            hits, max(total, len(ranked)), highlight, suggestion, bool(corrected), page, pages
        )

    def did_you_mean(self, q: str) -> str | None:
        """The indexed title closest to the query, when one is close."""
        comp = analysis.compact(q)
        if not comp or not self.title_keys:
            return None
        from rapidfuzz import fuzz, process

        if self._title_choices is None:
            self._title_choices = [self.groups[g].title for g in self.title_group]
        found = process.extractOne(
            comp, self.title_keys, scorer=fuzz.partial_ratio, score_cutoff=60, processor=None
        )
        if not found or found[0] == comp:
            return None
        return self._title_choices[found[2]]

    def suggest(self, q: str, *, limit: int = 8, kind: str | None = None) -> list[tuple[str, str]]:
        """Autocomplete: titles starting with the query (or its pinyin), then
        titles containing it; the most chosen first. Returns (title, kind)."""
        comp = analysis.compact(q)
        if not comp:
            return []
        found: dict[int, float] = {}
        if analysis.is_pinyin_query(q):
            for keys, groups in ((self.py_full, self.py_full_g), (self.py_init, self.py_init_g)):
                for g, klen in self._prefix_groups(keys, groups, comp, limit=2000).items():
                    found[g] = max(found.get(g, 0.0), 2.0 + len(comp) / klen)
        else:
            i = bisect.bisect_left(self.title_keys, comp)
            while (
                i < len(self.title_keys)
                and self.title_keys[i].startswith(comp)
                and len(found) < 200
            ):
                found[self.title_group[i]] = 3.0
                i += 1
            if len(found) < limit:
                for t, g in zip(self.title_keys, self.title_group, strict=True):
                    if comp in t and g not in found:
                        found[g] = 1.0 + len(comp) / len(t)
                        if len(found) >= 200:
                            break
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        ranked = sorted(
            found.items(),
            key=lambda kv: (-kv[1], -self.groups[kv[0]].popularity, len(self.groups[kv[0]].title)),
        )
        for g, _ in ranked:
            grp = self.groups[g]
            if kind and grp.kind != kind:
                continue
            if grp.title in seen:
                continue
            seen.add(grp.title)
            out.append((grp.title, grp.kind))
            if len(out) >= limit:
                break
        return out

    def faq_answers(self, q: str, *, limit: int = 5, exclude: Iterable[str] = ()) -> list[FaqMatch]:
        """The FAQ matches of a question, cached per snapshot (LRU) like the
        text analysis: matching costs ~10 ms against a few thousand stored
        questions, and what people ask repeats."""
        exclude = tuple(exclude)
        if exclude:
            return self.faq.match(q, limit=limit, exclude=exclude)
        key = (q, limit)
        hit = self._faq_cache.get(key)
        if hit is not None:
            self._faq_cache.move_to_end(key)
            return hit
        found = self.faq.match(q, limit=limit)
        self._faq_cache[key] = found
        if len(self._faq_cache) > QUERY_CACHE:
            self._faq_cache.popitem(last=False)
        return found

    def add_click(self, kind: str, key: str) -> None:
        """Count a click in this process at once (other processes at their next build)."""
        self.clicks[(kind, key)] = self.clicks.get((kind, key), 0.0) + 1.0
        i = self.doc_index.get((kind, key))
        if i is not None:
            g = self.doc_group[i]
            self.groups[g].popularity += 1.0
            self.boost[g] = 1.0 + POP_W * math.log1p(self.groups[g].popularity)
            self._boost_epoch += 1

    def title_of(self, kind: str, key: str) -> str | None:
        i = self.doc_index.get((kind, key))
        return self.docs[i].title if i is not None else None

    def url_of(self, kind: str, key: str) -> str | None:
        i = self.doc_index.get((kind, key))
        return self.docs[i].url if i is not None else None


# --- highlighting --------------------------------------------------------------------------


def _spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    low = text.lower()
    spans: list[tuple[int, int]] = []
    for t in terms:
        if not t:
            continue
        start = 0
        while True:
            i = low.find(t, start)
            if i < 0:
                break
            spans.append((i, i + len(t)))
            start = i + len(t)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


@lru_cache(maxsize=65536)
def highlight_html(text: str, terms: tuple[str, ...]) -> str:
    """HTML-escaped text with the matched terms in ``<em>``."""
    out: list[str] = []
    pos = 0
    for s, e in _spans(text, terms):
        out.append(html.escape(text[pos:s]))
        out.append("<em>" + html.escape(text[s:e]) + "</em>")
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)


def snippet_html(doc: SearchDocument, terms: tuple[str, ...], width: int = 80) -> str:
    return _snippet(doc.body or doc.department, terms, width)


@lru_cache(maxsize=65536)
def _snippet(body: str, terms: tuple[str, ...], width: int) -> str:
    if not body:
        return ""
    spans = _spans(body, terms)
    start = max(0, spans[0][0] - 20) if spans else 0
    piece = body[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(body) else ""
    return prefix + highlight_html(piece, terms) + suffix
