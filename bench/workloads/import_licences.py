"""``import-licences``: 证照汇聚 — historical licences imported in bulk, sealed.

Prepare (a script run in the run's environment, through the product's own
services): one department with its electronic seal (the deployment's
``TONGBAN_LICENCE_ALGORITHM``, Ed25519 unless the run sets it), one licence
type, and a department administrator; then, in this process, ``ROWS`` CSV
rows of licences with distinct 证照编号 (valid 公民身份号码 from a pool of
holders), cut into files of ``ROWS_PER_FILE`` rows.

On PostgreSQL the server runs two processes (``TONGBAN_WEB_WORKERS=2``, one
per core of this machine; ``--set TONGBAN_WEB_WORKERS=1`` for one; SQLite keeps
one). Each client signs in
as the administrator and sends its own files, one after
another: ``POST /api/v1/licence-imports?type_code=…&department_id=…`` with the
CSV as the body. The server checks every row, then for each chunk of rows
skips numbers already there, makes the 流水号 and identifiers, signs
each licence twice (the SES_Signature and the QR payload) and writes the
licences and their history rows (``COPY`` on PostgreSQL), with one audit
entry — one transaction per file. A response counts only if it imported every
row of its file (a re-sent file imports nothing: that is an error here, and
there are enough files for the run). ``rps`` is licences per second
(``items_per_request``).

Ceiling: the same rows, already signed, written through the raw driver in
chunks of ``ROWS_PER_FILE`` (the skip check, the ids, ``COPY`` of
licences and history, commit) — the database's side of the work without the
signing, the check or HTTP.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.ceiling import pg_loop, sqlite_loop  # noqa: E402
from bench.client import HTTPConnection, Request, Response, json_request  # noqa: E402
from bench.workloads import Ceiling, Context, Workload  # noqa: E402

IMPORTS = "/api/v1/licence-imports"
ROWS_PER_FILE = int(os.environ.get("TONGBAN_BENCH_IMPORT_FILE_ROWS", "500"))
ROWS = int(os.environ.get("TONGBAN_BENCH_IMPORT_ROWS", "240000"))
HOLDERS = 2000
from bench.workloads._licences import REGION, food_licence_issuer  # noqa: E402

USERNAME, PASSWORD = "bench.import", "Bench@import2026"
HEADER = ["证照编号", "持证主体", "持证主体代码", "颁证日期", "经营者名称", "经营场所", "经营项目"]


@dataclass(frozen=True, slots=True)
class ImportRequest(Request):
    """A file import that must import every one of its ``rows``."""

    rows: int = 0

    def check(self, resp: Response) -> str | None:
        err = Request.check(self, resp)
        if err is not None:
            return err
        try:
            got = resp.json().get("imported")
        except Exception:
            return f"POST {IMPORTS} -> {resp.status} unreadable body {resp.body[:200]!r}"
        if got != self.rows:
            return f"POST {IMPORTS} imported {got} of {self.rows} rows (the run ran out of fresh files?)"
        return None


def _files(n_rows: int, per_file: int) -> list[bytes]:
    from tongban.core.identifiers import make_resident_id

    holders = [
        make_resident_id(
            REGION[:6],
            birth_date=dt.date(1960, 1, 1) + dt.timedelta(days=11 * k),
            sequence=k % 998 + 1,
        )
        for k in range(HOLDERS)
    ]
    out = []
    for start in range(0, n_rows, per_file):
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(HEADER)
        for i in range(start, min(start + per_file, n_rows)):
            w.writerow(
                [
                    f"JY1370102{i:09d}",
                    f"存量持证人{i % HOLDERS:04d}",
                    holders[i % HOLDERS],
                    f"20{15 + i % 10}-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                    f"泉城小吃店第{i}分店",
                    f"济南市历下区泉城路 {i % 500 + 1} 号",
                    "热食类食品制售",
                ]
            )
        out.append(buf.getvalue().encode("utf-8"))
    return out


class ImportLicences(Workload):
    description = (
        "POST /api/v1/licence-imports with CSV files of historical licences (sealed on import)"
    )
    items_per_request = ROWS_PER_FILE
    unit = "licences"

    def prepare(self, ctx: Context) -> None:
        ctx.env.setdefault("TONGBAN_LICENCE_ALGORITHM", "ed25519")
        if ctx.db == "postgresql":
            # Signing is CPU work: a deployment importing in bulk runs a server process
            # per core. Two here (this machine's cores) unless the run sets it (--set …=1).
            # (SQLite, embedded, keeps its one process: one writer to one file.)
            ctx.env.setdefault("TONGBAN_WEB_WORKERS", "2")
        out = ctx.work_dir / "import-setup.json"
        proc = subprocess.run(
            [ctx.python, str(Path(__file__).resolve()), str(out)],
            env=ctx.env,
            cwd=ctx.work_dir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"preparing the import failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
            )
        ctx.state["setup"] = json.loads(out.read_text(encoding="utf-8"))
        ctx.state["files"] = _files(ROWS, ROWS_PER_FILE)
        print(
            f"[bench] {len(ctx.state['files'])} files of {ROWS_PER_FILE} licences; seal "
            f"{ctx.state['setup']['algorithm']}",
            file=sys.stderr,
        )

    def _path(self, ctx: Context, n: int) -> str:
        s = ctx.state["setup"]
        return (
            IMPORTS
            + "?"
            + urlencode(
                {
                    "type_code": s["type_code"],
                    "department_id": s["department_id"],
                    "file_name": f"存量证照-{n:05d}.csv",
                }
            )
        )

    async def setup_client(self, ctx: Context, index: int, conn: HTTPConnection) -> None:
        login = json_request(
            "POST",
            "/api/v1/auth/login",
            {"username": USERNAME, "password": PASSWORD},
            expect=(200,),
            expect_cookie="tongban_session",
        )
        resp = await conn.request(login)
        err = login.check(resp)
        if err:
            raise SystemExit(f"client {index}: sign-in failed: {err}")
        ctx.state.setdefault("csrf", {})[index] = resp.json()["csrf_token"]

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        files = ctx.state["files"]
        csrf = ctx.state["csrf"][index]
        mine = range(index, len(files), ctx.clients)
        return [
            ImportRequest(
                "POST",
                self._path(ctx, n),
                (("content-type", "text/csv"), ("x-csrf-token", csrf)),
                files[n],
                (201,),
                None,
                rows=files[n].count(b"\n") - 1,
            )
            for n in mine
        ]

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        """The database's side of an import chunk, rows already signed (copies of a stored licence)."""
        per = ROWS_PER_FILE
        what = (
            f"one chunk of {per} signed licences: skip check, ids, COPY licences + history, "
            f"commit — reported per licence"
        )
        if ctx.db == "sqlite":
            import sqlite3

            template = _template_sqlite(ctx.sqlite_path)

            def op(conn: sqlite3.Connection, i: int) -> None:
                lic, hist = _rows(template, i, per)
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    f"SELECT number, type_code FROM licence WHERE source = 'import' AND number IN ({','.join('?' * per)})",  # noqa: S608 - placeholders only
                    [r[template["cols"].index("number")] for r in lic],
                ).fetchall()
                conn.executemany(template["insert_licence"], lic)
                conn.executemany(template["insert_history"], hist)
                conn.execute("COMMIT")

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            import asyncpg

            conn0 = await asyncpg.connect(ctx.asyncpg_dsn)
            try:
                template = await _template_pg(conn0)
            finally:
                await conn0.close()

            async def pg_op(conn: Any, i: int) -> None:
                lic, hist = _rows(template, i, per)
                numbers = [r[template["cols"].index("number")] for r in lic]
                async with conn.transaction():
                    await conn.fetch(
                        "SELECT number, type_code FROM licence WHERE source = 'import' AND number = ANY($1::text[])",
                        numbers,
                    )
                    ids = [
                        r[0]
                        for r in await conn.fetch(
                            "SELECT nextval(pg_get_serial_sequence('licence', 'id')) FROM generate_series(1, $1)",
                            per,
                        )
                    ]
                    lic = [(ids[k], *row[1:]) for k, row in enumerate(lic)]
                    hist = [(ids[k], *row[1:]) for k, row in enumerate(hist)]
                    await conn.copy_records_to_table(
                        "licence", records=lic, columns=template["cols"]
                    )
                    await conn.copy_records_to_table(
                        "licence_history", records=hist, columns=template["hcols"]
                    )

            result = await pg_loop(ctx, pg_op, clients, seconds, what=what)
        result.notes.append(f"{result.ops_per_s:,.1f} chunks/s × {per} licences")
        result.ops_per_s *= per
        result.ops *= per
        if "setup" in ctx.state:
            result.notes.append(f"seal algorithm {ctx.state['setup']['algorithm']}")
        return result


