"""Region codes as a materialised path.

Division codes nest by prefix (GB/T 2260 and the statistics codes): 37 山东省
⊃ 3701 济南市 ⊃ 370102 历下区 ⊃ 370102001 街道 ⊃ 370102001001 社区. Every region
code is stored normalised to 12 digits, so "the subtree of X" is the half-open
range [prefix(X), next(prefix(X))) over an ordinary B-tree index — one range
scan on SQLite and PostgreSQL alike, no recursive query, no join.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_

LEVEL_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}  # province, city, county, township, village
LEVEL_NAMES = {1: "省级", 2: "市级", 3: "县级", 4: "乡级", 5: "村级"}


def normalise(code: str) -> str:
    """Pad a 2/4/6/9/12-digit division code to 12 digits."""
    code = code.strip()
    if not (code.isascii() and code.isdigit()) or len(code) not in (2, 4, 6, 9, 12):
        raise ValueError(f"行政区划代码格式错误: {code!r}")
    return code.ljust(12, "0")


def level_of(code12: str) -> int:
    """Level of a normalised code: 1 province … 5 village."""
    if code12[2:] == "0" * 10:
        return 1
    if code12[4:] == "0" * 8:
        return 2
    if code12[6:] == "0" * 6:
        return 3
    if code12[9:] == "000":
        return 4
    return 5


def prefix(code12: str) -> str:
    """The significant digits of a normalised code (its subtree prefix)."""
    return code12[: LEVEL_DIGITS[level_of(code12)]]


def ancestors(code12: str) -> list[str]:
    """Normalised codes of the ancestors, from the province down (self excluded)."""
    lvl = level_of(code12)
    return [code12[: LEVEL_DIGITS[i]].ljust(12, "0") for i in range(1, lvl)]


def _next(p: str) -> str:
    return str(int(p) + 1).rjust(len(p), "0") if p else ""


def subtree_bounds(code12: str) -> tuple[str, str]:
    p = prefix(code12)
    return p.ljust(12, "0"), _next(p).ljust(12, "0")


def in_subtree(column: Any, code12: str) -> Any:
    """SQL condition: ``column`` lies in the subtree rooted at ``code12``."""
    lo, hi = subtree_bounds(code12)
    return and_(column >= lo, column < hi)


def is_within(code12: str, root12: str) -> bool:
    lo, hi = subtree_bounds(root12)
    return lo <= code12 < hi
