"""``submit``: every request files a new case through the API.

Setup: the demo province (``tongban demo``) and, through the catalogue
services, 16 published implementations (4 items × the departments of 历下区,
市中区, 济南市, 山东省) with an 18-field form (``_cases.publish``). Each client
signs in once as its own demo citizen (untimed) and files one probe case, then
repeats ``POST /api/v1/cases`` with a fresh ``Idempotency-Key`` per request and
its own filled form (~1.6 KB of JSON, mostly Chinese: its name, identity
number and phone, addresses, two paragraphs of free text, integers, an enum, a
date, a boolean and a hidden conditional field). Every request must answer 201
(a new case).

The product path is the whole of it: session and CSRF rules, body parsing,
the idempotency check, the applicant, the published implementation and its
version, form validation (JSON Schema with the resident-id, phone, date and
email format checks), the acceptance due date in working days, the case
number (counter per region and day), the case row, the trail (服务轨迹), the
applicant's inbox notification, two outbox events (``case.submit``,
``case.notified``) and the audit entry chained to its region's head — one
transaction, committed before the response. The request is served by the
hot route (``cases.submit_hot``: the driver path for a person's own plain
submission, the FastAPI endpoint's code for anything else).

Clients are spread round the 16 implementations, so over four regions: four
audit chain heads and four case-number counters, each shared by 8 clients.
``TONGBAN_BENCH_SUBMIT_ONE_DISTRICT=1`` puts every client on one
implementation of 历下区 (one head, one counter: the hot rows at their hottest).

Ceiling: one transaction through the raw driver with the statements the
product sends (written out below, with the product functions they mirror):
the session by token hash, the submission probe, then on SQLite the nine
writes, on PostgreSQL the two statements that carry them. The form is
serialised and the audit hash computed as the product does; validation and
HTTP are not in it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import secrets
from collections.abc import Sequence
from typing import Any

import orjson

from bench.ceiling import pg_loop, pg_sql, sqlite_loop, sqlite_ts
from bench.client import HTTPConnection, Request, json_request
from bench.workloads import Ceiling, Context, Workload
from bench.workloads._cases import form_data, publish
from bench.workloads._demo import citizen, load_demo

# TONGBAN_BENCH_SUBMIT_ONE_DISTRICT=1: every client files under the same
# implementation (历下区): one audit chain head and one case-number counter
# for all — the hot rows at their hottest.
ONE_DISTRICT = os.environ.get("TONGBAN_BENCH_SUBMIT_ONE_DISTRICT", "") not in ("", "0")
LOGIN = "/api/v1/auth/login"
CASES = "/api/v1/cases"
SESSION_COOKIE = "tongban_session"


class _Fresh(Sequence[Request]):
    """An endless run of submissions, each with its own Idempotency-Key
    (the driver cycles ``reqs[i % len(reqs)]``)."""

    def __init__(self, body: bytes, prefix: str) -> None:
        self._body = body
        self._prefix = prefix

    def __len__(self) -> int:
        return 1 << 40

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            raise TypeError("no slices")
        return Request(
            "POST",
            CASES,
            (("content-type", "application/json"), ("idempotency-key", f"{self._prefix}-{i:09d}")),
            self._body,
            (201,),
        )


class Submit(Workload):
    description = "POST /api/v1/cases (a new case with a ~1.5 KB form) as a signed-in citizen"

    def prepare(self, ctx: Context) -> None:
        load_demo(ctx)
        setup = publish(ctx)
        if ONE_DISTRICT:
            ctx.state["impls"] = [next(i for i in setup["implementations"] if i["submit"])]
        else:
            ctx.state["impls"] = setup["implementations"]
        ctx.state["tokens"] = {}
        ctx.state["run"] = secrets.token_hex(4)

    def _person(self, ctx: Context, index: int) -> dict[str, Any]:
        username, _ = citizen(ctx, index)
        return {**ctx.state["cases"]["citizens"][username], "username": username}

    def _impl(self, ctx: Context, index: int) -> dict[str, Any]:
        """The implementation client ``index`` files under: one each, round
        the 16 (four regions), or all the same one with ONE_DISTRICT."""
        impls = ctx.state["impls"]
        return impls[index % len(impls)]

    def _body(self, ctx: Context, index: int) -> bytes:
        body = {
            "implementation_id": self._impl(ctx, index)["id"],
            "form_data": form_data(self._person(ctx, index), index),
            "channel": "pc",
        }
        return orjson.dumps(body)

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
        # one probe submission per client (untimed): the form must be accepted
        probe = _Fresh(self._body(ctx, index), f"probe-{ctx.state['run']}-{index}")[0]
        resp = await conn.request(probe)
        if err := probe.check(resp):
            raise SystemExit(f"client {index}: {err}")
        if index == 0:
            ctx.state["sample"] = {
                "request_bytes": len(probe.body),
                "number": orjson.loads(resp.body)["number"],
            }

    def make_requests(self, ctx: Context, index: int) -> Sequence[Request]:
        return _Fresh(self._body(ctx, index), f"b{ctx.state['run']}-{index}")

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        clients_data = []
        for i in range(clients):
            p = self._person(ctx, i)
            clients_data.append(
                (
                    hashlib.sha256(ctx.state["tokens"][i].encode()).hexdigest(),
                    p,
                    form_data(p, i),
                    self._impl(ctx, i),
                )
            )
        keys = itertools.count()
        prefix = f"c{ctx.state['run']}"
        what = (
            "one transaction, as the product: session ⋈ account, the probe (implementation, version, person, key), "
            + (
                "counter, case, trail, inbox, 2 events, audit head claim, entry, head hash (9 statements)"
                if ctx.db == "sqlite"
                else "counter + case + audit head claim (one statement), trail + inbox + 2 events + "
                "audit entry + head hash (one statement)"
            )
        )
        if ctx.db == "sqlite":

            def op(conn, i: int) -> None:
                token_hash, person, form, impl = clients_data[i % len(clients_data)]
                _op_sqlite(conn, token_hash, person, form, impl, f"{prefix}-{next(keys)}")

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            stmts = {
                "session": pg_sql(SESSION),
                "probe": pg_sql(PROBE),
                "file": PG_FILE,
                "record": PG_RECORD,
            }

            async def pg_op(conn, i: int) -> None:
                token_hash, person, form, impl = clients_data[i % len(clients_data)]
                await _op_pg(conn, stmts, token_hash, person, form, impl, f"{prefix}-{next(keys)}")

            result = await pg_loop(ctx, pg_op, clients, seconds, what=what)
        if "sample" in ctx.state:
            s = ctx.state["sample"]
            result.notes.append(
                f"request body {s['request_bytes']:,} bytes; first case number {s['number']}"
            )
        return result


# -- the ceiling: the statements of cases.service.submit, written out -----------------
#
# Keep in step with cases.service: submit (the probe), _file_sqlite,
# _file_pg (_pg_file_stmt, _pg_record_stmt) and core.audit.record_sqlite_cursor;
# identity.service._SESSION_BY_HASH for the session. The published version's
# document and the calendar come from the product's caches (no statement).

SESSION = (
    "SELECT s.id, s.csrf_token, s.expires_at, s.revoked_at, s.last_seen_at, a.id, a.kind, a.display_name, "
    "a.region_code, a.person_id, a.department_id, a.is_active, a.preferences "
    "FROM web_session s JOIN account a ON a.id = s.account_id WHERE s.token_hash = ?"
)
PROBE = (
    "SELECT i.id, i.status, i.published_version_id, i.region_code, i.department_id, i.name, v.id, v.content_hash, "
    "(SELECT p.name FROM person p WHERE p.id = ?), "
    '(SELECT c.id FROM "case" c WHERE c.submitted_by = ? AND c.idempotency_key = ?) '
    "FROM implementation i LEFT JOIN implementation_version v ON v.id = i.published_version_id WHERE i.id = ?"
)
CASE_COLS = (
    "implementation_id, implementation_version_id, department_id, item_name, applicant_person_id, "
    "applicant_enterprise_id, applicant_name, submitted_by, channel, idempotency_key, state, step_index, current_step, "
    "at_last_step, steps, form_data, limit_value, limit_unit, extension_days, correction_round, submitted_at, "
    "accept_due_at, accepted_at, due_at, step_started_at, concluded_at, delivered_at, outcome, outcome_reason, "
    "delivery_method, tracking_number, alert, created_at, updated_at, region_code"
)
SQLITE = {
    "counter": (
        "INSERT INTO case_counter (region6, day, value) VALUES (?, ?, 1) ON CONFLICT (region6, day) "
        "DO UPDATE SET value = case_counter.value + 1 RETURNING value"
    ),
    "case": (
        f'INSERT INTO "case" ({CASE_COLS}, number) VALUES ({", ".join("?" * 36)}) '  # noqa: S608 - constant
        "ON CONFLICT (submitted_by, idempotency_key) DO NOTHING RETURNING id"
    ),
    "trail": (
        "INSERT INTO case_trail (case_id, action, from_state, to_state, step_name, actor_ref, actor_name, comment, data, "
        "at, region_code) VALUES (?, 'submit', '', 'submitted', '', ?, ?, ?, '{}', ?, ?)"
    ),
    "notify": (
        "INSERT INTO notification (account_id, case_id, title, body, created_at) SELECT id, ?, ?, ?, ? FROM account "
        "WHERE kind = 'person' AND (id = ? OR person_id = ?) ORDER BY id"
    ),
    "event": "INSERT INTO outbox_event (name, payload, created_at, region_code) VALUES (?, ?, ?, ?) RETURNING id",
    "claim": (
        "INSERT INTO audit_chain_head (region_code, seq, hash) VALUES (?, 1, ?) "
        "ON CONFLICT (region_code) DO UPDATE SET seq = audit_chain_head.seq + 1 RETURNING seq, hash"
    ),
    "entry": (
        "INSERT INTO audit_entry (region_code, seq, prev_hash, hash, actor, action, target_type, target_id, at, details) "
        "VALUES (?, ?, ?, ?, ?, 'case.submit', 'case', ?, ?, ?) RETURNING id"
    ),
    "set_hash": "UPDATE audit_chain_head SET hash = ? WHERE region_code = ?",
}
# _pg_file_stmt: the counter, the case and the audit head claim in one statement
PG_FILE = f"""
WITH counter AS (
  INSERT INTO case_counter (region6, day, value) VALUES ($1, $2, 1) ON CONFLICT (region6, day)
  DO UPDATE SET value = case_counter.value + 1 RETURNING value),
