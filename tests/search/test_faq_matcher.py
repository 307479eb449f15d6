"""FAQ matcher (pure): bigram topicality, leaving rows out, the second stage."""

from __future__ import annotations

import math

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


# Three topics about toll roads word them differently: 免费 is asked where
# another row says 收费公路; two other topics say neither.
ROAD_ROWS = [
    FaqRow("r1", "road", "收费公路何时恢复收费？", "5月6日零时起恢复收费"),
    FaqRow("r2", "road", "疫情期间免费通行的车辆有哪些？", "所有依法通行收费公路的车辆"),
    FaqRow("r3", "toll", "高速公路免费政策持续到什么时候？", "疫情防控结束"),
    FaqRow("r4", "toll", "收费公路免收通行费如何执行？", "各收费站不停车放行"),
    FaqRow("r5", "bridge", "过桥免费吗？", "免费"),
    FaqRow("r6", "bridge", "收费公路上的桥梁收费吗？", "同样免收"),
    FaqRow("r7", "mask", "口罩价格上涨怎么举报？", "拨打12315"),
    FaqRow("r8", "mask", "药店口罩限购吗？", "每人限购5只"),
    FaqRow("r9", "school", "中小学何时开学？", "另行通知"),
    FaqRow("r10", "school", "学生如何在家学习？", "线上课程"),
]


def _assoc(m: FaqMatcher, word: str, ex: set[int]) -> dict[str, tuple[float, float]]:
    aq = m.associations.of({word}, m.topic_of, ex)
    return {v: (p_of[v], pmi_of[v]) for _, _, p_of, pmi_of, _, _ in aq.per_word for v in p_of}


def test_associations_link_a_word_to_another_rows_wording() -> None:
    m = FaqMatcher(ROAD_ROWS)
    got = _assoc(m, "免费", set())
    # 免费 is asked in three topics; each has 收费公路 in another row; five
    # topics of two rows, three of which say 收费公路: PMI log(1 / (3/5)).
    assert got["收费公路"] == pytest.approx((1.0, math.log(5 / 3)))
    assert "口罩" not in got
    # A topic that lacks the word asked but says its associate scores on the
    # association features; one that says the word itself, or neither, does not.
    aq = m.associations.of({"免费"}, m.topic_of, set())
    p, pmi, strong, strong_n, per_word, log_sum = aq.features({"收费公路", "恢复"}, 1)
    # Shares of the question's idf (one word here: aq.total is its idf).
    assert (p, pmi) == pytest.approx((1.0, math.log(5 / 3)))
    assert per_word == pytest.approx(aq.total * math.log(5 / 3))
    assert strong == strong_n == 0.0  # PMI 0.51: not a strong association
    assert log_sum == pytest.approx(math.log1p(aq.total * math.log(5 / 3)))
    assert aq.features({"免费", "收费公路"}, 1) == [0.0] * 6
    assert aq.features({"口罩"}, 1) == [0.0] * 6
    # The second stage sees them.
    q = m.topic_scores("过路免费吗", set())
    assert q is not None
    feats = faq_rank.features(m, q, sorted(q.fused.items(), key=lambda kv: -kv[1]), set())
    assert len(feats[0][1]) == len(faq_rank.FEATURES)


@pytest.mark.parametrize("left_out", [["r2"], ["r5", "r6"], ["r7"], ["r1", "r3"]])
def test_associations_leave_rows_out_exactly(left_out: list[str]) -> None:
    full = FaqMatcher(ROAD_ROWS)
    without = FaqMatcher([r for r in ROAD_ROWS if r.key not in left_out])
    ex = {full.row_index[k] for k in left_out}
    for word in ("免费", "收费公路", "收费", "口罩", "开学"):
        got, want = _assoc(full, word, ex), _assoc(without, word, set())
        assert sorted(got) == sorted(want)
        for v, pair in want.items():
            assert got[v] == pytest.approx(pair)
        a = full.associations.of({word}, full.topic_of, ex)
        b = without.associations.of({word}, without.topic_of, set())
        assert a.total == pytest.approx(b.total)
        assert [(u, s) for u, _, _, _, s, _ in a.per_word] == [
            (u, s) for u, _, _, _, s, _ in b.per_word
        ]
        assert [w for *_, w in a.per_word] == pytest.approx([w for *_, w in b.per_word])
    for q in ("过路免费吗", "收费公路什么时候收费", "口罩涨价"):
        qa = full.topic_scores(q, ex)
        qb = without.topic_scores(q, set())
        assert qa is not None and qb is not None
        fa = faq_rank.features(full, qa, sorted(qa.fused.items(), key=lambda kv: -kv[1]), ex)
        fb = faq_rank.features(without, qb, sorted(qb.fused.items(), key=lambda kv: -kv[1]), set())
        assert [f for _, f in fa] == [pytest.approx(f) for _, f in fb]
