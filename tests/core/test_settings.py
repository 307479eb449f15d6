"""Settings: the generated documentation matches the class; bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tongban.core.settings import Settings
from tongban.core.settings_doc import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_doc_is_current() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == render_markdown(), (
        "docs/configuration.md is stale: run `tongban docs-config`"
    )


def test_every_field_described() -> None:
    assert all(f.description for f in Settings.model_fields.values())


def test_env_prefix_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_PORT", "9100")
    assert Settings().port == 9100
    monkeypatch.setenv("TONGBAN_PORT", "0")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("TONGBAN_PORT")
    monkeypatch.setenv("TONGBAN_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError):
        Settings()


def test_secret_generated_once(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    key = s.resolved_secret_key()
    assert len(key) > 40 and Settings(data_dir=tmp_path).resolved_secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
