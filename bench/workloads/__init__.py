"""Workloads: one module each, found by name.

A workload is a module ``bench/workloads/<module>.py`` that defines
``WORKLOAD``, an instance of a ``Workload`` subclass. Its name on the command
line is the module name with ``_`` written as ``-`` (``import_licences.py`` →
``import-licences``). Nothing else needs registering.

The harness calls, in order:

1. ``prepare(ctx)`` — after ``tongban migrate``, before the server starts:
   load the data the workload needs through the product's CLI or service
   functions (``ctx.cli(...)``); bulk scale data may be inserted directly.
2. ``setup_client(ctx, index, conn)`` — once per client after the server is
   up, on that client's own connection (e.g. sign in; the cookie stays in
   ``conn.cookies``). Not timed. Then ``after_setup(ctx, conns)``, once.
3. ``make_requests(ctx, index)`` — the requests client ``index`` sends, cycled
   back to back for the whole run. Encoded once; re-encoded only when the
   client's cookies change.
4. ``ceiling(ctx, clients, seconds)`` — after the server stopped: the same
   database work done directly through the raw driver (``bench.ceiling``
   helpers), returning a ``Ceiling``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.client import HTTPConnection, Request


@dataclass
class Ceiling:
    """Raw-driver throughput for the workload's database work."""

    ops_per_s: float
    ops: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    what: str = ""  # one line: what one operation is
    notes: list[str] = field(default_factory=list)  # extra figures for the table


@dataclass
class Context:
    """What a workload sees of the run."""

    db: str  # "sqlite" | "postgresql"
    database_url: str  # as the product reads it: sqlite:///… or postgresql://…
    work_dir: Path  # the run's temporary folder (removed at the end)
    data_dir: Path  # TONGBAN_DATA_DIR
    env: dict[str, str]  # environment of the server and of ctx.cli()
    python: str  # the project's interpreter
    clients: int
    host: str = "127.0.0.1"
    port: int = 0
    state: dict[str, Any] = field(default_factory=dict)  # the workload's own

    @property
    def sqlite_path(self) -> Path:
        assert self.db == "sqlite", "sqlite_path on a PostgreSQL run"
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def asyncpg_dsn(self) -> str:
        """The PostgreSQL URL in the form asyncpg accepts."""
        assert self.db == "postgresql", "asyncpg_dsn on a SQLite run"
        _scheme, _, rest = self.database_url.partition("://")
        return "postgresql://" + rest

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``tongban ARGS`` with the run's environment; raise with its
        output on failure."""
        cmd = [str(Path(self.python).parent / "tongban"), *args]
        proc = subprocess.run(
            cmd, env=self.env, cwd=self.work_dir, capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
                f"\n--- stderr\n{proc.stderr[-4000:]}"
            )
        return proc

    def run_script(self, script: str | Path, what: str, *, timeout: float = 600) -> Any:
        """Run ``python SCRIPT OUT.json`` with the run's environment (a
        workload's setup through the product's own services, before the
        server starts) and return the JSON it wrote to ``OUT.json``; raise
        with its output, saying ``what`` failed, when it exits non-zero."""
        script = Path(script).resolve()
        out = self.work_dir / f"{script.stem.lstrip('_')}-setup.json"
        proc = subprocess.run(
            [self.python, str(script), str(out)],
            env=self.env, cwd=self.work_dir, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


class Workload:
    """Base class; override what the workload needs."""

    description: str = ""
    #: send the client's cookies with each request (off for sign-in, where
    #: every request must arrive anonymous)
    send_cookies: bool = True
    #: units of work one successful request carries (a bulk import: its rows);
    #: the reported ``rps`` and ``ratio`` are in these units (``unit``)
    items_per_request: int = 1
    unit: str = "requests"

    def prepare(self, ctx: Context) -> None:
        """Load data into the fresh database (server not running yet)."""

    async def setup_client(self, ctx: Context, index: int, conn: HTTPConnection) -> None:
        """Per-client setup on the client's own connection (not timed)."""

    async def after_setup(self, ctx: Context, conns: list[HTTPConnection]) -> None:
        """Once every client is set up, before the warm-up (not timed): e.g.
        time single requests on a server with nothing else to do."""

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        raise NotImplementedError

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        raise NotImplementedError


def available() -> list[str]:
    """Workload names, from the modules in this package."""
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )


def load(name: str) -> Workload:
    if name not in available():
        raise SystemExit(f"unknown workload {name!r}; available: {', '.join(available())}")
    module = importlib.import_module(f"bench.workloads.{name.replace('-', '_')}")
    wl = module.WORKLOAD
    if not isinstance(wl, Workload):
        raise SystemExit(f"bench/workloads/{module.__name__}: WORKLOAD is not a Workload")
    return wl
