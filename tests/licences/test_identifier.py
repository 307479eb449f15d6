"""证照标识 (GB/T 36904): the real identifier, random round trips, errors in Chinese."""

from __future__ import annotations

import random
import string

import pytest

from tongban.core.identifiers import make_credit_code
from tongban.licences import identifier
from tongban.licences.identifier import InvalidLicenceIdentifier

REAL = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"


def test_the_real_identifier_parses_and_its_check_character_is_recomputed():
    ident = identifier.parse(REAL)
    assert ident.type_code == "11100000000013338W011"
    assert ident.issuer_code == "11430000006122244L"
    assert ident.serial == "20230000403"
    assert ident.version == 1
    assert ident.check == "U"
    assert str(ident) == REAL
    # ISO/IEC 7064 MOD 37,36 over type + issuer + serial + version, no dots, no root
    assert identifier.check_char("11100000000013338W01111430000006122244L20230000403001") == "U"
    assert identifier.parse(REAL.lower().replace("1.2.156.3005.2.", "1.2.156.3005.2.")).check == "U"


@pytest.mark.parametrize(
    "position", range(len("11100000000013338W01111430000006122244L20230000403001"))
)
def test_every_single_character_change_is_caught(position):
    body = list("11100000000013338W01111430000006122244L20230000403001")
    original = identifier.check_char("".join(body))
    body[position] = "7" if body[position] != "7" else "8"
    assert identifier.check_char("".join(body)) != original


def test_random_round_trips():
    rng = random.Random(36904)
    alphabet = string.digits + string.ascii_uppercase
    for _ in range(500):
        type_code = (
            make_credit_code(
                "".join(rng.choice("123456789") for _ in range(2))
                + "".join(rng.choice(string.digits) for _ in range(15))
            )
            + f"{rng.randrange(1000):03d}"
        )
        issuer = make_credit_code(
            "11"
            + "".join(rng.choice(string.digits) for _ in range(6))
            + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        )
        serial = "".join(rng.choice(alphabet) for _ in range(rng.randint(7, 32)))
        version = rng.randint(1, 999)
        made = identifier.make(type_code, issuer, serial, version)
        text = str(made)
        assert identifier.parse(text, validate_codes=True) == made
        assert text.split(".")[-2] == f"{version:03d}"
        # a wrong check character is refused
        wrong = text[:-1] + ("0" if text[-1] != "0" else "1")
        with pytest.raises(InvalidLicenceIdentifier) as e:
            identifier.parse(wrong)
        assert e.value.code == "licence_identifier_check_failed"
        # the next version has its own check character and the same stem
        nxt = made.with_version(version % 999 + 1)
        assert str(nxt).rsplit(".", 2)[0] == text.rsplit(".", 2)[0]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "请填写"),
        ("1.2.156.3005.1.11100000000013338W011.11430000006122244L.20230000403.001.U", "开头"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001", "五段"),
        ("1.2.156.3005.2.1110000000001333W011.11430000006122244L.20230000403.001.U", "类型代码"),
        (
            "1.2.156.3005.2.11100000000013338W011.1143000000612224L.20230000403.001.U",
            "颁发机构代码",
        ),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.2023.001.U", "流水号"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.000.U", "版本号"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.1.U", "版本号"),
        (
            "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.V",
            "校验位不正确",
        ),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.2023000040_.001.U", "流水号"),
    ],
)
def test_bad_identifiers_say_what_is_wrong_in_chinese(text, words):
    with pytest.raises(InvalidLicenceIdentifier) as e:
        identifier.parse(text)
    assert words in e.value.message
    assert e.value.status == 422


def test_type_code_needs_a_valid_credit_code_and_three_digits():
    good = make_credit_code("11100000MB0000001") + "001"
    assert identifier.check_type_code(good.lower()) == good
    with pytest.raises(InvalidLicenceIdentifier):
        identifier.check_type_code(good[:-1] + "A")
    with pytest.raises(InvalidLicenceIdentifier) as e:
        identifier.check_type_code(good[:17] + ("0" if good[17] != "0" else "1") + "001")
    assert "统一社会信用代码" in e.value.message
