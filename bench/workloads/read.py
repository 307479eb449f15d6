"""``read``: an authenticated API read of the signed-in user's own records.

Each client signs in once during setup as its own demo citizen (the session
cookie stays on its connection), then repeats ``GET /api/v1/me/records``
(profile, enterprises the person acts for, agents they authorised).

Ceiling: the same queries through the raw driver, per request
(``web.deps.optional_actor`` → ``identity.service.resolve_session``, then
``identity.repository.get_my_records`` and ``get_agents_for``):

1. the session by the SHA-256 of the cookie, joined to its account;
2. the person by id;
3. the enterprises the person represents or acts for as a current agent;
4. when the person is a legal representative: the agents of those enterprises.

SQLite runs them in autocommit on one connection (as the product does for
reads: no BEGIN); PostgreSQL inside a transaction per request (as
SQLAlchemy's session does), from ``clients`` pooled connections.
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

SELECT_SESSION = (
    "SELECT account.person_id, web_session.id, web_session.csrf_token, web_session.expires_at, "
    "web_session.revoked_at, web_session.last_seen_at, account.* "
    "FROM web_session JOIN account ON account.id = web_session.account_id "
    "WHERE web_session.token_hash = ?"
)
SELECT_PERSON = "SELECT person.* FROM person WHERE person.id = ?"
SELECT_ENTERPRISES = (
    "SELECT enterprise.id, enterprise.legal_rep_id, enterprise.* FROM enterprise "
    "WHERE enterprise.id IN ("
    "SELECT enterprise_agent.enterprise_id FROM enterprise_agent "
    "WHERE enterprise_agent.person_id = ? AND enterprise_agent.revoked_at IS NULL "
    "AND enterprise_agent.valid_from <= ? AND enterprise_agent.valid_until > ? "
    "UNION SELECT enterprise.id FROM enterprise WHERE enterprise.legal_rep_id = ?"
    ") ORDER BY enterprise.id"
)


SELECT_AGENTS = (
    "SELECT enterprise_agent.* FROM enterprise_agent "
    "WHERE enterprise_agent.enterprise_id IN (MARKS) AND (enterprise_agent.person_id = ? "
    "OR enterprise_agent.enterprise_id IN "
    "(SELECT enterprise.id FROM enterprise WHERE enterprise.legal_rep_id = ?)) "
    "ORDER BY enterprise_agent.id"
)


def _select_agents(n: int) -> str:
    return SELECT_AGENTS.replace("MARKS", ", ".join("?" * n))


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
        what = "session by token hash ⋈ account, person by id, enterprises represented, agents (when legal rep)"
        if ctx.db == "sqlite":

            def op(conn, i: int) -> None:
                t = sqlite_ts(dt.datetime.now(dt.UTC))
                row = conn.execute(SELECT_SESSION, (hashes[i % len(hashes)],)).fetchone()
                person_id = row[0]
                conn.execute(SELECT_PERSON, (person_id,)).fetchone()
                ents = conn.execute(SELECT_ENTERPRISES, (person_id, t, t, person_id)).fetchall()
                rep = [e[0] for e in ents if e[1] == person_id]
                if rep:
                    conn.execute(_select_agents(len(rep)), (*rep, person_id, person_id)).fetchall()

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            q_session, q_person, q_ents = map(
                pg_sql, (SELECT_SESSION, SELECT_PERSON, SELECT_ENTERPRISES)
            )

            async def pg_op(conn, i: int) -> None:
                t = dt.datetime.now(dt.UTC)
                async with conn.transaction():
                    row = await conn.fetchrow(q_session, hashes[i % len(hashes)])
                    person_id = row[0]
                    await conn.fetchrow(q_person, person_id)
                    ents = await conn.fetch(q_ents, person_id, t, t, person_id)
                    rep = [e[0] for e in ents if e[1] == person_id]
                    if rep:
                        await conn.fetch(
                            pg_sql(_select_agents(len(rep))), *rep, person_id, person_id
                        )

            result = await pg_loop(ctx, pg_op, clients, seconds, what=what)
        if "sample" in ctx.state:
            result.notes.append(f"client 0's response: {ctx.state['sample']}")
        return result


WORKLOAD = Read()
