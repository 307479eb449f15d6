"""FAQ matcher (pure): bigram topicality, leaving rows out, the second stage."""

from __future__ import annotations

import pytest

from tongban.search import faq_rank, faq_rank_weights
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


@pytest.mark.parametrize("rerank", [True, False])
@pytest.mark.parametrize("left_out", [["a1"], ["b2"], ["a1", "a2"], ["c1"]])
def test_exclude_scores_as_if_the_rows_were_never_imported(
    left_out: list[str], rerank: bool
) -> None:
    full = FaqMatcher(ROWS, rerank=rerank)
    without = FaqMatcher([r for r in ROWS if r.key not in left_out], rerank=rerank)
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


def test_second_stage_features_ignore_the_excluded_rows() -> None:
    def ranked(m: FaqMatcher, q: str, ex: set[int]) -> list[tuple[str, list[float]]]:
        query = m.topic_scores(q, ex)
        assert query is not None
        first = sorted(query.fused.items(), key=lambda kv: -kv[1])
        name = {m.topic_of[i]: r.topic for i, r in enumerate(m.rows)}
        return [(name[k], f) for k, f in faq_rank.features(m, query, first, ex)]

    for left_out in (["a1"], ["c1"], ["b1", "b2"]):
        full = FaqMatcher(ROWS)
        without = FaqMatcher([r for r in ROWS if r.key not in left_out])
        ex = {full.row_index[k] for k in left_out}
        for q in ("苏州税务局申报期限延长到什么时候", "南京医保局异地就医怎么办", "口罩涨价"):
            got = ranked(full, q, ex)
            want = ranked(without, q, set())
            assert [t for t, _ in got] == [t for t, _ in want]
            for (_, f), (_, g) in zip(got, want, strict=True):
                assert f == pytest.approx(g)


def test_the_second_stage_orders_the_topics() -> None:
    m = FaqMatcher(ROWS, rerank=False)
    q = "苏州税务局延长申报期限到哪天？"
    first = m.match(q)
    assert [a.topic for a in first] == ["tax", "med"]
    # Weights that penalise the best single question's bigram score put the
    # topic whose questions are least like this one first.
    d = len(faq_rank.FEATURES)
    w = [0.0] * (d + d * (d + 1) // 2)
    w[faq_rank.FEATURES.index("v_best_q_bigrams")] = -5.0
    m.reranker = faq_rank.Reranker(w)
    got = m.match(q)
    assert [a.topic for a in got] == ["med", "tax"]
    # The score shown stays the first stage's.
    assert {a.topic: a.score for a in got} == {a.topic: a.score for a in first}
    # Only the first stage's best topics are reordered.
    m.reranker = faq_rank.Reranker(w, n=1)
    assert [a.topic for a in m.match(q)] == ["tax", "med"]


def test_reranker_score_is_the_weights_times_the_expanded_features() -> None:
    d = len(faq_rank.FEATURES)
    w = [((i * 7) % 11 - 5) / 10 for i in range(d + d * (d + 1) // 2)]
    f = [((i * 3) % 5) / 4 for i in range(d)]
    r = faq_rank.Reranker(w)
    assert r.score(f) == pytest.approx(
        sum(a * b for a, b in zip(w, faq_rank.expand(f), strict=True))
    )
    with pytest.raises(ValueError):
        faq_rank.Reranker(w[:-1])


def test_the_shipped_weights_fit_the_features_and_are_used_by_default() -> None:
    assert tuple(faq_rank_weights.FEATURES) == faq_rank.FEATURES
    assert len(faq_rank_weights.BY_FOLD) == faq_rank_weights.FOLDS
    m = FaqMatcher(ROWS)
    assert m.reranker is not None and m.reranker.linear == list(
        faq_rank_weights.FULL[: len(faq_rank.FEATURES)]
    )
    assert FaqMatcher(ROWS, rerank=False).reranker is None


def test_fold_of_a_topic_is_stable() -> None:
    # The evaluation answers a docid with the weights of its fold: the fold must
    # not depend on the process (hash randomisation) or the machine.
    got = [
        faq_rank.fold_of(t, 5) for t in ("tax", "med", "solo", "be390c89cda535e08c72fc587101df9f")
    ]
    assert got == [1, 3, 1, 1]  # md5 of the docid, mod 5
