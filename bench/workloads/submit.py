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
``case.notified``) and the audit entry chained to its region's head (on
PostgreSQL: the head of one of the region's lanes, ``core.audit``) — one
transaction, committed before the response. The request is served by the
hot route (``cases.submit_hot``: the driver path for a person's own plain
submission, the FastAPI endpoint's code for anything else).

Clients are spread round the 16 implementations, so over four regions: four
case-number counters and four audit chains, each shared by 8 clients (on
PostgreSQL each region has eight lanes, a counter and a chain each).
``TONGBAN_BENCH_SUBMIT_ONE_DISTRICT=1`` puts every client on one
implementation of 历下区 (one head, one counter: the hot rows at their hottest).

Ceiling: one transaction through the raw driver with the statements the
product sends (written out below, with the product functions they mirror):
the session by token hash, the submission probe, then on SQLite the nine
writes, on PostgreSQL the one statement that carries them (the audit hash
computed by the database around the bytes the client sends, as the product
does). The form is serialised as the product does; validation and HTTP are
not in it.
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
            "as the product: session ⋈ account ⋈ person and the probe (implementation, version, key) "
            + ("(2 statements), then " if ctx.db == "sqlite" else "in one statement, then ")
            + (
                "one transaction: counter, case, trail, inbox, 2 events, audit head claim, entry, head hash (9 statements)"
                if ctx.db == "sqlite"
                else "one statement (no transaction block): counter and audit head of the lane locked, case, the head's hash, trail, inbox, "
                "2 events, audit entry"
            )
        )
        if ctx.db == "sqlite":

            def op(conn, i: int) -> None:
                token_hash, person, form, impl = clients_data[i % len(clients_data)]
                _op_sqlite(conn, token_hash, person, form, impl, f"{prefix}-{next(keys)}")

            result = sqlite_loop(ctx, op, seconds, what=what)
        else:
            stmts = {
                "session_probe": pg_sql(SESSION_PROBE),
                "submit": PG_SUBMIT,
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
# Keep in step with cases.submit_hot (_SESSION_PROBE), cases.service: _file_sqlite,
# _pg_submit_stmt (cases.submit_hot._file_pg) and core.audit.record_sqlite_cursor.
# The published version's
# document and the calendar come from the product's caches (no statement).

# the session and the probe (cases.submit_hot: on PostgreSQL _SESSION_PROBE, one
# statement — identity.service.session_statement with the probe's columns,
# those from SESSION_WIDTH on —; on SQLite _SESSION_RAW, then _PROBE)
SESSION_WIDTH = 21
_SESSION_COLS = (
    "s.id, s.csrf_token, s.expires_at, s.revoked_at, s.last_seen_at, a.id, a.kind, a.display_name, "
    "a.region_code, a.person_id, a.department_id, a.is_active, a.preferences, "
    "p.id, p.name, p.id_number, p.phone, p.region_code, p.real_name_level, p.is_demo, r.role"
)
_SESSION_FROM = (
    "FROM web_session s JOIN account a ON a.id = s.account_id LEFT JOIN person p ON p.id = a.person_id "
    "LEFT JOIN account_role r ON r.account_id = a.id AND a.kind = 'staff' "
)
_PROBE_COLS = (
    "i.id, i.status, i.published_version_id, i.region_code, i.department_id, i.name, v.id, v.content_hash, "
    '(SELECT c.id FROM "case" c WHERE c.submitted_by = a.id AND c.idempotency_key = ?)'
)
_PROBE_JOINS = (
    "LEFT JOIN implementation i ON i.id = ? "
    "LEFT JOIN implementation_version v ON v.id = i.published_version_id "
)
SESSION_PROBE = (
    f"SELECT {_SESSION_COLS}, {_PROBE_COLS} {_SESSION_FROM}{_PROBE_JOINS}WHERE s.token_hash = ?"
)
SESSION = f"SELECT {_SESSION_COLS} {_SESSION_FROM}WHERE s.token_hash = ?"
PROBE = f"SELECT {_PROBE_COLS} FROM account a {_PROBE_JOINS}WHERE a.id = ?"  # noqa: S608 - constants
CASE_COLS = (
    "implementation_id, implementation_version_id, department_id, item_name, applicant_person_id, "
    "applicant_enterprise_id, applicant_name, submitted_by, channel, idempotency_key, state, step_index, current_step, "
    "at_last_step, steps, form_data, limit_value, limit_unit, extension_days, correction_round, submitted_at, "
    "accept_due_at, accepted_at, due_at, step_started_at, concluded_at, delivered_at, outcome, outcome_reason, "
    "delivery_method, tracking_number, alert, created_at, updated_at, region_code"
)
SQLITE = {
    "counter": (
        "INSERT INTO case_counter (region6, day, lane, value) VALUES (?, ?, 0, 1) ON CONFLICT (region6, day, lane) "
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
        "INSERT INTO audit_chain_head (region_code, lane, seq, hash) VALUES (?, 0, 1, ?) "
        "ON CONFLICT (region_code, lane) DO UPDATE SET seq = audit_chain_head.seq + 1 RETURNING seq, hash"
    ),
    "entry": (
        "INSERT INTO audit_entry (region_code, lane, seq, prev_hash, hash, actor, action, target_type, target_id, at, "
        "details) VALUES (?, 0, ?, ?, ?, ?, 'case.submit', 'case', ?, ?, ?) RETURNING id"
    ),
    "set_hash": "UPDATE audit_chain_head SET hash = ? WHERE region_code = ? AND lane = 0",
}
SUBMIT_LANES = 8  # core.audit.SUBMIT_LANES: the ceiling's submissions take the lanes in turn
_lanes = itertools.count()
# _pg_submit_stmt: the whole submission in one statement (autocommit), the
# counter and audit head of lane $49 (the number's serial: service.case_serial);
# the audit hash is sha256(pre || seq || ',"' || prev || '",' || mid || case id || post)
PG_SUBMIT = f"""
WITH counter AS (
  INSERT INTO case_counter (region6, day, lane, value) VALUES ($1, $2, $49::smallint, 1)
  ON CONFLICT (region6, day, lane) DO UPDATE SET value = case_counter.value + 1
  RETURNING (value - 1) * {SUBMIT_LANES} + $49::smallint + 1 AS value),
filed AS (
  INSERT INTO "case" ({CASE_COLS}, number)
  SELECT {", ".join(f"${i}" for i in range(3, 38))},
         $38::text || CASE WHEN counter.value < 1000000 THEN lpad(counter.value::text, 6, '0') ELSE counter.value::text END
  FROM counter ON CONFLICT (submitted_by, idempotency_key) DO NOTHING RETURNING id, number),
prev AS (
  SELECT h.region_code, h.lane, h.seq, h.hash FROM audit_chain_head h JOIN filed ON true
  WHERE h.region_code = $37 AND h.lane = $49::smallint FOR UPDATE OF h),
head AS (
  UPDATE audit_chain_head SET seq = prev.seq + 1,
    hash = encode(sha256($39::bytea || convert_to((prev.seq + 1)::text || ',"' || prev.hash || '",', 'UTF8')
                         || $40::bytea || convert_to(filed.id::text, 'UTF8') || $41::bytea), 'hex')
  FROM prev, filed WHERE audit_chain_head.region_code = prev.region_code AND audit_chain_head.lane = prev.lane
  RETURNING audit_chain_head.seq, audit_chain_head.hash, prev.hash AS prev_hash),
entry AS (
  INSERT INTO audit_entry (region_code, lane, seq, prev_hash, hash, actor, action, target_type, target_id, at, details)
  SELECT $37, $49::smallint, head.seq, head.prev_hash, head.hash, $42, 'case.submit', 'case', filed.id::text, $43, $44::json
  FROM counter LEFT JOIN filed ON true LEFT JOIN head ON true),
trail AS (
  INSERT INTO case_trail (case_id, action, from_state, to_state, step_name, actor_ref, actor_name, comment, data, at, region_code)
  SELECT filed.id, 'submit', '', 'submitted', '', $42, $45, $46, '{{}}', $43, $37 FROM filed),
notified AS (
  INSERT INTO notification (account_id, case_id, title, body, created_at)
  SELECT a.id, filed.id, $47, '办件编号 ' || filed.number || '，请留意受理结果。', $43
  FROM account a, filed WHERE a.kind = 'person' AND (a.id = $10 OR a.person_id = $7) ORDER BY a.id),
events AS (
  INSERT INTO outbox_event (name, payload, created_at, region_code)
  SELECT 'case.submit', ('{{"case_id": ' || filed.id || ', "number": "' || filed.number || '", "state": "submitted"}}')::json, $43, $37
  FROM filed
  UNION ALL
  SELECT 'case.notified', ('{{"case_id": ' || filed.id || ', "title": ' || $48 || '}}')::json, $43, $37 FROM filed)
SELECT filed.id, filed.number FROM filed
"""  # noqa: S608 - constant
STEPS = [
    {"name": "承办", "role": "approver"},
    {"name": "审核", "role": "approver"},
    {"name": "批准", "role": "approver"},
]
DETAILS = {"from": "", "to": "submitted", "step": ""}


def _audit_hash_parts(
    region: str, actor: str, at: dt.datetime, lane: int = 0
) -> tuple[bytes, bytes, bytes]:
    # core.audit.entry_hash_parts: the canonical bytes around seq, previous hash and case id
    pre = b"[" + orjson.dumps(f"{region}/{lane}" if lane else region) + b","
    mid = orjson.dumps(actor) + b',"case.submit","case","'
    post = (
        b'",'
        + orjson.dumps(at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        + b","
        + orjson.dumps(DETAILS, option=orjson.OPT_SORT_KEYS)
        + b"]"
    )
    return pre, mid, post


def _audit_hash(
    region: str, seq: int, prev: str, actor: str, target_id: int, at: dt.datetime
) -> str:
    # core.audit.entry_hash
    pre, mid, post = _audit_hash_parts(region, actor, at)
    canonical = (
        pre
        + str(seq).encode()
        + b',"'
        + prev.encode()
        + b'",'
        + mid
        + str(target_id).encode()
        + post
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
    sess = q(SESSION, (token_hash,)).fetchall()[0]
    account_id, actor_name = sess[5], sess[7]
    i = q(PROBE, (key, impl["id"], account_id)).fetchone()
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
    sess = await conn.fetchrow(stmts["session_probe"], key, impl["id"], token_hash)
    account_id, actor_name, i = sess[5], sess[7], sess[SESSION_WIDTH:]
    region, day = i[3], _day(at)
    values = _case_values(i, i[6], person, account_id, key, form, at, at + dt.timedelta(days=7))
    actor = f"account:{account_id}"
    title = f"您的申请已提交：{i[5]}"
    lane = next(_lanes) % SUBMIT_LANES
    await conn.fetchrow(
        stmts["submit"],
        region[:6],
        day,
        *values,
        f"{region[:6]}-{day}-",
        *_audit_hash_parts(region, actor, at, lane),
        actor,
        at,
        json.dumps(DETAILS),
        actor_name,
        "电脑端",
        title,
        json.dumps(title),
        lane,
    )


WORKLOAD = Submit()
