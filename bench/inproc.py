"""The application's own cost per request, in process: no HTTP server, no client.

``bench/run.py`` measures the real server end to end; on a shared two-core
machine its figures move with whatever else runs. This calls the ASGI
application directly (one request after another, on one event loop) and
reports the CPU time per request of the application alone, which hardly
moves with the machine's load. Use it to compare implementations of a hot
path; use ``bench/run.py`` for the figures that count.

    .venv/bin/python bench/inproc.py [--db sqlite|postgresql] [--requests N] [--path PATH]

It loads the demo province into a fresh database (``tongban migrate`` and
``tongban demo``, as ``bench/run.py read`` does), signs in one demo citizen
per client slot through the API, then repeats ``GET PATH`` (default
``/api/v1/me/records``) cycling over the signed-in citizens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


async def call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, list, bytes]:
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    sent = False
    out: dict[str, Any] = {"status": 0, "headers": [], "body": b""}

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = message.get("headers", [])
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["headers"], out["body"]


def session_cookie(headers: list[tuple[bytes, bytes]]) -> bytes:
    for k, v in headers:
        if k.lower() == b"set-cookie" and v.startswith(b"tongban_session="):
            return v.split(b";", 1)[0]
    raise SystemExit("sign-in set no session cookie")


async def drive(args: argparse.Namespace, data_dir: Path, database_url: str, demo: dict) -> None:
    os.environ["TONGBAN_DATA_DIR"] = str(data_dir)
    from tongban.core.settings import Settings
    from tongban.web.app import create_app

    settings = Settings(data_dir=data_dir, database_url=database_url, embedded_worker=False,
                        log_level="WARNING", log_json=True)  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        cookies = []
        for name in demo["citizens"][: args.clients]:
            body = json.dumps({"username": name, "password": demo["password"]}).encode()
            status, headers, text = await call(
                app, "POST", "/api/v1/auth/login", [(b"content-type", b"application/json")], body
            )
            if status != 200:
                raise SystemExit(f"sign-in of {name}: {status} {text[:200]!r}")
            cookies.append([(b"cookie", session_cookie(headers))])
        status, _, text = await call(app, "GET", args.path, cookies[0])
        print(
            f"[inproc] {args.path} → {status}, {len(text)} bytes: {text[:160]!r}", file=sys.stderr
        )
        for i in range(min(200, args.requests)):
            await call(app, "GET", args.path, cookies[i % len(cookies)])
        for _round in range(args.rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(args.requests):
                status, _, _ = await call(app, "GET", args.path, cookies[i % len(cookies)])
                if status != 200:
                    raise SystemExit(f"status {status}")
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            print(f"{args.path}: {cpu / args.requests * 1e6:7.1f} µs CPU/request, "
                  f"{wall / args.requests * 1e6:7.1f} µs wall ({args.requests} requests)")  # fmt: skip


def load_demo(data_dir: Path, url: str, work: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """``tongban migrate`` and ``tongban demo`` into ``data_dir`` (or the
    PostgreSQL database at ``url``): the environment they ran with and the
    demo accounts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update(TONGBAN_DATA_DIR=str(data_dir), TONGBAN_DATABASE_URL=url,
               TONGBAN_LOG_LEVEL="WARNING", TONGBAN_EMBEDDED_WORKER="false")  # fmt: skip
    tongban = str(Path(sys.executable).parent / "tongban")
    subprocess.run([tongban, "migrate"], env=env, check=True, capture_output=True)
    accounts = work / "demo.json"
    subprocess.run([tongban, "demo", "--accounts-json", str(accounts), "--quiet"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    return env, json.loads(accounts.read_text(encoding="utf-8"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "pg"), default="sqlite")
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--path", default="/api/v1/me/records")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tongban-inproc-"))
    try:
        import contextlib

        from bench import pg

        with contextlib.ExitStack() as stack:
            if args.db == "sqlite":
                url = ""
            else:
                url = stack.enter_context(pg.fresh_database(stack.enter_context(pg.server_url())))
            _env, demo = load_demo(work / "data", url, work)
            try:
                import uvloop

                runner = uvloop.run
            except ImportError:
                runner = asyncio.run
            runner(drive(args, work / "data", url, demo))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
