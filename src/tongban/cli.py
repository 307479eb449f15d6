"""The ``tongban`` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tongban.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from tongban.catalogue.io import ImportReport

app = typer.Typer(help="通办 — 一体化在线政务服务平台", no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="审计日志")
app.add_typer(audit_app, name="audit")
catalogue_app = typer.Typer(help="事项目录：导入、导出", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
console = Console()


def _engine_and_maker(settings: Settings):
    from tongban.core.db import create_engine, make_sessionmaker
    from tongban.core.worker import autodiscover

    autodiscover()  # events recorded by commands need every handler registered
    engine = create_engine(settings)
    return engine, make_sessionmaker(engine)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic), then load the bundled region tree."""
    settings = get_settings()

    async def run() -> None:
        from tongban.core.migrate import upgrade
        from tongban.regions.service import load_bundled_regions

        engine, maker = _engine_and_maker(settings)
        try:
            await upgrade(engine)
            async with maker() as s:
                n = await load_bundled_regions(s)
                await s.commit()
        finally:
            await engine.dispose()
        console.print(f"数据库已是最新结构；行政区划（省市县）{n} 条")

    asyncio.run(run())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    workers: Annotated[int | None, typer.Option(help="进程数")] = None,
) -> None:
    """Serve the platform (web, API and, in embedded mode, the worker)."""
    import uvicorn

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    wildcard = host in ("0.0.0.0", "::")  # noqa: S104 - compared, not bound
    shown = settings.base_url or f"http://{'127.0.0.1' if wildcard else host}:{port}"
    console.print(f"[bold green]通办平台已启动：{shown}[/]  (Ctrl-C 停止)")
    options: dict[str, Any] = {
        "app": "tongban.web.app:create_app",
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "proxy_headers": True,
    }
    workers = workers or settings.web_workers
    if workers > 1:  # the parent accepts; each connection to the least busy process
        from tongban.web import balancer

        balancer.run(host, port, workers, options, settings.web_worker_timeout)
    else:
        uvicorn.run(host=host, port=port, **options)


@app.command()
def worker() -> None:
    """Run the event-outbox worker and scheduled jobs as a separate process."""
    from tongban.core.worker import worker_main

    asyncio.run(worker_main(get_settings()))


@app.command()
def demo(
    accounts_json: Annotated[
        Path | None, typer.Option(help="把演示账户写入此 JSON 文件（基准测试使用）")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="不打印账户表")] = False,
) -> None:
    """Load the demo province (山东省 / 济南市, synthetic people and enterprises). Idempotent."""
    settings = get_settings()

    async def run() -> dict:
        from tongban.demo import load_demo

        engine, maker = _engine_and_maker(settings)
        try:
            with _progress() as progress:
                return await load_demo(maker, progress=progress)
        finally:
            await engine.dispose()

    summary = asyncio.run(run())
    if accounts_json:
        accounts_json.write_text(json.dumps(summary["accounts_json"], ensure_ascii=False, indent=1))
    if not quiet:
        from rich.table import Table

        table = Table(title=f"演示账户（统一密码：{summary['password']}）")
        for col in ("用户名", "角色", "姓名/名称", "所属"):
            table.add_column(col)
        for a in summary["accounts"]:
            table.add_row(a["username"], a["role_label"], a["display_name"], a["where"])
        console.print(table)
        console.print(
            f"演示数据：自然人 {summary['persons']}，法人 {summary['enterprises']}，部门 {summary['departments']}"
        )


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(prompt="用户名")],
    name: Annotated[str, typer.Option(prompt="姓名")],
    region: Annotated[
        str, typer.Option(help="所辖行政区划代码（2/4/6/9/12 位）", prompt="行政区划代码")
    ],
) -> None:
    """Create a platform administrator (asks for the password)."""
    password = os.environ.get("TONGBAN_ADMIN_PASSWORD") or getpass.getpass("密码：")
    settings = get_settings()

    async def run() -> None:
        from tongban.core import audit, scope
        from tongban.core.db import session_scope
        from tongban.identity.service import create_account
        from tongban.regions.repository import get_by_code

        engine, maker = _engine_and_maker(settings)
        try:
            async with session_scope(maker) as s:
                code = scope.normalise(region)
                if await get_by_code(s, code) is None:
                    raise typer.BadParameter(f"行政区划代码不存在：{region}")
                acc = await create_account(
                    s,
                    kind="staff",
                    username=username,
                    password=password,
                    display_name=name,
                    region_code=code,
                    roles=["platform_admin"],
                )
                await audit.record(
                    s,
                    actor="cli",
                    action="account.created",
                    target_type="account",
                    target_id=acc.id,
                    region_code=code,
                    details={"roles": ["platform_admin"]},
                )
        finally:
            await engine.dispose()
        console.print(f"已创建平台管理员 {username}")

    try:
        asyncio.run(run())
    except Exception as e:  # AppError carries a Chinese message
        console.print(f"[red]{getattr(e, 'message', e)}[/]")
        raise typer.Exit(1) from e


