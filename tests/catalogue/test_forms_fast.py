"""The fast check of ``forms.validate_submission`` (a schema compiled once into
plain checks) answers "valid" only when JSON Schema does: over many values of
every covered keyword, the result equals JSON Schema's own, errors included."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tongban.catalogue import forms
from tongban.core.identifiers import make_credit_code, make_resident_id

PROPS: dict[str, Any] = {
    "name": {"title": "姓名", "type": "string", "maxLength": 5, "minLength": 2},
    "code": {"title": "编号", "type": "string", "pattern": "^[A-Z]{2}\\d+$"},
    "kind": {"title": "类别", "type": "string", "enum": ["甲", "乙"]},
    "level": {"title": "等级", "type": "integer", "enum": [1, 2]},
    "count": {"title": "数量", "type": "integer", "minimum": 1, "maximum": 10},
    "ratio": {"title": "比例", "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "flag": {"title": "是否", "type": "boolean"},
    "id_number": {"title": "身份证", "type": "string", "format": "resident_id"},
    "credit": {"title": "信用代码", "type": "string", "format": "credit_code"},
    "phone": {"title": "电话", "type": "string", "format": "phone"},
    "day": {"title": "日期", "type": "string", "format": "date"},
    "email": {"title": "邮箱", "type": "string", "format": "email"},
    "untyped": {"title": "未定类型", "maxLength": 3, "minimum": 2},
}
FORM = {"schema": {"type": "object", "properties": PROPS, "required": ["name", "count"]}, "ui": {}}
VALUES: list[Any] = [
    "",
    "张三",
    "张三丰李四王五",
    "a",
    "AB12",
    "ab12",
    "甲",
    "丙",
    0,
    1,
    2,
    5,
    11,
    -1,
    0.5,
    1.0,
    2.0,
    1.5,
    True,
    False,
    None,
    [],
    {},
    ["甲"],
    {"a": 1},
    make_resident_id("110101", birth_date=dt.date(1990, 3, 7), sequence=12),
    "110101199003071234",
    make_credit_code("91110000MA01ABCD0"),
    "13800138000",
    "1380013800",
    "2026-12-01",
    "2026-13-01",
    "a@b.cn",
    "ab.cn",
    "1234",
]


def _reference(
    form: dict[str, Any], data: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """validate_submission without the fast check."""
    saved = forms._compiled
    forms._compiled = lambda schema: None  # type: ignore[assignment]
    try:
        return forms.validate_submission(form, data)
    finally:
        forms._compiled = saved  # type: ignore[assignment]


def test_compiled_for_the_keywords_forms_use() -> None:
    assert forms._compiled(FORM["schema"]) is not None
    for extra in ({"additionalProperties": False}, {"allOf": []}):
        assert forms._compiled({**FORM["schema"], **extra}) is None
    odd = {**PROPS, "x": {"title": "x", "type": ["string", "null"]}}
    assert forms._compiled({"type": "object", "properties": odd}) is None
    assert (
        forms._compiled(
            {"type": "object", "properties": {**PROPS, "y": {"title": "y", "const": 1}}}
        )
        is None
    )


@pytest.mark.parametrize("field", sorted(PROPS))
def test_every_value_of_every_field_as_json_schema(field: str) -> None:
    for value in VALUES:
        data = {"name": "张三", "count": 3, field: value}
        assert forms.validate_submission(FORM, data) == _reference(FORM, data), (field, value)


def test_random_forms_as_json_schema() -> None:
    rnd = random.Random(4)
    names = sorted(PROPS)
    for _ in range(600):
        data = {n: rnd.choice(VALUES) for n in rnd.sample(names, rnd.randint(0, len(names)))}
        got = forms.validate_submission(FORM, data)
        assert got == _reference(FORM, data), data
        # and the verdict is JSON Schema's
        required = [r for r in FORM["schema"]["required"] if r in got[0]]
        valid = Draft202012Validator(
            {**FORM["schema"], "required": FORM["schema"]["required"]},
            format_checker=forms._formats,
        ).is_valid(got[0])
        assert (not got[1]) == (valid and all(r in got[0] for r in required)), data


def test_the_default_form_and_conditional_fields() -> None:
    form = forms.default_form(for_enterprise=True)
    good = {
        "applicant_name": "张三",
        "applicant_id_number": make_resident_id(
            "110101", birth_date=dt.date(1990, 3, 7), sequence=12
        ),
        "phone": "13800138000",
        "enterprise_name": "某公司",
        "enterprise_credit_code": make_credit_code("91110000MA01ABCD0"),
    }
    assert forms.validate_submission(form, good) == (good, [])
    for key, value in itertools.product(good, ["", "x", 1]):
        data = {**good, key: value}
        assert forms.validate_submission(form, data) == _reference(form, data)
