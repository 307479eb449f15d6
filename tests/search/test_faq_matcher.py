"""FAQ matcher (pure): bigram topicality and leaving rows out."""

from __future__ import annotations

import pytest

from tongban.search.faq import FaqMatcher, FaqRow

ROWS = [
    FaqRow("a1", "tax", "苏州税务局延长申报期限到哪天？", "延长至2月28日"),
    FaqRow("a2", "tax", "苏州税务局对个体工商户有何帮扶？", "苏州税务局为个体工商户调整定额"),
    FaqRow("a3", "tax", "苏州税务局推出了哪些非接触式办税渠道？", "电子税务局、手机APP"),
    FaqRow("b1", "med", "南京医保局延长申报期限到哪天？", "延长至3月底"),
    FaqRow("b2", "med", "南京医保局如何办理异地就医？", "线上备案"),
    FaqRow("c1", "solo", "口罩价格上涨怎么举报？", "拨打12315"),
]


def test_bigrams_of_the_subject_weigh_more_than_those_of_the_point_asked() -> None:
    m = FaqMatcher(ROWS)
    w = m.bigram_topicality.weights(["税务", "期限"], m.topic_of, set())
    # 税务 recurs across the tax topic's rows; 期限 is asked in two topics
    # and never shared within one.
    assert w["税务"] > 1.0 > w["期限"]
    # A bigram never seen in a question sits at the global rate.
    assert m.bigram_topicality.weights(["火星"], m.topic_of, set())["火星"] == pytest.approx(1.0)


@pytest.mark.parametrize("left_out", [["a1"], ["b2"], ["a1", "a2"], ["c1"]])
def test_exclude_scores_as_if_the_rows_were_never_imported(left_out: list[str]) -> None:
    full = FaqMatcher(ROWS)
    without = FaqMatcher([r for r in ROWS if r.key not in left_out])
    for q in ("苏州税务局申报期限延长到什么时候", "南京医保异地就医", "口罩涨价"):
        idx = {full.row_index[k] for k in left_out}
        assert full.bigram_topicality.weights(
            ["税务", "期限", "医保", "口罩"], full.topic_of, idx
        ) == pytest.approx(
            without.bigram_topicality.weights(
                ["税务", "期限", "医保", "口罩"], without.topic_of, set()
            )
        )
        got = [(a.key, a.topic, a.score) for a in full.match(q, exclude=left_out)]
        want = [(a.key, a.topic, a.score) for a in without.match(q)]
        assert got == want