@app.command("create-api-token")
def create_api_token_cmd(
    client: Annotated[str, typer.Option(help="调用方系统名称")],
    region: Annotated[str, typer.Option(help="调用方所属行政区划代码")],
    scopes: Annotated[str, typer.Option(help="权限范围，逗号分隔，如 persons:read,regions:read")],
    days: Annotated[int, typer.Option(help="有效天数")] = 365,
) -> None:
    """Issue an API token for a departmental system (shown once)."""
    settings = get_settings()

    async def run() -> str:
        from sqlalchemy import select

        from tongban.core import audit, clock, scope
        from tongban.core.db import session_scope
        from tongban.identity.models import ApiClient
        from tongban.identity.service import create_api_token

        engine, maker = _engine_and_maker(settings)
        try:
            async with session_scope(maker) as s:
                code = scope.normalise(region)
                c = (
                    await s.execute(select(ApiClient).where(ApiClient.name == client))
                ).scalar_one_or_none()
                if c is None:
                    c = ApiClient(name=client, region_code=code)
                    s.add(c)
                    await s.flush()
                token = await create_api_token(
                    s,
                    client=c,
                    scopes=[x.strip() for x in scopes.split(",") if x.strip()],
                    expires_at=clock.now() + dt.timedelta(days=days),
                )
                await audit.record(
                    s,
                    actor="cli",
                    action="api_token.created",
                    target_type="api_client",
                    target_id=c.id,
                    region_code=code,
                    details={"scopes": scopes},
                )
                return token
        finally:
            await engine.dispose()

    try:
        token = asyncio.run(run())
    except Exception as e:
        console.print(f"[red]{getattr(e, 'message', e)}[/]")
        raise typer.Exit(1) from e
    console.print(f"访问令牌（只显示这一次，请妥善保存）：\n{token}")


@app.command("import-regions")
def import_regions_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="统计用区划代码 CSV（乡镇 streets.csv 或村 villages.csv[.gz]）",
        ),
    ],
) -> None:
    """Import townships or villages from the statistics-bureau CSV layout."""
    settings = get_settings()

    async def run() -> object:
        from tongban.regions.service import import_regions

        engine, maker = _engine_and_maker(settings)
        try:
            with _progress() as progress:
                task = progress.add_task(f"导入 {file.name}", total=None)

                def cb(done: int, total: int | None = None) -> None:
                    progress.update(task, completed=done, total=total)

                return await import_regions(maker, file, progress=cb)
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(run())
    except Exception as e:
        console.print(f"[red]{getattr(e, 'message', e)}[/]")
        details = getattr(e, "details", None)
        if details:
            for d in details[:50]:
                console.print(f"  {d}")
        raise typer.Exit(1) from e
    console.print(f"导入完成：{result}")


