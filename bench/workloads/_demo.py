"""Shared by workloads that need the demo province's accounts (not a
workload itself: modules starting with ``_`` are skipped by the registry)."""

from __future__ import annotations

import json
import sys

from bench.workloads import Context


def load_demo(ctx: Context) -> dict:
    """Load the demo province with ``tongban demo --accounts-json`` and keep
    the accounts file's content in ``ctx.state["demo"]``."""
    if "demo" not in ctx.state:
        path = ctx.work_dir / "demo-accounts.json"
        ctx.cli("demo", "--accounts-json", str(path))
        data = json.loads(path.read_text(encoding="utf-8"))
        if not data.get("citizens"):
            raise SystemExit(f"tongban demo wrote no citizens into {path}")
        if ctx.clients > len(data["citizens"]):
            print(
                f"[bench] {ctx.clients} clients but {len(data['citizens'])} demo citizens: "
                "some clients share an account",
                file=sys.stderr,
            )
        ctx.state["demo"] = data
    return ctx.state["demo"]


def citizen(ctx: Context, index: int) -> tuple[str, str]:
    """(username, password) of the citizen client ``index`` uses: a
    different one per client."""
    data = ctx.state["demo"]
    citizens = data["citizens"]
    return citizens[index % len(citizens)], data["password"]
