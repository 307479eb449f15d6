"""The web process's own CPU per case submission, in process (``submit``'s requests).

``bench/inproc.py`` for ``POST /api/v1/cases``: no HTTP server, no client;
the ASGI application is called directly, one request after another on one
event loop, with the requests of ``bench/workloads/submit.py`` (its clients'
sign-ins, their probe submissions, then a fresh ``Idempotency-Key`` per
request and each client's own ~1.6 KB form, clients spread round the 16
implementations of four regions). Use it to compare implementations of the
submission path; ``bench/run.py submit`` gives the figures that count.

    .venv/bin/python bench/inproc_submit.py [--db sqlite|postgresql] [--requests N]
        [--rounds R] [--template DIR]

Per round it prints the process's CPU time per submission, the event-loop
thread's share of it (the rest is the WAL checkpoint thread, SQLite), the
wall time, the cyclic collector's passes and the write-ahead log's size.
``--template DIR`` (SQLite) keeps the prepared database (demo province and
the bench catalogue) in DIR and copies it for every run, so runs of two
versions of the code start from the same file (prepare it once per
schema: with ``PYTHONPATH=OTHER/src`` for another checkout). Under py-spy:

    /tmp/pyspy/bin/py-spy record -r 1000 -f raw -o out.txt -- .venv/bin/python bench/inproc_submit.py
    .venv/bin/python bench/profile_summary.py out.txt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.inproc import call, load_demo, session_cookie  # noqa: E402
from bench.workloads._cases import form_data  # noqa: E402

CASES = "/api/v1/cases"


def prepare(data_dir: Path, url: str, work: Path) -> dict[str, Any]:
    """Migrate, load the demo province and publish the bench catalogue into
    ``data_dir`` (or the PostgreSQL database at ``url``); returns the demo
    accounts and the catalogue setup (as ``bench/workloads/submit.py``)."""
    env, demo = load_demo(data_dir, url, work)
    setup = work / "cases.json"
    subprocess.run([sys.executable, str(ROOT / "bench/workloads/_cases.py"), str(setup)],
                   env=env, check=True, capture_output=True)  # fmt: skip
    return {"demo": demo, "cases": json.loads(setup.read_text(encoding="utf-8"))}


class _GcTimer:
    """Passes of the cyclic collector and the time they took."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.seconds = 0.0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.passes[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._t0

    def take(self) -> tuple[list[int], float]:
        out = (self.passes, self.seconds)
        self.passes, self.seconds = [0, 0, 0], 0.0
        return out


async def drive(args: argparse.Namespace, data_dir: Path, url: str, prepared: dict) -> None:
    os.environ["TONGBAN_DATA_DIR"] = str(data_dir)
    from tongban.core.settings import Settings
    from tongban.web.app import create_app

    demo, setup = prepared["demo"], prepared["cases"]
    settings = Settings(data_dir=data_dir, database_url=url, embedded_worker=False,
                        log_level="WARNING", log_json=True)  # fmt: skip
    app = create_app(settings)
    impls = setup["implementations"]
    run = os.urandom(4).hex()
    async with app.router.lifespan_context(app):
        clients = []
        for index in range(args.clients):
            name = demo["citizens"][index % len(demo["citizens"])]
            body = orjson.dumps({"username": name, "password": demo["password"]})
            status, headers, text = await call(
                app, "POST", "/api/v1/auth/login", [(b"content-type", b"application/json")], body
            )
            if status != 200:
                raise SystemExit(f"sign-in of {name}: {status} {text[:200]!r}")
            person = {**setup["citizens"][name], "username": name}
            form = orjson.dumps(
                {
                    "implementation_id": impls[index % len(impls)]["id"],
                    "form_data": form_data(person, index),
                    "channel": "pc",
                }
            )
            clients.append(
                (
                    [(b"cookie", session_cookie(headers)), (b"content-type", b"application/json")],
                    form,
                )
            )
        serial = 0

        async def submit(i: int) -> tuple[int, bytes]:
            nonlocal serial
            serial += 1
            headers, body = clients[i % len(clients)]
            key = f"in-{run}-{serial:09d}".encode()
            status, _, text = await call(
                app, "POST", CASES, [*headers, (b"idempotency-key", key)], body
            )
            return status, text

        status, text = await submit(0)
        print(f"[inproc] POST {CASES} → {status}: {text[:160]!r}", file=sys.stderr)
        for i in range(args.clients + min(200, args.requests)):
            await submit(i)
        timer = _GcTimer()
        gc.callbacks.append(timer)
        wal = data_dir / "tongban.db-wal"
        per_round = []
        for _round in range(args.rounds):
            if args.pause:  # the checkpoint thread catches up: the next write restarts the log
                await asyncio.sleep(args.pause)
            c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            os0 = os.times()
            for i in range(args.requests):
                status, text = await submit(i)
                if status != 201:
                    raise SystemExit(f"status {status}: {text[:300]!r}")
            cpu, loop_cpu = time.process_time() - c0, time.thread_time() - t0
            wall = time.perf_counter() - w0
            os1 = os.times()
            user, system = os1.user - os0.user, os1.system - os0.system
            passes, gc_s = timer.take()
            n = args.requests
            wal_mb = wal.stat().st_size / 1e6 if wal.exists() else 0.0
            per_round.append(cpu / n * 1e6)
            print(f"submit: {cpu / n * 1e6:7.1f} µs CPU/request (user {user / n * 1e6:6.1f}, "
                  f"system {system / n * 1e6:6.1f}; event loop {loop_cpu / n * 1e6:6.1f}), "
                  f"{wall / n * 1e6:7.1f} µs wall; gc passes {passes} {gc_s * 1e3:.0f} ms; "
                  f"WAL {wal_mb:.1f} MB ({n} requests)", flush=True)  # fmt: skip
        gc.callbacks.remove(timer)
        per_round.sort()
        print(
            f"rounds: min {per_round[0]:.1f}, median {per_round[len(per_round) // 2]:.1f} µs CPU/request"
        )
        if args.keep is not None and not url:  # with the log, before the last close checkpoints it
            shutil.copytree(data_dir, args.keep, dirs_exist_ok=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "pg"), default="sqlite")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--template", type=Path, help="SQLite: keep the prepared database here")
    p.add_argument("--pause", type=float, default=0.0, help="seconds to wait before each round")
    p.add_argument(
        "--keep", type=Path, help="SQLite: copy the database (and its WAL) here at the end"
    )
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tongban-inproc-submit-"))
    try:
        from bench import pg

        with contextlib.ExitStack() as stack:
            data_dir = work / "data"
            if args.db != "sqlite":
                url = stack.enter_context(pg.fresh_database(stack.enter_context(pg.server_url())))
                prepared = prepare(data_dir, url, work)
            elif args.template is not None:
                url = ""
                if not (args.template / "prepared.json").exists():
                    args.template.mkdir(parents=True, exist_ok=True)
                    got = prepare(args.template / "data", url, work)
                    (args.template / "prepared.json").write_text(json.dumps(got), encoding="utf-8")
                prepared = json.loads((args.template / "prepared.json").read_text(encoding="utf-8"))
                shutil.copytree(args.template / "data", data_dir)
            else:
                url = ""
                prepared = prepare(data_dir, url, work)
            try:
                import uvloop

                runner = uvloop.run
            except ImportError:
                runner = asyncio.run
            runner(drive(args, data_dir, url, prepared))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