@catalogue_app.command("import")
def catalogue_import(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="xlsx 模板，或 CSV（基本目录、实施清单、四川事项清单）",
        ),
    ],
    layout: Annotated[str, typer.Option(help="auto、template 或 sichuan-list")] = "auto",
    region: Annotated[
        str | None,
        typer.Option(
            help="实施区划代码（事项清单按此区划建立实施清单；也决定以哪个省的管理员身份导入）"
        ),
    ] = None,
    publish: Annotated[bool, typer.Option("--publish/--no-publish", help="导入后直接发布")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查，不写入")] = False,
) -> None:
    """Import base items and implementation entries; every row is checked before anything is written."""
    settings = get_settings()

    async def run() -> ImportReport:
        from tongban.catalogue import io
        from tongban.core.db import session_scope

        sources = [io.Source(f.name, f.read_bytes()) for f in files]
        where = region or _single_province(io.regions_in(sources))
        actor = io.command_line_actor(where)
        engine, maker = _engine_and_maker(settings)
        try:
            with _progress() as progress:
                task = progress.add_task(f"导入 {'、'.join(f.name for f in files)}", total=None)

                def cb(done: int, total: int | None = None) -> None:
                    progress.update(task, completed=done, total=total)

                async with session_scope(maker) as s:
                    return await io.import_catalogue(
                        s,
                        actor,
                        sources,
                        layout=layout,
                        region_code=region,
                        publish=publish,
                        dry_run=dry_run,
                        progress=cb,
                    )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except Exception as e:
        console.print(f"[red]{getattr(e, 'message', e)}[/]")
        found = getattr(e, "report", None)
        for issue in getattr(found, "errors", [])[:200]:
            console.print(f"  [red]✗[/] {issue}")
        if found is not None and found.error_count > 200:
            console.print(f"  …… 共 {found.error_count} 处错误")
        raise typer.Exit(1) from e
    _print_import_report(report)


def _single_province(regions: set[str]) -> str:
    provinces = {r[:2] for r in regions}
    if len(provinces) != 1:
        raise typer.BadParameter("无法从文件确定所属省份，请用 --region 指定区划代码")
    return provinces.pop()


def _print_import_report(r: ImportReport) -> None:
    console.print(
        ("[yellow]检查通过，未写入：[/]" if r.dry_run else "[green]导入完成：[/]") + r.summary()
    )
    if r.codes:
        console.print(f"实施编码：完整 {r.codes['complete']}，不完整 {r.codes['incomplete']}")
    if r.defaults:
        console.print("要素待补充（按默认值填写）：" + "；".join(r.defaults))
    for w in r.warnings[:50]:
        console.print(f"  [yellow]![/] {w}")
    if r.warning_count > 50:
        console.print(f"  …… 共 {r.warning_count} 条提示")


@catalogue_app.command("export")
def catalogue_export(
    file: Annotated[
        Path,
        typer.Argument(
            help="输出文件：.xlsx，或 .csv（写出 <名>.基本目录.csv 和 <名>.实施清单.csv）"
        ),
    ],
    region: Annotated[str, typer.Option(help="导出该区划（含下级）的实施清单及其基本目录")] = "",
) -> None:
    """Export the catalogue of a region in the import template."""
    settings = get_settings()
    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        raise typer.BadParameter("输出文件应以 .xlsx 或 .csv 结尾")
    if not region:
        raise typer.BadParameter("请用 --region 指定区划代码（如 37 或 370102）")

    async def run() -> dict[str, bytes]:
        from tongban.catalogue import io

        engine, maker = _engine_and_maker(settings)
        try:
            async with maker() as s:
                return await io.export_catalogue(
                    s, io.command_line_actor(region), fmt=fmt, region_code=region
                )
        finally:
            await engine.dispose()

    try:
        files = asyncio.run(run())
    except Exception as e:
        console.print(f"[red]{getattr(e, 'message', e)}[/]")
        raise typer.Exit(1) from e
    written = []
    for name, data in files.items():
        out = file if fmt == "xlsx" else file.with_name(f"{file.stem}.{name}")
        out.write_bytes(data)
        written.append(str(out))
    console.print("已导出：" + "、".join(written))


