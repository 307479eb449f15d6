"""``health``: GET /healthz — a self-test of the harness and the floor of
the HTTP stack (no session, no application query beyond what /healthz does).

Ceiling: ``SELECT 1`` through the raw driver.
"""

from __future__ import annotations

from bench.ceiling import pg_loop, sqlite_loop
from bench.client import Request
from bench.workloads import Ceiling, Context, Workload


class Health(Workload):
    description = "GET /healthz"

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        return [Request("GET", "/healthz")]

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        what = "SELECT 1"
        if ctx.db == "sqlite":
            return sqlite_loop(
                ctx, lambda conn, _i: conn.execute("SELECT 1").fetchone(), seconds, what=what
            )

        async def op(conn, _i: int) -> None:
            await conn.fetchval("SELECT 1")

        return await pg_loop(ctx, op, clients, seconds, what=what)


WORKLOAD = Health()
