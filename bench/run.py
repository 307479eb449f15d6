"""Benchmark harness: ``bench/run.py WORKLOAD [--db sqlite|postgresql]
[--clients N] [--seconds S]``, run with the project's interpreter
(``.venv/bin/python bench/run.py read``).

Starts the real server on 127.0.0.1 with a database of its own, loads the data
the workload needs, drives it with N concurrent keep-alive clients for a
bounded time, measures the same database work through the raw driver (the
ceiling), stops everything it started, and prints a short table and, as the
last line of stdout, one JSON object. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
import uvloop  # noqa: E402

from bench import pg  # noqa: E402
from bench.client import HTTPConnection, LoadResult, drive, gather_limited, timeline  # noqa: E402
from bench.server import DEFAULT_APP, Sampler, Server  # noqa: E402
from bench.workloads import Ceiling, Context, Workload, available, load  # noqa: E402

CONNECT_GAP = 0.02  # seconds between two clients' connections


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Drive the real tongban server with N concurrent clients and compare with the raw database ceiling.",
    )
    p.add_argument("workload", help="one of: " + ", ".join(available()))
    p.add_argument(
        "--db", choices=("sqlite", "postgresql", "pg"), default="sqlite", help="pg: postgresql"
    )
    p.add_argument(
        "--clients", type=int, default=32, help="concurrent keep-alive connections (default 32)"
    )
    p.add_argument("--seconds", type=float, default=10.0, help="measured duration (default 10)")
    p.add_argument(
        "--warmup", type=float, default=1.0, help="seconds driven before measuring (default 1)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TONGBAN_X=VALUE",
        help="extra server setting (repeatable), e.g. --set TONGBAN_SQLITE_SYNCHRONOUS=FULL",
    )
    p.add_argument("--no-ceiling", action="store_true", help="skip the raw-driver ceiling")
    p.add_argument(
        "--timeline",
        action="store_true",
        help="also print the window second by second (requests, p50, p99) and each "
        "connection's mean latency (stderr)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="first wait up to S seconds for the machine to be quiet (other processes under "
        "a quarter of one core for 3 s in a row); on a shared machine",
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="record the server with py-spy during the measured window (py-spy on PATH or in "
        "$PY_SPY; not a project dependency): .svg flame graph, .json speedscope, else raw "
        "collapsed stacks",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the run's temporary folder (server log, database)"
    )
    # for work on the harness itself
    p.add_argument("--app", default=DEFAULT_APP, help=argparse.SUPPRESS)
    p.add_argument("--no-migrate", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.db == "pg":
        args.db = "postgresql"
    if args.clients < 1:
        p.error("--clients must be at least 1")
    if args.seconds <= 0:
        p.error("--seconds must be positive")
    for item in args.set:
        if "=" not in item or not item.startswith("TONGBAN_"):
            p.error(f"--set wants TONGBAN_NAME=VALUE, got {item!r}")
    return args


def server_env(data_dir: Path, database_url: str, extra: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update(
        TONGBAN_DATA_DIR=str(data_dir),
        TONGBAN_DATABASE_URL="" if database_url.startswith("sqlite") else database_url,
        TONGBAN_LOG_LEVEL="WARNING",
        TONGBAN_EMBEDDED_WORKER="true",
        PYTHONUNBUFFERED="1",
    )
    for item in extra:
        k, _, v = item.partition("=")
        env[k] = v
    return env


async def load_phase(
    ctx: Context, wl: Workload, server: Server, args: argparse.Namespace
) -> dict[str, Any]:
    assert server.proc is not None
    sampler = Sampler(server.proc.pid)
    me = psutil.Process()
    conns = [
        HTTPConnection(ctx.host, ctx.port, send_cookies=wl.send_cookies) for _ in range(ctx.clients)
    ]
    try:
        # One after another, CONNECT_GAP apart, as separate clients connect:
        # opened in one burst, every connection went to whichever server
        # worker woke first and a second worker idled (verify: 16 of 16).
        for c in conns:
            await c.connect()
            await asyncio.sleep(CONNECT_GAP)
        t = time.perf_counter()
        await gather_limited(
            [wl.setup_client(ctx, i, c) for i, c in enumerate(conns)], limit=min(8, ctx.clients)
        )
        if ctx.clients:
            log(f"client setup done in {time.perf_counter() - t:.1f} s")
        await wl.after_setup(ctx, conns)
        requests = [wl.make_requests(ctx, i) for i in range(ctx.clients)]
        marks: dict[str, float] = {}

        profiler: list[subprocess.Popen[bytes]] = []

        def window_start() -> None:
            if args.profile:
                profiler.append(start_profiler(args.profile, server.proc.pid, args.seconds))
            c = me.cpu_times()
            marks["client_cpu"] = c.user + c.system
            marks["server_cpu"] = sampler.cpu_seconds()
            marks["machine_cpu"] = machine_busy_seconds()
            marks["wall"] = time.perf_counter()

        sampler.start()  # after the untimed setup: its sign-ins are not the workload
        log(
            f"driving {ctx.clients} clients: {args.warmup:g} s warm-up + {args.seconds:g} s measured"
        )
        result: LoadResult = await drive(
            conns, requests, seconds=args.seconds, warmup=args.warmup, on_window_start=window_start
        )
        c = me.cpu_times()
        server_cpu = (sampler.cpu_seconds() - marks["server_cpu"]) / (
            wall := time.perf_counter() - marks["wall"]
        )
        machine = machine_busy_seconds() - marks["machine_cpu"]
        await sampler.stop()
        for proc in profiler:
            try:
                proc.wait(timeout=30)
                log(f"profile written to {args.profile}")
            except subprocess.TimeoutExpired:
                proc.kill()
        client_cpu = (c.user + c.system - marks["client_cpu"]) / wall
        other_cpu = max(0.0, machine / wall - client_cpu - server_cpu)
        if other_cpu > 0.2:
            log(
                f"warning: other processes used {other_cpu * 100:.0f}% of one core during the "
                f"window ({psutil.cpu_count()} cores): the figures are disturbed"
            )
        return {
            "result": result,
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
            "other_cpu": other_cpu,
            "peak_rss_mb": sampler.peak_rss / 2**20,
        }
    finally:
        await sampler.stop()
        for c in conns:
            c.close()


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine (all cores), not idle."""
    t = psutil.cpu_times()
    return t.user + t.system + sum(getattr(t, k, 0.0) for k in ("nice", "irq", "softirq", "steal"))


