"""Pure catalogue checks, table-driven: every rule of ``guide_problems``,
``consistency_diffs`` and ``classify_online``, each in both directions (a case
that breaks the rule and a nearby one that does not)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalogue.helpers import fields
from tongban.catalogue import checks
from tongban.catalogue.schemas import ItemFields, LocalFields

LOCAL = LocalFields(address="历下区政务服务中心", hours="工作日 9:00-17:00", phone="0531-12345")
FEE = [{"name": "工本费", "standard": "10元", "basis": "《收费标准》"}]
ON_SITE = {"online_depth": 3, "visits": 1, "visit_reason": "须现场核验原件"}


def doc(**over: Any) -> ItemFields:
    return ItemFields.model_validate(fields(**over))


def codes_of(findings: list[checks.Finding]) -> set[str]:
    return {f.code for f in findings}


def test_clean_item_has_no_guide_problems() -> None:
    assert checks.guide_problems(doc(), LOCAL) == []
    assert checks.guide_problems(doc()) == []


# rule, fields that break it, fields near it that keep it, local fields (None: base item)
GUIDE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], LocalFields | None]] = [
    ("depth4_visits", {"visits": 1, "visit_reason": "须现场核验"}, ON_SITE, LOCAL),
    ("visit_reason_missing", {**ON_SITE, "visit_reason": ""}, ON_SITE, LOCAL),
    (
        "zero_visits_no_post",
        {"online_depth": 3, "visits": 0},
        {"online_depth": 3, "visits": 0, "handling_forms": ["1", "2", "4"]},
        LOCAL,
    ),
    (
        "instant_not_instant_case",
        {"promised_limit": {"value": 0}},
        {"promised_limit": {"value": 0}, "case_type": "1"},
        LOCAL,
    ),
    ("instant_case_with_limit", {"case_type": "1"}, {"case_type": "2"}, LOCAL),
    (
        "payment_without_fee",
        {"online_payment": True},
        {"online_payment": True, "fee_charged": True, "fees": FEE},
        LOCAL,
    ),
    ("fee_items_missing", {"fee_charged": True}, {"fee_charged": True, "fees": FEE}, LOCAL),
    (
        "fee_basis_missing",
        {"fee_charged": True, "fees": [{**FEE[0], "basis": " "}]},
        {"fee_charged": True, "fees": FEE},
        LOCAL,
    ),
    (
        "promised_exceeds_statutory",
        {"promised_limit": {"value": 21}},
        {"promised_limit": {"value": 20}},
        LOCAL,
    ),
    (
        "promised_exceeds_statutory",
        {"promised_limit": {"value": 40, "unit": "natural_day"}},
        {"promised_limit": {"value": 30, "unit": "natural_day"}},
        LOCAL,
    ),  # 30 natural days fit in 20 working days
    (
        "online_depth_without_online_form",
        {"online_depth": 2, "handling_forms": ["1", "4"], "visits": 0},
        {"online_depth": 1, "handling_forms": ["1", "4"], "visits": 0},
        LOCAL,
    ),
    ("legal_basis_missing", {"legal_basis": []}, {"legal_basis": [], "item_type": "20"}, LOCAL),
    ("conditions_missing", {"conditions": ""}, {"conditions": "", "item_type": "06"}, LOCAL),
    (
        "materials_missing",
        {"materials": []},
        {"materials": [], "case_type": "1", "promised_limit": {"value": 0}},
        LOCAL,
    ),
    (
        "consult_phone_missing",
        {"consult_phone": ""},
        {"consult_phone": "12345"},
        LocalFields(**{**LOCAL.model_dump(), "phone": ""}),
    ),
    ("consult_phone_missing", {"consult_phone": ""}, {"consult_phone": "12345"}, None),
    ("supervise_phone_missing", {"supervise_phone": ""}, {"supervise_phone": "12345"}, LOCAL),
    ("place_missing", ON_SITE, ON_SITE, LocalFields(address="", hours="9-17")),
    (
        "licence_type_missing",
        {"result": {"kind": "licence", "name": "许可证"}},
        {"result": {"kind": "document", "name": "批复"}},
        LOCAL,
    ),
]


@pytest.mark.parametrize(
    ("rule", "broken", "kept", "local"),
    GUIDE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(GUIDE_CASES)],
)
def test_guide_rule_both_directions(
    rule: str, broken: dict[str, Any], kept: dict[str, Any], local: LocalFields | None
) -> None:
    if rule == "place_missing":  # the rule reads the local fields: same item, different places
        assert rule in codes_of(checks.guide_problems(doc(**broken), local))
        assert rule not in codes_of(checks.guide_problems(doc(**kept), LOCAL))
        assert rule not in codes_of(checks.guide_problems(doc(**kept), None))
        return
    found = checks.guide_problems(doc(**broken), local)
    assert rule in codes_of(found)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in f.message) for f in found)
    assert rule not in codes_of(checks.guide_problems(doc(**kept), local))


def test_a_local_phone_is_a_consultation_phone() -> None:
    assert "consult_phone_missing" not in codes_of(
        checks.guide_problems(doc(consult_phone=""), LOCAL)
    )


def test_every_guide_rule_is_covered() -> None:
    from tongban.catalogue.reports import GUIDE_LABELS

    assert {c[0] for c in GUIDE_CASES} == set(GUIDE_LABELS)


def test_severities() -> None:
    warn = codes_of(
        f
        for f in checks.guide_problems(
            doc(conditions="", consult_phone="", supervise_phone=""), None
        )
        if f.severity == "warning"
    )
    assert warn == {"conditions_missing", "consult_phone_missing", "supervise_phone_missing"}


# --- consistency ---------------------------------------------------------------------------------

BASE = doc()
CONSISTENCY_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # finding, impl fields that break sameness, impl fields that keep it, a word the message carries
    (
        "name_differs",
        {"name": "食品经营许可（县级）"},
        {"name": " 食品经营 许可 "},
        "食品经营许可（县级）",
    ),
    ("type_differs", {"item_type": "07"}, {"item_type": "01"}, "07"),
    (
        "basis_differs",
        {"legal_basis": [{"title": "《中华人民共和国食品安全法》", "article": "第三十六条"}]},
        {
            "legal_basis": [
                {"title": "《中华人民共和国食品安全法》", "article": "第三十五条", "text": "全文"}
            ]
        },
        "第三十五条",
    ),
    ("basis_differs", {"legal_basis": []}, {}, "缺少"),
    (
        "conditions_differ",
        {"conditions": "另加条件"},
        {"conditions": "具有与经营的食品品种、数量相适应的经营场所。 "},
        "受理条件",
    ),
    (
        "materials_differ",
        {"materials": fields()["materials"][:1]},
        {"materials": [{**m, "issuer": "本地说明"} for m in fields()["materials"]]},
        "缺少 营业执照",
    ),
    (
        "materials_differ",
        {"materials": [{**m, "required": False} for m in fields()["materials"]]},
        {},
        "是否必备不同",
    ),
    (
        "materials_differ",
        {"materials": [*fields()["materials"], {"name": "承诺书"}]},
        {},
        "增加 承诺书",
    ),
    (
        "statutory_differs",
        {"statutory_limit": {"value": 30}},
        {"statutory_limit": {"value": 20, "note": "本地说明"}},
        "30个工作日",
    ),
    (
        "promised_exceeds_statutory",
        {"promised_limit": {"value": 25}},
        {"promised_limit": {"value": 3}},
        "25个工作日",
    ),
]


@pytest.mark.parametrize(
    ("finding", "broken", "kept", "word"),
    CONSISTENCY_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CONSISTENCY_CASES)],
)
def test_consistency_both_directions(
    finding: str, broken: dict[str, Any], kept: dict[str, Any], word: str
) -> None:
    found = checks.consistency_diffs(BASE, doc(**broken))
    assert [f.code for f in found] == [finding]
    assert word in found[0].message
    assert checks.consistency_diffs(BASE, doc(**kept)) == []


def test_local_elements_may_differ() -> None:
    local = doc(
        promised_limit={"value": 1},
        handling_forms=["1"],
        visits=1,
        visit_reason="x",
        online_depth=1,
        consult_phone="0531-1",
        summary="本地说明",
        keywords=["本地"],
        express=True,
    )
    assert checks.consistency_diffs(BASE, local) == []


def test_consistency_labels_cover_every_finding() -> None:
    from tongban.catalogue.reports import CONSISTENCY_LABELS

    assert {c[0] for c in CONSISTENCY_CASES} == set(CONSISTENCY_LABELS)
    assert set(checks.SAME_FIELDS) == {
        f
        for f in ("name", "item_type", "legal_basis", "conditions", "materials", "statutory_limit")
    }


# --- 全程网办 ------------------------------------------------------------------------------------

PAPER = {"name": "原件", "required": True, "kind": "paper"}
ONLINE_CASES: list[tuple[dict[str, Any], str, tuple[str, ...]]] = [
    ({}, "done", ("Ⅳ级",)),
    ({"item_type": "02"}, "cannot", ("依职权",)),
    (ON_SITE, "cannot", ("须到现场", "须现场核验原件")),
    (
        {"online_depth": 3, "visits": 0, "handling_forms": ["1", "2", "4"], "materials": [PAPER]},
        "cannot",
        ("纸质原件", "原件"),
    ),
    (
        {
            "online_depth": 3,
            "visits": 0,
            "handling_forms": ["1", "2", "4"],
            "materials": [{**PAPER, "required": False}],
        },
        "can",
        ("Ⅳ级",),
    ),
    (
        {
            "online_depth": 3,
            "visits": 0,
            "handling_forms": ["1", "2", "4"],
            "materials": [{**PAPER, "licence_type_code": "113700000000000000001"}],
        },
        "can",
        ("网办深度提升至Ⅳ级",),
    ),
    (
        {"online_depth": 1, "visits": 1, "visit_reason": "", "handling_forms": ["1"]},
        "can",
        ("开通网上申办", "取消到现场"),
    ),
    ({"handling_forms": ["1"]}, "can", ("开通网上申办",)),
    ({"visits": 1, "visit_reason": ""}, "can", ("取消到现场",)),
]


@pytest.mark.parametrize(("over", "status", "words"), ONLINE_CASES)
def test_classify_online(over: dict[str, Any], status: str, words: tuple[str, ...]) -> None:
    got, reason = checks.classify_online(doc(**over))
    assert got == status
    for w in words:
        assert w in reason