WORKLOAD = ImportLicences()


# -- the ceiling's rows: copies of a licence the run imported ---------------------------------------

_counter = iter(range(1, 1 << 62))


def _rows(
    template: dict[str, Any], i: int, per: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    cols, hcols = template["cols"], template["hcols"]
    lic_rows, hist_rows = [], []
    for _ in range(per):
        n = next(_counter)
        row = dict(template["licence"])
        row.update(
            number=f"C{n:012d}",
            identifier=f"ceiling.{os.getpid()}.{n}",
            serial=f"C{n:012d}",
            type_code="CEILING00000000000001",
        )
        lic_rows.append(tuple(row.get(c) for c in cols))
        h = dict(template["history"])
        h["identifier"] = row["identifier"]
        hist_rows.append(tuple(h.get(c) for c in hcols))
    if template.get("sqlite"):  # ids from SQLite itself; the history points at them after insert
        return lic_rows, hist_rows
    return [(0, *r[1:]) for r in lic_rows], [(0, *r[1:]) for r in hist_rows]


async def _template_pg(conn: Any) -> dict[str, Any]:
    cols = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'licence' ORDER BY ordinal_position"
        )
    ]
    hcols = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'licence_history' ORDER BY ordinal_position"
        )
    ]
    hcols = ["licence_id", *[c for c in hcols if c not in ("id", "licence_id")]]
    cols = ["id", *[c for c in cols if c != "id"]]
    lic = await conn.fetchrow(f"SELECT {', '.join(cols)} FROM licence ORDER BY id DESC LIMIT 1")  # noqa: S608 - column lists read from the catalogue, no input
    if lic is None:
        raise RuntimeError("no imported licence to copy for the ceiling")
    sql = f"SELECT {', '.join(hcols)} FROM licence_history WHERE licence_id = $1"  # noqa: S608 - catalogue names
    hist = await conn.fetchrow(sql, lic["id"])
    return {"cols": cols, "hcols": hcols, "licence": dict(lic), "history": dict(hist)}


