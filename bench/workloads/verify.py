"""``verify``: the licence verification API (证照核验), as a venue's or a bank's system calls it.

Prepare (a script run in the run's environment, through the product's own
services): one department with its electronic seal, one licence type, and
``LICENCES`` licences issued to as many persons. The seal algorithm is the
deployment's ``TONGBAN_LICENCE_ALGORITHM``: Ed25519 unless the run sets it
(``--set TONGBAN_LICENCE_ALGORITHM=sm2``).

Each client cycles through the licences' QR payloads, sending
``POST /api/v1/licences/verify {"payload": "TB1.…"}`` anonymously: the server
checks the seal's signature over the payload, looks the licence up by its
identifier for its current status, answers, and logs the verification
(``licence_verification``, written in batches — ``licences.verifylog``).
``--set TONGBAN_BENCH_VERIFY_BY=identifier`` sends identifiers instead: the
server then re-verifies the stored seal signature over the canonical data.

Ceiling: the same database work through the raw driver — the lookup by
identifier per verification and the log rows inserted 100 per transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.ceiling import pg_loop, sqlite_loop, sqlite_ts  # noqa: E402
from bench.client import HTTPConnection, Request, json_request  # noqa: E402
from bench.workloads import Ceiling, Context, Workload  # noqa: E402

VERIFY = "/api/v1/licences/verify"
LICENCES = 256
from bench.workloads._licences import REGION, food_licence_issuer  # noqa: E402

SELECT_LICENCE = (
    "SELECT id, identifier, name, type_name, number, version, issuer_name, issuer_code, issued_on, holder_name, "
    "holder_code, holder_code_type, valid_from, valid_until, status, status_changed_at, region_code, seal_id "
    "FROM licence WHERE identifier = ?"
)
INSERT_LOG = (
    "INSERT INTO licence_verification (licence_id, identifier, channel, requester, ip, result, region_code, at) "
    "VALUES (?, ?, 'api', 'anonymous', '127.0.0.1', 'valid', ?, ?)"
)
LOG_BATCH = 100


class Verify(Workload):
    description = "POST /api/v1/licences/verify with licence QR payloads (anonymous)"

    def prepare(self, ctx: Context) -> None:
        ctx.env.setdefault("TONGBAN_LICENCE_ALGORITHM", "ed25519")
        out = ctx.work_dir / "verify-setup.json"
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
                f"issuing the bench licences failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
            )
        ctx.state["setup"] = json.loads(out.read_text(encoding="utf-8"))
        ctx.state["by"] = ctx.env.get("TONGBAN_BENCH_VERIFY_BY", "payload")
        print(
            f"[bench] {len(ctx.state['setup']['licences'])} licences sealed with "
            f"{ctx.state['setup']['algorithm']}; verifying by {ctx.state['by']}",
            file=sys.stderr,
        )

    def _body(self, ctx: Context, n: int) -> dict[str, str]:
        lic = ctx.state["setup"]["licences"][n % len(ctx.state["setup"]["licences"])]
        return (
            {"payload": lic["payload"]}
            if ctx.state["by"] == "payload"
            else {"identifier": lic["identifier"]}
        )

    async def setup_client(self, ctx: Context, index: int, conn: HTTPConnection) -> None:
        probe = json_request("POST", VERIFY, self._body(ctx, index), expect=(200,))
        resp = await conn.request(probe)
        err = probe.check(resp)
        body = resp.json() if not err else None
        if err or not isinstance(body, dict) or body.get("result") != "valid":
            raise SystemExit(f"client {index}: verification probe failed: {err or body}")
        if index == 0:
            ctx.state["sample"] = {k: body[k] for k in ("result", "method", "signature_checked")}

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        # each client its own slice of licences, so requests differ
        return [
            json_request("POST", VERIFY, self._body(ctx, index * 16 + k), expect=(200,))
            for k in range(16)
        ]

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        lics = ctx.state["setup"]["licences"]
        what = f"SELECT licence by identifier; verification log INSERTed {LOG_BATCH} rows per transaction"
        if ctx.db == "sqlite":
            pending: list[tuple[Any, ...]] = []

            def op(conn, i: int) -> None:
                lic = lics[i % len(lics)]
                row = conn.execute(SELECT_LICENCE, (lic["identifier"],)).fetchone()
                pending.append(
                    (row[0], lic["identifier"], row[16], sqlite_ts(dt.datetime.now(dt.UTC)))
                )
                if len(pending) >= LOG_BATCH:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(INSERT_LOG, pending)
                    conn.execute("COMMIT")
                    pending.clear()

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            q = SELECT_LICENCE.replace("?", "$1")
            ins = INSERT_LOG.replace("?, ?,", "$1, $2,").replace("?, ?)", "$3, $4)")
            batches: dict[int, list[tuple[Any, ...]]] = {}

            async def pg_op(conn, i: int) -> None:
                lic = lics[i % len(lics)]
                row = await conn.fetchrow(q, lic["identifier"])
                mine = batches.setdefault(id(conn), [])
                mine.append((row[0], lic["identifier"], row[16], dt.datetime.now(dt.UTC)))
                if len(mine) >= LOG_BATCH:
                    await conn.executemany(ins, mine)
                    mine.clear()

            result = await pg_loop(ctx, pg_op, clients, seconds, what=what)
        result.notes.append(
            f"seal algorithm {ctx.state['setup']['algorithm']}, verifying by {ctx.state['by']}"
        )
        if "sample" in ctx.state:
            result.notes.append(f"client 0's response: {ctx.state['sample']}")
        return result


WORKLOAD = Verify()


# -- the script (runs with the run's TONGBAN_* environment) ----------------------


async def _setup(out: Path) -> None:
    import tongban.models  # noqa: F401 -- every table, for the foreign keys
    from tongban.core.db import create_engine, make_sessionmaker, session_scope
    from tongban.core.identifiers import make_resident_id
    from tongban.identity import service as identity
    from tongban.identity.access import SYSTEM
    from tongban.licences import config, service

    config.configure(None)
    settings = config.settings()
    engine = create_engine()
    maker = make_sessionmaker(engine)
    result: dict[str, Any] = {"algorithm": settings.licence_algorithm, "licences": []}
    try:
        async with session_scope(maker) as s:
            dept, code = await food_licence_issuer(s, serial=1, label="基准")
            for n in range(LICENCES):
                number = make_resident_id(
                    REGION[:6],
                    birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=37 * n),
                    sequence=n % 999 + 1,
                )
                p = await identity.create_person(
                    s, id_number=number, name=f"基准持证人{n:03d}", phone=None, region_code=REGION
                )
                lic = await service.issue(
                    s,
                    SYSTEM,
                    type_code=code,
                    department_id=dept.id,
                    holder_person_id=p.id,
                    data={
                        "business_name": f"泉城小吃店第{n}分店",
                        "address": f"济南市历下区泉城路 {n + 1} 号",
                        "scope": "热食类食品制售",
                    },
                )
                result["licences"].append(
                    {"id": lic.id, "identifier": lic.identifier, "payload": lic.qr_payload}
                )
    finally:
        await engine.dispose()
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    import asyncio

    asyncio.run(_setup(Path(sys.argv[1])))