filed AS (
  INSERT INTO "case" ({CASE_COLS}, number)
  SELECT {", ".join(f"${i}" for i in range(3, 38))},
         $38::text || CASE WHEN counter.value < 1000000 THEN lpad(counter.value::text, 6, '0') ELSE counter.value::text END
  FROM counter ON CONFLICT (submitted_by, idempotency_key) DO NOTHING RETURNING id, number),
head AS (
  INSERT INTO audit_chain_head (region_code, seq, hash) SELECT $37, 1, '{"0" * 64}' FROM filed
  ON CONFLICT (region_code) DO UPDATE SET seq = audit_chain_head.seq + 1 RETURNING seq, hash)
SELECT filed.id, filed.number, head.seq, head.hash FROM filed JOIN head ON true
"""  # noqa: S608 - constant
# _pg_record_stmt: the trail, the inbox, the two events, the audit entry and the head's hash
PG_RECORD = """
WITH trail AS (
  INSERT INTO case_trail (case_id, action, from_state, to_state, step_name, actor_ref, actor_name, comment, data, at, region_code)
  VALUES ($1, 'submit', '', 'submitted', '', $2, $3, $4, '{}', $5, $6)),
notified AS (
  INSERT INTO notification (account_id, case_id, title, body, created_at)
  SELECT id, $1, $7, $8, $5 FROM account WHERE kind = 'person' AND (id = $9 OR person_id = $10) ORDER BY id),