def _template_sqlite(path: Path) -> dict[str, Any]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.row_factory = sqlite3.Row
        cols = [r[1] for r in conn.execute("PRAGMA table_info(licence)") if r[1] != "id"]
        hcols = [
            r[1] for r in conn.execute("PRAGMA table_info(licence_history)") if r[1] not in ("id",)
        ]
        lic = conn.execute(
            f"SELECT id, {', '.join(cols)} FROM licence ORDER BY id DESC LIMIT 1"  # noqa: S608 - column lists read from the catalogue, no input
        ).fetchone()
        if lic is None:
            raise RuntimeError("no imported licence to copy for the ceiling")
        sql = f"SELECT {', '.join(hcols)} FROM licence_history WHERE licence_id = ?"  # noqa: S608 - catalogue names
        hist = conn.execute(sql, (lic["id"],)).fetchone()
    finally:
        conn.close()
    hist_d = dict(hist)
    hcols_no_id = [c for c in hcols if c != "licence_id"]
    return {
        "sqlite": True,
        "cols": cols,
        "hcols": hcols_no_id,
        "licence": dict(lic),
        "history": hist_d,
        "insert_licence": f"INSERT INTO licence ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",  # noqa: S608 - column lists read from the catalogue, no input
        "insert_history": (
            f"INSERT INTO licence_history (licence_id, {', '.join(hcols_no_id)}) "  # noqa: S608 - column lists read from the catalogue, no input
            f"VALUES (last_insert_rowid(), {', '.join('?' * len(hcols_no_id))})"
        ),
    }


# -- the script (runs with the run's TONGBAN_* environment) ---------------------------------------


async def _setup(out: Path) -> None:
    import tongban.models  # noqa: F401 -- every table, for the foreign keys
    from tongban.core.db import create_engine, make_sessionmaker, session_scope
    from tongban.identity import service as identity
    from tongban.licences import config

    config.configure(None)
    settings = config.settings()
    engine = create_engine()
    maker = make_sessionmaker(engine)
    try:
        async with session_scope(maker) as s:
            dept, code = await food_licence_issuer(s, serial=2, label="汇聚基准")
            await identity.create_account(
                s,
                kind="staff",
                username=USERNAME,
                password=PASSWORD,
                display_name="汇聚管理员",
                region_code=REGION,
                department_id=dept.id,
                roles=["dept_admin"],
            )
            result = {
                "algorithm": settings.licence_algorithm,
                "type_code": code,
                "department_id": dept.id,
            }
    finally:
        await engine.dispose()
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    import asyncio

    asyncio.run(_setup(Path(sys.argv[1])))
