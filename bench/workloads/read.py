"""``read``: an authenticated API read of the signed-in user's own records.

Each client signs in once during setup as its own demo citizen (the session
cookie stays on its connection), then repeats ``GET /api/v1/me/records``
(profile, enterprises the person acts for, agents they authorised).

Ceiling: the same statements through the raw driver, per request. The route
is served by ``web.app.HotRoutes`` on the driver connection of a pooled
connection, in autocommit, with two statements:

1. ``identity.service.resolve_session_raw``: the session by the SHA-256 of
   the cookie, joined to its account and the account's person;
2. ``identity.repository.get_my_records_raw``: the enterprises the person
   represents or acts for as a current agent, and the agents of the ones they
   represent, in one ``UNION ALL``.

SQLite runs them in autocommit on one connection, PostgreSQL in autocommit
from ``clients`` pooled connections — as the product does for this route.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from bench.ceiling import pg_loop, pg_sql, sqlite_loop, sqlite_ts
from bench.client import HTTPConnection, Request, json_request
from bench.workloads import Ceiling, Context, Workload
from bench.workloads._demo import citizen, load_demo

LOGIN = "/api/v1/auth/login"
RECORDS = "/api/v1/me/records"
SESSION_COOKIE = "tongban_session"

# identity.service._SESSION_RAW
SELECT_SESSION = (
    "SELECT s.id, s.csrf_token, s.expires_at, s.revoked_at, s.last_seen_at, "
    "a.id, a.kind, a.display_name, a.region_code, a.person_id, a.department_id, a.is_active, "
    "a.preferences, p.id, p.name, p.id_number, p.phone, p.region_code, p.real_name_level, p.is_demo "
    "FROM web_session s JOIN account a ON a.id = s.account_id "
    "LEFT JOIN person p ON p.id = a.person_id WHERE s.token_hash = ?"
)
# identity.repository._MY_RECORDS_RAW (its ?1/?2 are the person id and the time)
SELECT_RECORDS = (
    "SELECT 0, e.id, e.credit_code, e.name, e.region_code, e.legal_rep_id, e.is_demo, "
    "NULL, NULL, NULL, NULL, NULL FROM enterprise e "
    "WHERE e.legal_rep_id = ?1 OR e.id IN (SELECT g.enterprise_id FROM enterprise_agent g "
    "WHERE g.person_id = ?1 AND g.revoked_at IS NULL AND g.valid_from <= ?2 AND g.valid_until > ?2) "
    "UNION ALL SELECT 1, a.id, NULL, NULL, NULL, NULL, NULL, "
    "a.enterprise_id, a.person_id, a.valid_from, a.valid_until, a.revoked_at "
    "FROM enterprise r JOIN enterprise_agent a ON a.enterprise_id = r.id "
    "WHERE r.legal_rep_id = ?1 ORDER BY 1, 2"
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Read(Workload):
    description = "GET /api/v1/me/records as a signed-in citizen"

    def prepare(self, ctx: Context) -> None:
        load_demo(ctx)
        ctx.state["tokens"] = {}

    async def setup_client(self, ctx: Context, index: int, conn: HTTPConnection) -> None:
        username, password = citizen(ctx, index)
        req = json_request(
            "POST",
            LOGIN,
            {"username": username, "password": password},
            expect=(200,),
            expect_cookie=SESSION_COOKIE,
        )
        err = req.check(await conn.request(req))
        if err:
            raise SystemExit(f"client {index} could not sign in as {username}: {err}")
        ctx.state["tokens"][index] = conn.cookies[SESSION_COOKIE]
        probe = Request("GET", RECORDS)
        err = probe.check(resp := await conn.request(probe))
        if err:
            raise SystemExit(f"client {index}: {err}")
        if index == 0:
            body = resp.json()
            assert isinstance(body, dict)
            ctx.state["sample"] = {
                k: (len(v) if isinstance(v, list) else bool(v)) for k, v in body.items()
            }

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        return [Request("GET", RECORDS)]

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        hashes = [_hash(ctx.state["tokens"][i]) for i in range(clients)]
        what = "session ⋈ account ⋈ person by token hash; enterprises ∪ agents (autocommit)"
        if ctx.db == "sqlite":

            def op(conn, i: int) -> None:
                t = sqlite_ts(dt.datetime.now(dt.UTC))
                rows = conn.execute(SELECT_SESSION, (hashes[i % len(hashes)],)).fetchall()
                conn.execute(SELECT_RECORDS, (rows[0][9], t)).fetchall()

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            q_session = pg_sql(SELECT_SESSION)
            q_records = SELECT_RECORDS.replace("?1", "$1").replace("?2", "$2")

            async def pg_op(conn, i: int) -> None:
                t = dt.datetime.now(dt.UTC)
                row = await conn.fetchrow(q_session, hashes[i % len(hashes)])
                await conn.fetch(q_records, row[9], t)

            result = await pg_loop(ctx, pg_op, clients, seconds, what=what)
        if "sample" in ctx.state:
            result.notes.append(f"client 0's response: {ctx.state['sample']}")
        return result


WORKLOAD = Read()