def start_profiler(path: str, pid: int, seconds: float) -> subprocess.Popen[bytes]:
    exe = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not exe:
        raise SystemExit(
            "--profile needs py-spy on PATH or in $PY_SPY (pip install py-spy, outside the project)"
        )
    fmt_ = {".svg": "flamegraph", ".json": "speedscope"}.get(Path(path).suffix, "raw")
    cmd = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "250",
        "--nonblocking",
        "--idle",
        "--subprocesses",
        "--format",
        fmt_,
        "--output",
        str(Path(path).resolve()),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def report(
    args: argparse.Namespace, m: dict[str, Any], ceiling: Ceiling | None, ceiling_error: str | None
) -> dict[str, Any]:
    r: LoadResult = m["result"]
    if getattr(args, "timeline", False):
        for line in timeline(r):
            log(line)
    p50, p95, p99 = (r.percentile_ms(q) for q in (50, 95, 99))
    wl = load(args.workload)
    rps = r.rps * wl.items_per_request  # a bulk workload reports its units (e.g. licences/s)
    ceiling_rps = ceiling.ops_per_s if ceiling else None
    ratio = rps / ceiling_rps if ceiling_rps else None
    per_req_us = m["client_cpu"] * r.seconds / r.requests * 1e6 if r.requests else 0.0
    server_us = m["server_cpu"] * r.seconds / r.requests * 1e6 if r.requests else 0.0
    rows = [
        ("workload", args.workload),
        ("db", args.db),
        ("clients", str(args.clients)),
        ("seconds", f"{args.seconds:g} (+{args.warmup:g} warm-up)"),
        ("requests", f"{r.requests:,}"),
        (
            "rps",
            fmt(rps)
            + (
                f" {wl.unit}/s ({fmt(r.rps)} requests/s × {wl.items_per_request:,})"
                if wl.items_per_request != 1
                else ""
            ),
        ),
        ("latency ms", f"p50 {p50:.2f}   p95 {p95:.2f}   p99 {p99:.2f}"),
        ("errors", f"{r.errors:,}"),
        ("server RSS", f"{fmt(m['peak_rss_mb'])} MB peak"),
        (
            "server CPU",
            f"{m['server_cpu'] * 100:.0f}% of one core, {server_us:.0f} µs/request"
            + (f" (≈{1e6 / server_us:,.0f} requests/s per core)" if server_us else ""),
        ),
        ("client CPU", f"{m['client_cpu'] * 100:.0f}% of one core, {per_req_us:.0f} µs/request"),
        (
            "other load",
            f"{m['other_cpu'] * 100:.0f}% of one core used by other processes "
            f"({psutil.cpu_count()} cores)",
        ),
    ]
    if ceiling is not None:
        rows.append(
            (
                "ceiling rps",
                f"{fmt(ceiling.ops_per_s)}  (p50 {ceiling.p50_ms:.3f} ms, p99 {ceiling.p99_ms:.3f} ms)",
            )
        )
        if ceiling.what:
            rows.append(("ceiling op", ceiling.what))
        rows.extend(("", note) for note in ceiling.notes)
    else:
        rows.append(("ceiling rps", ceiling_error or "skipped"))
    rows.append(("ratio", f"{ratio:.3f}" if ratio is not None else "-"))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return {
        "workload": args.workload,
        "db": args.db,
        "clients": args.clients,
        "seconds": args.seconds,
        "rps": round(rps, 1),
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "p99_ms": round(p99, 2),
        "errors": r.errors,
        "server_rss_mb": round(m["peak_rss_mb"], 1),
        "ceiling_rps": round(ceiling_rps, 1) if ceiling_rps else None,
        "ratio": round(ratio, 4) if ratio is not None else None,
    }


