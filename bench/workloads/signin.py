"""``signin``: every request is a password sign-in.

``POST /api/v1/auth/login`` with ``{"username", "password"}`` of the
client's own demo citizen; it must answer 200 with ``Set-Cookie:
tongban_session=…``. Requests are sent without cookies (each one arrives
anonymous).

Ceiling: the database work of one successful sign-in
(``identity.service.sign_in_password`` + ``_start_session``), one
transaction: look the account up by username, insert the login attempt,
insert the session row (SHA-256 of a fresh token), reset the failure counter
and set ``last_login_at``. Password hashing is CPU, not database work, so it
is not in the ceiling; its own rate (argon2id with the parameters of the
stored demo hash, one core) is printed as a note, since it bounds sign-ins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time

from bench.ceiling import pg_loop, pg_sql, sqlite_loop, sqlite_ts
from bench.client import Request, json_request
from bench.workloads import Ceiling, Context, Workload
from bench.workloads._demo import citizen, load_demo

LOGIN = "/api/v1/auth/login"
SESSION_COOKIE = "tongban_session"
SESSION_HOURS = 8

SELECT_ACCOUNT = (
    "SELECT account.id, account.region_code, account.password_hash, account.* "
    "FROM account WHERE account.username = ?"
)
INSERT_ATTEMPT = (
    "INSERT INTO login_attempt (username, account_id, ok, reason, ip, at, region_code) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
INSERT_SESSION = (
    "INSERT INTO web_session (token_hash, account_id, csrf_token, method, created_at, "
    "last_seen_at, expires_at, revoked_at, ip, user_agent, region_code) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_ACCOUNT = (
    "UPDATE account SET failed_logins = ?, locked_until = ?, last_login_at = ? WHERE account.id = ?"
)


def _new_session() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return hashlib.sha256(token.encode()).hexdigest(), secrets.token_urlsafe(24)


class SignIn(Workload):
    description = "POST /api/v1/auth/login (password sign-in of a demo citizen)"
    send_cookies = False

    def prepare(self, ctx: Context) -> None:
        load_demo(ctx)

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        username, password = citizen(ctx, index)
        return [
            json_request(
                "POST",
                LOGIN,
                {"username": username, "password": password},
                expect=(200,),
                expect_cookie=SESSION_COOKIE,
            )
        ]

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        users = [citizen(ctx, i)[0] for i in range(clients)]
        what = "one transaction: SELECT account by username, INSERT login_attempt, INSERT web_session, UPDATE account"
        if ctx.db == "sqlite":

            def op(conn, i: int) -> None:
                t = dt.datetime.now(dt.UTC)
                now_s = sqlite_ts(t)
                conn.execute("BEGIN IMMEDIATE")
                acc_id, region, _hash, *_ = conn.execute(
                    SELECT_ACCOUNT, (users[i % len(users)],)
                ).fetchone()
                conn.execute(
                    INSERT_ATTEMPT,
                    (users[i % len(users)], acc_id, True, "", "127.0.0.1", now_s, region),
                )
                token_hash, csrf = _new_session()
                conn.execute(
                    INSERT_SESSION,
                    (
                        token_hash,
                        acc_id,
                        csrf,
                        "password",
                        now_s,
                        now_s,
                        sqlite_ts(t + dt.timedelta(hours=SESSION_HOURS)),
                        None,
                        "127.0.0.1",
                        "",
                        region,
                    ),
                )
                conn.execute(UPDATE_ACCOUNT, (0, None, now_s, acc_id))
                conn.execute("COMMIT")

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            q_select, q_attempt, q_session, q_update = map(
                pg_sql, (SELECT_ACCOUNT, INSERT_ATTEMPT, INSERT_SESSION, UPDATE_ACCOUNT)
            )

            async def pg_op(conn, i: int) -> None:
                t = dt.datetime.now(dt.UTC)
                username = users[i % len(users)]
                async with conn.transaction():
                    row = await conn.fetchrow(q_select, username)
                    acc_id, region = row[0], row[1]
                    await conn.execute(
                        q_attempt, username, acc_id, True, "", "127.0.0.1", t, region
                    )
                    token_hash, csrf = _new_session()
                    await conn.execute(
                        q_session,
                        token_hash,
                        acc_id,
                        csrf,
                        "password",
                        t,
                        t,
                        t + dt.timedelta(hours=SESSION_HOURS),
                        None,
                        "127.0.0.1",
                        "",
                        region,
                    )
                    await conn.execute(q_update, 0, None, t, acc_id)

            result = await pg_loop(ctx, pg_op, clients, seconds, what=what)
        result.notes.append(
            _argon2_note(await _stored_hash(ctx, users[0]), ctx.state["demo"]["password"])
        )
        return result


def _argon2_note(stored: str, password: str) -> str:
    """Verify rate of the stored demo hash (its own parameters), ~1 s."""
    from argon2 import PasswordHasher

    ph = PasswordHasher()
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        ph.verify(stored, password)
        n += 1
    per_s = n / (time.perf_counter() - start)
    return f"argon2 verify of the stored hash: {per_s:,.0f}/s on one core ({1000 / per_s:.1f} ms each) — bounds sign-ins, not in the ceiling"


async def _stored_hash(ctx: Context, username: str) -> str:
    sql = "SELECT password_hash FROM account WHERE username = ?"
    if ctx.db == "sqlite":
        import sqlite3

        conn = sqlite3.connect(ctx.sqlite_path)
        try:
            return conn.execute(sql, (username,)).fetchone()[0]
        finally:
            conn.close()
    import asyncpg

    pconn = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        return await pconn.fetchval(pg_sql(sql), username)
    finally:
        await pconn.close()


WORKLOAD = SignIn()