@app.command()
def check() -> None:
    """Check settings, database, migrations and which calendar years are known."""
    ok = True
    try:
        settings = get_settings()
        console.print(
            f"[green]✓[/] 配置有效（数据目录 {settings.data_dir}，数据库 {'SQLite' if settings.is_sqlite else 'PostgreSQL'}）"
        )
    except Exception as e:
        console.print(f"[red]✗ 配置无效：{e}[/]")
        raise typer.Exit(1) from e

    async def run() -> bool:
        from tongban.core.db import ping
        from tongban.core.migrate import current_and_head
        from tongban.core.workdays import known_years

        good = True
        engine, maker = _engine_and_maker(settings)
        try:
            try:
                await ping(engine)
                console.print("[green]✓[/] 数据库可连接")
            except Exception as e:
                console.print(f"[red]✗ 数据库无法连接：{e}[/]")
                return False
            cur, head = await current_and_head(engine)
            if cur == head:
                console.print(f"[green]✓[/] 数据库结构为最新版本（{head}）")
            else:
                console.print(
                    f"[red]✗ 数据库结构版本 {cur}，最新为 {head}：请运行 tongban migrate[/]"
                )
                good = False
            async with maker() as s:
                years = await known_years(s)
            this_year = dt.date.today().year  # noqa: DTZ011 - a calendar year, not an instant
            span = f"{min(years)}–{max(years)}" if years else "无"
            if this_year in years and this_year + 1 in years:
                console.print(f"[green]✓[/] 工作日历已知年份：{span}")
            elif this_year in years:
                console.print(
                    f"[yellow]! 工作日历已知年份：{span}；{this_year + 1} 年尚未录入，请在国务院办公厅发布放假安排后录入[/]"
                )
            else:
                console.print(
                    f"[red]✗ 工作日历缺少 {this_year} 年：期限计算将报错，请录入当年放假安排[/]"
                )
                good = False
        finally:
            await engine.dispose()
        return good

    ok = asyncio.run(run())
    raise typer.Exit(0 if ok else 1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Verify the hash chains of the audit log; list every edited, deleted or inserted entry."""
    settings = get_settings()

    async def run():
        from tongban.core.audit import verify

        engine, maker = _engine_and_maker(settings)
        try:
            async with maker() as s:
                return await verify(s)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    if report.ok:
        console.print(f"[green]✓ 审计日志完整[/]：{report.chains} 条链，{report.entries} 条记录")
        return
    console.print(
        f"[red]✗ 审计日志发现 {len(report.problems)} 处问题[/]（{report.chains} 条链，{report.entries} 条记录）："
    )
    for p in report.problems:
        console.print(f"  [{p.kind}] {p.message}")
    raise typer.Exit(2)


@app.command("docs-config")
def docs_config(
    out: Annotated[Path, typer.Option(help="输出文件")] = Path("docs/configuration.md"),
) -> None:
    """Regenerate docs/configuration.md from the settings class."""
    from tongban.core.settings_doc import render_markdown

    out.write_text(render_markdown())
    console.print(f"已写入 {out}")


licences_app = typer.Typer(help="电子证照：证照汇聚（历史证照批量导入）", no_args_is_help=True)
app.add_typer(licences_app, name="licences")


@licences_app.command("import")
def licences_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV 或 xlsx：证照编号、持证主体、持证主体代码、颁证日期……",
        ),
    ],
    type_code: Annotated[str, typer.Option("--type", help="证照类型代码（21 位）")],
    department: Annotated[int, typer.Option("--department", help="颁发部门 id")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验，不写入")] = False,
) -> None:
    """证照汇聚: check every row, then import and seal chunk by chunk (an interrupted run resumes)."""
    from tongban.licences import bulk, config

    settings = get_settings()
    config.configure(settings)

    async def run() -> bulk.ImportReport:
        engine, maker = _engine_and_maker(settings)
        try:
            with _progress() as progress:
                task = progress.add_task(f"导入 {file.name}", total=None)
                return await bulk.import_file(
                    maker,
                    file,
                    type_code=type_code,
                    department_id=department,
                    dry_run=dry_run,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except Exception as e:
        console.print(f"[red]{getattr(e, 'message', e)}[/]")
        found = getattr(e, "report", None)
        for err in getattr(found, "errors", [])[:200]:
            console.print(f"  [red]✗[/] {err}")
        if found is not None and found.error_count > 200:
            console.print(f"  …… 共 {found.error_count} 处错误")
        raise typer.Exit(1) from e
    if report.resumed_from:
        console.print(f"从第 {report.resumed_from} 行继续（上次导入中断）")
    console.print(("[yellow]" if report.dry_run else "[green]") + report.summary() + "[/]")
    for w in report.warnings[:20]:
        console.print(f"  [yellow]![/] {w}")
    console.print(json.dumps(report.to_dict() | {"errors": []}, ensure_ascii=False))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
