"""Licence tests: the package reads the test's own settings (deployment key,
time zone) and writes verification log rows in the request's transaction
(``licence_verify_log_batch_ms = 0``) unless a test asks for batching."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tongban.core.settings import Settings
from tongban.licences import config


@pytest.fixture
def settings(settings: Settings) -> Iterator[Settings]:
    s = settings.model_copy(
        update={"licence_verify_log_batch_ms": 0, "licence_algorithm": "ed25519"}
    )
    config.configure(s)
    yield s
    config.configure(None)