entry AS (
  INSERT INTO audit_entry (region_code, seq, prev_hash, hash, actor, action, target_type, target_id, at, details)
  VALUES ($6, $11, $12, $13, $2, 'case.submit', 'case', $1::text, $5, $14::json)),
head_hash AS (UPDATE audit_chain_head SET hash = $13 WHERE region_code = $6),
events AS (
  INSERT INTO outbox_event (name, payload, created_at, region_code)
  SELECT 'case.submit', $15::json, $5, $6 UNION ALL SELECT 'case.notified', $16::json, $5, $6 RETURNING id, name)
SELECT id, name FROM events ORDER BY id
"""
STEPS = [
    {"name": "承办", "role": "approver"},
    {"name": "审核", "role": "approver"},
    {"name": "批准", "role": "approver"},
]
DETAILS = {"from": "", "to": "submitted", "step": ""}


def _audit_hash(
    region: str, seq: int, prev: str, actor: str, target_id: int, at: dt.datetime
) -> str:
    # core.audit.entry_hash
    canonical = orjson.dumps(
        [
            region,
            seq,
            prev,
            actor,
            "case.submit",
            "case",
            str(target_id),
            at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            DETAILS,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def _day(at: dt.datetime) -> str:
    return (at + dt.timedelta(hours=8)).strftime("%Y%m%d")  # the local (Asia/Shanghai) date


def _case_values(
    impl_row: Any,
    version_id: int,
    person: dict,
    account_id: int,
    key: str,
    form: dict,
    at: Any,
    due: Any,
) -> list:
    """The case's columns in CASE_COLS order (at, due: as the driver binds them)."""
    return [
        impl_row[0],
        version_id,
        impl_row[4],
        impl_row[5],
        person["person_id"],
        None,
        person["name"],
        account_id,
        "pc",
        key,
        "submitted",
        0,
        "",
        False,
        json.dumps(STEPS),
        json.dumps(form, ensure_ascii=True),
        10,
        "working_day",
        0,
        0,
        at,
        due,
        None,
        None,
        None,
        None,
        None,
        None,
        "",
        None,
        None,
        "",
        at,
        at,
        impl_row[3],
    ]


