"""Text analysis for search (文本分析): pure functions, no database.

- ``normalise``: full-width → half-width (NFKC), lower case, traditional →
  simplified (OpenCC ``t2s``), punctuation → one space. Indexed text and
  queries go through the same function, so "營業執照", "ＡＢＣ" and "abc" meet
  their simplified, half-width forms.
- ``Segmenter``: jieba with a domain dictionary (chunks of indexed titles,
  synonym terms, place names). jieba's dictionary takes ~1 s to load: one
  tokenizer per process, loaded on first use, then only added to.
- pinyin (pypinyin): full syllables and initials of titles, so "shengyu",
  "sy" and "shengyujin" find 生育 items; homophone keys for characters, so a
  typed 津帖 is read as 津贴 (the commonest Chinese typo is a homophone picked
  from the input method's list).
- character bigrams: the fallback when a word is unknown or mistyped.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# Question words and particles: they say how something is asked, not what.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "和",
        "与",
        "及",
        "或",
        "在",
        "对",
        "为",
        "把",
        "被",
        "给",
        "将",
        "让",
        "向",
        "从",
        "到",
        "由",
        "于",
        "以",
        "之",
        "其",
        "该",
        "这",
        "那",
        "此",
        "各",
        "每",
        "也",
        "都",
        "还",
        "就",
        "而",
        "并",
        "且",
        "但",
        "又",
        "即",
        "等",
        "有",
        "要",
        "想",
        "能",
        "可",
        "会",
        "应",
        "需",
        "去",
        "来",
        "上",
        "下",
        "中",
        "里",
        "内",
        "个",
        "些",
        "一",
        "哪",
        "谁",
        "何",
        "几",
        "多",
        "什么",
        "哪些",
        "哪里",
        "哪儿",
        "哪个",
        "如何",
        "怎么",
        "怎样",
        "怎么样",
        "怎么办",
        "为什么",
        "是否",
        "是不是",
        "多少",
        "多久",
        "什么样",
        "有何",
        "有没有",
        "可以",
        "能否",
        "能不能",
        "需要",
        "应该",
        "应当",
        "需",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "她",
        "它",
        "他们",
        "请问",
        "请",
        "一下",
        "具体",
        "相关",
        "有关",
        "方面",
        "主要",
        "进行",
        "哪种",
        "哪类",
        "哪几",
        "几个",
        "到底",
        "现在",
        "目前",
        "已经",
        "时候",
    ]
)
# Place suffixes stripped to get the short form people type (泰州市 → 泰州).
PLACE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "新区",
    "街道",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
    "镇",
    "乡",
)

_PUNCT = re.compile(r"[\W_]+")
_ASCII_WORD = re.compile(r"^[a-z]+$")
_QUOTED = re.compile(r"[“\"《「『〈]([^”\"》」』〉]{2,24})[”\"》」』〉]")

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Canonical form for matching: NFKC, lower case, simplified, no punctuation."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _t2s().convert(text)
    return _PUNCT.sub(" ", text).strip()


def compact(text: str) -> str:
    """``normalise`` without spaces: for substring, prefix and bigram matching."""
    return normalise(text).replace(" ", "")


def is_pinyin_query(text: str) -> bool:
    """Latin letters only (after normalising): read as pinyin (full or initials)."""
    c = compact(text)
    return bool(c) and len(c) <= 40 and bool(_ASCII_WORD.match(c))


def quoted_terms(text: str) -> list[str]:
    """Names in quotes or book-title marks: “健康码”, 《指引》 — strong topic words."""
    return [compact(m) for m in _QUOTED.findall(text or "") if compact(m)]


def bigrams(text: str) -> list[str]:
    """Character bigrams of the CJK runs (and whole short latin/digit runs)."""
    out: list[str] = []
    for run in normalise(text).split(" "):
        if not run:
            continue
        if len(run) == 1:
            continue
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def place_short_forms(name: str) -> set[str]:
    """泰州市 → {泰州市, 泰州}; 广西壮族自治区 → {广西壮族自治区, 广西}."""
    out = {name}
    for suffix in PLACE_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            out.add(name[: -len(suffix)])
    return out


# --- segmentation -------------------------------------------------------------------------


class Segmenter:
    """One jieba tokenizer for the process, with the domain dictionary added."""

    def __init__(self) -> None:
        self._tok: Any = None
        self._lock = threading.Lock()
        self._added: set[str] = set()

    def _ensure(self) -> Any:
        if self._tok is None:
            with self._lock:
                if self._tok is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tok = jieba.Tokenizer()
                    tok.initialize()
                    self._tok = tok
        return self._tok

    @property
    def loaded(self) -> bool:
        return self._tok is not None

    def add_words(self, words: Iterable[str], *, freq: int | None = None) -> int:
        """Add domain words (already normalised); returns how many were new."""
        tok = self._ensure()
        n = 0
        with self._lock:
            for w in words:
                if len(w) < 2 or w in self._added or " " in w:
                    continue
                self._added.add(w)
                if w not in tok.FREQ or not tok.FREQ[w]:
                    tok.add_word(w, freq)
                    n += 1
        if n:
            _cut_cached.cache_clear()
            _cut_search_cached.cache_clear()
        return n

    def known(self, word: str) -> bool:
        return bool(self._ensure().FREQ.get(word))

    def cut(self, normalised: str) -> list[str]:
        """Precise mode (one segmentation), stopwords and spaces dropped."""
        return list(_cut_cached(normalised))

    def cut_for_search(self, normalised: str) -> list[str]:
        """Search mode: long words also yield their dictionary sub-words."""
        return list(_cut_search_cached(normalised))


SEGMENTER = Segmenter()


@lru_cache(maxsize=200_000)
def _cut_cached(normalised: str) -> tuple[str, ...]:
    tok = SEGMENTER._ensure()
    return tuple(
        w
        for part in normalised.split(" ")
        if part
        for w in tok.lcut(part)
        if w.strip() and w not in STOPWORDS
    )


@lru_cache(maxsize=200_000)
def _cut_search_cached(normalised: str) -> tuple[str, ...]:
    tok = SEGMENTER._ensure()
    return tuple(
        w
        for part in normalised.split(" ")
        if part
        for w in tok.lcut_for_search(part)
        if w.strip() and w not in STOPWORDS
    )


def tokens(text: str) -> list[str]:
    """Search-mode tokens of any text (normalised first)."""
    return SEGMENTER.cut_for_search(normalise(text))


def title_chunks(title: str) -> list[str]:
    """Pieces of a title between punctuation, for the domain dictionary:
    "企业投资项目备案（技术改造）" → ["企业投资项目备案", "技术改造"]."""
    return [c for c in normalise(title).split(" ") if 2 <= len(c) <= 12]


# --- pinyin ---------------------------------------------------------------------------------


@lru_cache(maxsize=200_000)
def char_pinyin(text: str) -> tuple[str, ...]:
    """Toneless pinyin per character (non-Chinese characters kept as they are)."""
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors=lambda s: list(s)))


def pinyin_keys(title: str, *, max_len: int = 48) -> tuple[set[str], set[str]]:
    """Prefix keys of a title: (full pinyin, initials) starting at every word.

    "生育津贴" (生育/津贴) → full {"shengyujintie", "jintie"}, initials
    {"syjt", "jt"}: a typed prefix of any key ("shengyu", "shengyujin",
    "sy", "jt") finds the title by binary search.
    """
    norm = compact(title)
    if not norm:
        return set(), set()
    syllables = char_pinyin(norm)
    if len(syllables) != len(norm):  # a character lazy_pinyin merged or split
        return set(), set()
    starts = [0]
    pos = 0
    for w in SEGMENTER.cut(normalise(title)):
        i = norm.find(w, pos)
        if i >= 0:
            starts.append(i)
            pos = i + len(w)
    full: set[str] = set()
    initials: set[str] = set()
    for s in sorted(set(starts)):
        full.add("".join(syllables[s:])[:max_len])
        initials.add("".join(p[0] for p in syllables[s:] if p)[:max_len])
    return full, initials


@lru_cache(maxsize=100_000)
def _one_pinyin(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    found = lazy_pinyin(char, style=Style.NORMAL, errors=lambda s: list(s))
    return found[0] if found else char


def bigram_pinyin(bigram: str) -> str:
    """Homophone key of a character bigram: 津帖 and 津贴 → "jin|tie"."""
    return "|".join(_one_pinyin(c) for c in bigram)
