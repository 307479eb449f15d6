"""Locate the project's shared real test data, or skip the calling test.

The data lives beside the repository in ``../shared/data`` (see its README.md)
and is never copied into the repository. On a machine without it, tests that
need it are skipped with the missing path as the reason, so the project's own
test command still passes.

    from tests.shared_data import shared_data

    def test_codes():
        path = shared_data("id_vectors_stdnum", "uscc_valid_found_online.txt")
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Return ``../shared/data/<parts>``, or skip the test if it is absent.

    Call it inside a test (or fixture), not at import time: skipping at import
    would skip every test in the module.
    """
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not present: {path.resolve()} (see shared/data/README.md)")
    return path