def _op_sqlite(conn, token_hash: str, person: dict, form: dict, impl: dict, key: str) -> None:
    at = dt.datetime.now(dt.UTC)
    ts, due = sqlite_ts(at), sqlite_ts(at + dt.timedelta(days=7))
    q = conn.execute
    sess = q(SESSION, (token_hash,)).fetchone()
    account_id, actor_name = sess[5], sess[7]
    i = q(PROBE, (person["person_id"], account_id, key, impl["id"])).fetchone()
    region, day = i[3], _day(at)
    q("BEGIN IMMEDIATE")
    value = q(SQLITE["counter"], (region[:6], day)).fetchone()[0]
    number = f"{region[:6]}-{day}-{value:06d}"
    values = _case_values(i, i[6], person, account_id, key, form, ts, due)
    case_id = q(SQLITE["case"], (*values, number)).fetchone()[0]
    actor = f"account:{account_id}"
    title = f"您的申请已提交：{i[5]}"
    q(SQLITE["trail"], (case_id, actor, actor_name, "电脑端", ts, region))
    q(
        SQLITE["notify"],
        (
            case_id,
            title,
            f"办件编号 {number}，请留意受理结果。",
            ts,
            account_id,
            person["person_id"],
        ),
    )
    q(
        SQLITE["event"],
        (
            "case.submit",
            json.dumps({"case_id": case_id, "number": number, "state": "submitted"}),
            ts,
            region,
        ),
    ).fetchone()
    q(
        SQLITE["event"],
        (
            "case.notified",
            json.dumps({"case_id": case_id, "title": title}, ensure_ascii=True),
            ts,
            region,
        ),
    ).fetchone()
    seq, prev = q(SQLITE["claim"], (region, "0" * 64)).fetchone()
    h = _audit_hash(region, seq, prev, actor, case_id, at)
    q(
        SQLITE["entry"], (region, seq, prev, h, actor, str(case_id), ts, json.dumps(DETAILS))
    ).fetchone()
    q(SQLITE["set_hash"], (h, region))
    q("COMMIT")


async def _op_pg(
    conn, stmts: dict[str, str], token_hash: str, person: dict, form: dict, impl: dict, key: str
) -> None:
    at = dt.datetime.now(dt.UTC)
    async with conn.transaction():
        sess = await conn.fetchrow(stmts["session"], token_hash)
        account_id, actor_name = sess[5], sess[7]
        i = await conn.fetchrow(stmts["probe"], person["person_id"], account_id, key, impl["id"])
        region, day = i[3], _day(at)
        values = _case_values(i, i[6], person, account_id, key, form, at, at + dt.timedelta(days=7))
        case_id, number, seq, prev = await conn.fetchrow(
            stmts["file"], region[:6], day, *values, f"{region[:6]}-{day}-"
        )
        actor = f"account:{account_id}"
        title = f"您的申请已提交：{i[5]}"
        await conn.fetch(
            stmts["record"],
            case_id,
            actor,
            actor_name,
            "电脑端",
            at,
            region,
            title,
            f"办件编号 {number}，请留意受理结果。",
            account_id,
            person["person_id"],
            seq,
            prev,
            _audit_hash(region, seq, prev, actor, case_id, at),
            json.dumps(DETAILS),
            json.dumps({"case_id": case_id, "number": number, "state": "submitted"}),
            json.dumps({"case_id": case_id, "title": title}, ensure_ascii=True),
        )


WORKLOAD = Submit()