def wait_quiet(limit: float) -> None:
    """Wait until other processes leave the machine alone, at most ``limit`` s."""
    start = time.monotonic()
    quiet = 0
    busy = 0.0
    while time.monotonic() - start < limit:
        b0 = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - b0
        quiet = quiet + 1 if busy < 0.25 else 0
        if quiet >= 3:
            log(f"machine quiet after {time.monotonic() - start:.0f} s")
            return
    log(f"machine still busy after {limit:.0f} s ({busy * 100:.0f}% of one core): going ahead")


def run(args: argparse.Namespace) -> tuple[dict[str, Any], Ceiling | None, str | None]:
    """Everything that needs cleaning up happens in here; stdout is
    redirected to stderr meanwhile, so the table and the JSON line printed
    afterwards are all stdout carries."""
    wl = load(args.workload)
    python = sys.executable
    with contextlib.redirect_stdout(sys.stderr), contextlib.ExitStack() as stack:
        work_dir = Path(tempfile.mkdtemp(prefix=f"tongban-bench-{args.workload}-"))
        if args.keep:
            stack.callback(log, f"kept {work_dir}")
        else:
            stack.callback(shutil.rmtree, work_dir, True)
        data_dir = work_dir / "data"
        data_dir.mkdir()
        if args.db == "postgresql":
            database_url = stack.enter_context(
                pg.fresh_database(stack.enter_context(pg.server_url()))
            )
            log(f"database {database_url.rsplit('/', 1)[-1]}")
        else:
            database_url = f"sqlite:///{data_dir / 'tongban.db'}"
        env = server_env(data_dir, database_url, args.set)
        ctx = Context(
            db=args.db,
            database_url=database_url,
            work_dir=work_dir,
            data_dir=data_dir,
            env=env,
            python=python,
            clients=args.clients,
            port=pg.free_port(),
        )
        t = time.perf_counter()
        if not args.no_migrate:
            if not (Path(python).parent / "tongban").exists():
                raise SystemExit(
                    f"{Path(python).parent / 'tongban'} not found: run with the project's .venv/bin/python"
                )
            ctx.cli("migrate")
            log(f"migrated in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        wl.prepare(ctx)
        log(f"prepared in {time.perf_counter() - t:.1f} s")
        if args.wait_quiet > 0:
            wait_quiet(args.wait_quiet)
        server = Server(
            python=python,
            env=env,
            cwd=work_dir,
            port=ctx.port,
            log_path=work_dir / "server.log",
            app=args.app,
            host=ctx.host,
        )
        stack.callback(server.stop)
        server.start()
        log(f"server up in {server.wait_healthy():.1f} s (pid {server.proc.pid}, port {ctx.port})")
        measured = uvloop.run(load_phase(ctx, wl, server, args))
        server.stop()
        result: LoadResult = measured["result"]
        if result.error_samples:
            log("errors, first few:\n  " + "\n  ".join(result.error_samples))
            tail = server.log_tail(3000)
            if tail.strip():
                log("server log tail:\n" + tail)
        ceiling: Ceiling | None = None
        ceiling_error: str | None = None
        if not args.no_ceiling:
            log(f"measuring the raw-driver ceiling for {args.seconds:g} s")
            try:
                me = psutil.Process()
                c0, b0, t0 = me.cpu_times(), machine_busy_seconds(), time.perf_counter()
                ceiling = uvloop.run(wl.ceiling(ctx, args.clients, args.seconds))
                c1, wall = me.cpu_times(), time.perf_counter() - t0
                own = (c1.user + c1.system - c0.user - c0.system) / wall
                rest = (machine_busy_seconds() - b0) / wall - own
                ceiling.notes.insert(
                    0,
                    f"during the ceiling: driver process {own * 100:.0f}% of one core, "
                    f"database server and others {max(0.0, rest) * 100:.0f}%",
                )
            except Exception as e:
                traceback.print_exc()
                ceiling_error = f"failed: {type(e).__name__}: {e}"
        return measured, ceiling, ceiling_error


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # SIGTERM takes the Ctrl-C path: asyncio's runner cancels the run
    # cleanly, then the ExitStack stops the server and the database.
    signal.signal(signal.SIGTERM, lambda _s, _f: os.kill(os.getpid(), signal.SIGINT))
    try:
        measured, ceiling, ceiling_error = run(args)
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        return 130
    except subprocess.CalledProcessError as e:
        log(f"{e.cmd} failed: {e.stderr}")
        return 1
    out = report(args, measured, ceiling, ceiling_error)
    print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
