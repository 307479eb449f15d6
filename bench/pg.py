"""PostgreSQL for a benchmark run: a server to use, and a fresh database on it.

``server_url()`` picks the server: ``TONGBAN_BENCH_DATABASE_URL``, else
``TONGBAN_TEST_DATABASE_URL``, else a throw-away cluster: ``dev.py``'s
``throwaway_postgres()`` when the repository has it (the same cluster the
test suite uses), otherwise ``throwaway_cluster()`` below (initdb in a
temporary folder, trust auth, 127.0.0.1 on a free port, stopped and deleted
afterwards). ``fresh_database(url)`` creates
``tongban_bench_<random>`` on it and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise SystemExit(
        "PostgreSQL binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
        "install postgresql or set TONGBAN_BENCH_DATABASE_URL"
    )


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a private cluster; yield its URL (database ``postgres``, user
    ``tongban``, no password); stop and delete it on exit."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="tongban-bench-pg-"))
    data = root / "data"
    log = root / "server.log"
    port = free_port()
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
        run = {"check": True, "capture_output": True, "text": True}
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "--auth=trust",
                    "-U",
                    "tongban",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-instructions",
                ]
            ),
            **run,
        )
        opts = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            "-c shared_buffers=128MB"
        )
        print(
            f"[bench] starting a throw-away PostgreSQL cluster on 127.0.0.1:{port}", file=sys.stderr
        )
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    opts,
                ]
            ),
            start_new_session=True,  # Ctrl-C on the terminal must not reach the postmaster
            **run,
        )
        started = True
        yield f"postgresql://tongban@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as e:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SystemExit(f"PostgreSQL failed: {e.cmd}\n{e.stdout}\n{e.stderr}\n{tail}") from e
    finally:
        if started:
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(data)]),
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _plain(url: str) -> str:
    """asyncpg wants postgresql:// without a SQLAlchemy driver suffix."""
    _scheme, sep, rest = url.partition("://")
    return "postgresql" + sep + rest


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create ``tongban_bench_<random>`` on the server and yield its URL
    (``postgresql://…``); drop it on exit, even with sessions still open."""
    import asyncpg

    name = f"tongban_bench_{secrets.token_hex(4)}"
    admin = _plain(server_url)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin, name)
    finally:
        try:
            asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except (OSError, asyncpg.PostgresError) as e:
            print(f"[bench] could not drop database {name}: {e}", file=sys.stderr)


@contextlib.contextmanager
def _dev_cluster() -> Iterator[str]:
    """dev.py's throw-away cluster; its progress lines go to stderr (our
    stdout ends with the JSON line)."""
    import dev

    cm = dev.throwaway_postgres()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            cluster = cm.__enter__()
    except dev.DevError as e:
        raise SystemExit(f"PostgreSQL: {e.en} {e.hint}") from e
    try:
        yield cluster.url
    except BaseException:
        with contextlib.redirect_stdout(sys.stderr):
            if not cm.__exit__(*sys.exc_info()):
                raise
    else:
        with contextlib.redirect_stdout(sys.stderr):
            cm.__exit__(None, None, None)


def _dev_has_cluster() -> bool:
    try:
        import dev
    except ImportError:
        return False
    return callable(getattr(dev, "throwaway_postgres", None))


@contextlib.contextmanager
def server_url() -> Iterator[str]:
    url = os.environ.get("TONGBAN_BENCH_DATABASE_URL") or os.environ.get(
        "TONGBAN_TEST_DATABASE_URL"
    )
    if url:
        yield url
        return
    cluster = _dev_cluster() if _dev_has_cluster() else throwaway_cluster()
    with cluster as url:
        yield url
