"""The `tongban` command against the test database."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tongban.cli import app
from tongban.core import audit
from tongban.core.settings import reset_settings_cache


@pytest.fixture
def cli_env(settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TONGBAN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TONGBAN_LOG_LEVEL", "WARNING")
    reset_settings_cache()
    yield CliRunner()
    reset_settings_cache()


async def _tamper(settings) -> None:
    from tongban.core.db import create_engine, make_sessionmaker

    engine = create_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            await _tamper_with(session)
    finally:
        await engine.dispose()


async def _tamper_with(session) -> None:
    for i in range(5):
        await audit.record(
            session,
            actor="account:1",
            action="test.cli",
            target_type="thing",
            target_id=i,
            region_code="370102000000",
            details={"i": i},
        )
    await session.commit()
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update"))
    else:
        await session.execute(text("DROP TRIGGER audit_entry_no_update"))
        await session.execute(text("DROP TRIGGER audit_entry_no_delete"))
    await session.execute(text("UPDATE audit_entry SET action='test.forged' WHERE seq=2"))
    await session.execute(text("DELETE FROM audit_entry WHERE seq=4"))
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_update"))
    await session.commit()


def test_audit_verify_command(cli_env: CliRunner, settings) -> None:
    import asyncio

    ok = cli_env.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    asyncio.run(_tamper(settings))
    bad = cli_env.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 2
    assert "第 2 条记录内容已被修改" in bad.output
    assert "第 4 条记录已被删除" in bad.output


def test_check_command(cli_env: CliRunner) -> None:
    r = cli_env.invoke(app, ["check"])
    assert "数据库可连接" in r.output and "数据库结构为最新版本" in r.output
    assert "工作日历已知年份：2004–" in r.output


def test_create_admin_command(cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_ADMIN_PASSWORD", "Admin@2026x")
    r = cli_env.invoke(
        app, ["create-admin", "--username", "root.admin", "--name", "管理员", "--region", "37"]
    )
    assert r.exit_code == 0, r.output
    again = cli_env.invoke(
        app, ["create-admin", "--username", "root.admin", "--name", "管理员", "--region", "37"]
    )
    assert again.exit_code == 1 and "已被使用" in again.output
    bad = cli_env.invoke(
        app, ["create-admin", "--username", "x.admin", "--name", "管理员", "--region", "99"]
    )
    assert bad.exit_code != 0


def test_demo_command_idempotent(cli_env: CliRunner, tmp_path) -> None:
    import json

    out = tmp_path / "accounts.json"
    r = cli_env.invoke(app, ["demo", "--accounts-json", str(out)])
    assert r.exit_code == 0, r.output
    assert "Tongban@2026" in r.output and "clerk.lixia" in r.output
    first = json.loads(out.read_text())
    assert len(first["citizens"]) == 120
    r2 = cli_env.invoke(app, ["demo", "--quiet", "--accounts-json", str(out)])
    assert r2.exit_code == 0 and json.loads(out.read_text()) == first
