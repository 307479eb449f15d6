"""Random walks through the case lifecycle over HTTP (办件状态随机游走).

Each walk files a few cases and then, step after step, lets a random party —
the applicant, another citizen, the department's clerk, approver and head, a
supervisor, an approver of another department, a clerk of another city — try
a random action with a good or a malformed body on a random case, through
``POST /api/v1/cases/{id}/actions/{action}``. After every step:

- nothing answers 5xx;
- an action succeeds only if the case offered it to that party (``actions``
  of ``GET /api/v1/cases/{id}``), and it moves the case to the table's target
  (``lifecycle.TRANSITIONS``), with one more trail row;
- an offered action with a well-formed body succeeds (nothing certain to be
  refused is offered: no return from the first step, no extension once the
  legal maximum is used), except asking more extension days than are left;
- a refusal carries a stable code and a Chinese message, and changes nothing
  (state, step, extension, trail, correction notices);
- a party who cannot see the case gets the same answer as for no case.

At the end of a walk every case's trail is one unbroken chain ending in its
state, a final case offers nothing to anyone, and the audit chains verify.

The walks are seeded (``random.Random(seed)``): a failure names its seed and
the steps that led to it.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Any

import pytest

from tests import builders as b
from tests.cases.test_access_matrix import BODIES, GHOST
from tests.cases.test_pages import build, file_case
from tongban.cases import lifecycle
from tongban.core import audit
from tongban.web.deps import SESSION_COOKIE

SEEDS = range(6)
STEPS = 100
CASES_PER_WALK = 3
PARTIES = {
    "alice": "palice",  # the applicant
    "bob": "pbob",  # another citizen
    "clerk": "pclerk",
    "approver": "papprover",
    "head": "phead",  # dept_admin of the case's department
    "sup": "psup",  # supervisor
    "other": "pother",  # approver of another department
    "far": "pfar",  # clerk of another city
}
# How often each party acts: mostly those who can, so that walks go deep.
WEIGHTS = {
    "alice": 3,
    "bob": 1,
    "clerk": 3,
    "approver": 4,
    "head": 2,
    "sup": 1,
    "other": 1,
    "far": 1,
}
# Well-formed bodies beyond the access matrix's (resubmit: nothing to add).
GOOD = {**BODIES, "resubmit": {}}
GOOD_VARIANTS = {
    "decide": [{"outcome": "grant"}, {"outcome": "deny", "reason": "不符合法定条件"}],
    "deliver": [
        {"method": "electronic"},
        {"method": "window"},
        {"method": "post", "tracking_number": "SF1234567890"},
    ],
    "extend": [{"days": 5, "reason": "延期"}, {"days": 3, "reason": "情况复杂"}],
    "resume": [{}, {"result": "听证已举行"}],
}
# Bodies a client might send by mistake or on purpose: wrong types, missing
# fields, out of range, too long, nested where flat is expected.
ODD: list[Any] = [
    {},
    {"reason": ""},
    {"reason": "  "},
    {"reason": 12},
    {"reason": ["理由"]},
    {"reason": {"text": "理由"}},
    {"reason": "理" * 5000},
    {"comment": "备" * 5000, "reason": "理由"},
    {"outcome": "maybe"},
    {"outcome": ["grant"]},
    {"outcome": "deny"},
    {"kind": "nope", "reason": "理由"},
    {"kind": ["hearing"], "reason": "理由"},
    {"days": -1, "reason": "延期"},
    {"days": 0, "reason": "延期"},
    {"days": 10_000, "reason": "延期"},
    {"days": "五", "reason": "延期"},
    {"days": 2.5, "reason": "延期"},
    {"days": 1e300, "reason": "延期"},
    {"days": None, "reason": "延期"},
    {"days": [1], "reason": "延期"},
    {"method": "pigeon"},
    {"method": "post"},
    {"method": "post", "tracking_number": ["SF1234567890"]},
    {"method": "post", "tracking_number": 12345678},
    {"items": []},
    {"items": "营业执照"},
    {"items": [1]},
    {"items": [{"kind": "material"}]},
    {"items": [{"kind": "material", "name": ["营业执照"], "reason": "缺"}]},
    {"items": [{"kind": "material", "name": "营业执照", "reason": "缺"}] * 300},
    {"materials": "abc"},
    {"materials": ["营业执照"]},
    {"materials": [{}]},
    {"materials": [{"name": 5}]},
    {"materials": [{"name": "营业执照", "sha256": ["x"]}]},
    {"form_data": []},
    {"form_data": "x"},
    {"form_data": {"phone": "1"}},
    {"result": {"a": 1}},
    {"result": "结" * 5000},
]
# The one refusal of an offered action with a well-formed body: more days
# than the legal extension has left (the body asks 3 or 5; the case is
# offered "extend" only while some are left).
RULES_A_BODY_CANNOT_KNOW = {"extension_invalid"}
CJK = re.compile(r"[\u4e00-\u9fff]")
FINAL = lifecycle.FINAL_STATES
ENDINGS = {"reject", "withdraw", "void"}


def _weight(action: str) -> float:
    """An action that ends the case is picked rarely."""
    return 0.08 if action in ENDINGS else 1.0


def _as(client, token: str | None) -> dict[str, str]:
    return {"cookie": f"{SESSION_COOKIE}={token}"} if token else {}


def _view(client, case_id: int, token: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/cases/{case_id}", headers=_as(client, token))
    assert r.status_code == 200, r.text
    return r.json()


def _essence(view: dict[str, Any]) -> tuple:  # type: ignore[type-arg]
    return (
        view["state"],
        view["step_index"],
        view["extension_days"],
        len(view["trail"]),
        len(view["corrections"]),
        view["outcome"],
        view["delivery_method"],
    )


def _answer(r) -> tuple[int, str | None]:  # type: ignore[no-untyped-def]
    ctype = r.headers.get("content-type", "")
    return r.status_code, (r.json().get("code") if ctype.startswith("application/json") else None)


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_walks_keep_the_lifecycle(session, client, seed: int) -> None:
    w = await build(session)
    cases = [await file_case(session, w, f"walk-{seed}-{n:04d}") for n in range(CASES_PER_WALK)]
    await session.commit()
    ids = [c.id for c in cases]
    state_of = {c.id: c.state for c in cases}
    tokens = {party: b.session_token(client, user) for party, user in PARTIES.items()}
    reference = tokens["clerk"]  # the department's clerk sees every case of the walk
    rng = random.Random(seed)
    history: list[str] = []
    counts = {"ok": 0, "refused": 0, "unseen": 0}

    for step in range(STEPS):
        open_ids = [i for i in ids if state_of[i] not in FINAL]
        if len(open_ids) < 2:  # a new application keeps the walk going
            c = await file_case(session, w, f"walk-{seed}-{len(ids):04d}")
            await session.commit()
            ids.append(c.id)
            open_ids.append(c.id)
            state_of[c.id] = c.state
        case_id = rng.choice(open_ids if rng.random() < 0.9 else ids)
        before = _view(client, case_id, reference)
        views = {
            p: client.get(f"/api/v1/cases/{case_id}", headers=_as(client, t))
            for p, t in tokens.items()
        }
        offers = {
            p: {a["action"] for a in v.json()["actions"]} if v.status_code == 200 else set()
            for p, v in views.items()
        }
        # Mostly an action someone is offered, rarely one that ends the case
        # (walks go deep); otherwise anyone trying anything.
        pairs = [(p, a) for p in PARTIES for a in sorted(offers[p])]
        if pairs and rng.random() < 0.7:
            party, action = rng.choices(pairs, weights=[_weight(a) for _p, a in pairs])[0]
        else:
            party = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
            action = rng.choice([*lifecycle.TRANSITIONS, "fly"])
        token, seen, offered = tokens[party], views[party], offers[party]
        if rng.random() < 0.65:
            body = rng.choice(GOOD_VARIANTS.get(action) or [GOOD.get(action, {})])
            well_formed = True
        else:
            body, well_formed = rng.choice(ODD), False
        where = f"seed {seed} step {step}: {party} {action} {str(body)[:80]} on {before['state']}"
        history.append(where)
        context = "\n".join(history[-12:])

        r = client.post(
            f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=_as(client, token)
        )
        after = _view(client, case_id, reference)
        state_of[case_id] = after["state"]
        assert r.status_code < 500, f"{context}\n→ {r.status_code} {r.text[:300]}"

        if seen.status_code != 200:  # outside the party's scope: as if there were no case
            ghost = client.post(
                f"/api/v1/cases/{GHOST}/actions/{action}", json=body, headers=_as(client, token)
            )
            assert _answer(r) == _answer(ghost), context
            assert _essence(after) == _essence(before), context
            counts["unseen"] += 1
            continue

        if r.status_code == 200:
            counts["ok"] += 1
            t = lifecycle.TRANSITIONS[action]
            assert action in offered, f"{context}\n→ done though not offered ({offered})"
            assert after["state"] == (before["state"] if t.target == "=" else t.target), context
            assert len(after["trail"]) == len(before["trail"]) + 1, context
            assert after["trail"][-1]["action"] == action, context
            mine = _view(client, case_id, token)
            assert r.json()["actions"] == mine["actions"], context  # the answer shows what is next
        else:
            counts["refused"] += 1
            code = r.json().get("code")
            message = r.json().get("message", "")
            assert code and CJK.search(message), f"{context}\n→ {r.status_code} {r.text[:300]}"
            assert _essence(after) == _essence(before), f"{context}\n→ refused ({code}) but changed"
            if action in offered and well_formed:
                assert code in RULES_A_BODY_CANNOT_KNOW, (
                    f"{context}\n→ offered, well-formed, refused: {r.status_code} {r.text[:300]}"
                )

    # Every case: one unbroken trail ending in its state; a final case offers nothing.
    for case_id in ids:
        view = _view(client, case_id, reference)
        trail = view["trail"]
        assert trail[0]["to"] == "submitted"
        for prev, row in itertools.pairwise(trail):
            assert row["from"] == prev["to"], (seed, case_id, trail)
        assert trail[-1]["to"] == view["state"]
        if view["state"] in lifecycle.FINAL_STATES:
            for token in tokens.values():
                r = client.get(f"/api/v1/cases/{case_id}", headers=_as(client, token))
                assert r.status_code != 200 or r.json()["actions"] == [], (seed, case_id)
    session.expire_all()
    report = await audit.verify(session)
    assert report.ok, report.problems[:3]
    # the walk went somewhere: actions were taken and refused
    assert counts["ok"] >= 5 and counts["refused"] >= 5, counts
