"""The web process keeps its start-up heap out of the cyclic garbage
collector's passes (``web.app.create_app``'s lifespan: ``gc.freeze()``), and
gives it back when the application stops."""

from __future__ import annotations

import gc

from starlette.testclient import TestClient


def test_start_up_heap_frozen_while_serving(app) -> None:
    gc.unfreeze()  # nothing frozen before this application starts
    with TestClient(app, base_url="http://testserver") as client:
        # modules, table metadata, the app: not walked by a full pass
        assert gc.get_freeze_count() > 10_000
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0  # collectable again once stopped
