"""An app for ``test_balancer``: its start blocks the event loop for
``SLOW_START_SECONDS`` (as a long migration or a slow first connection
would), then it answers ``GET /healthz``."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        time.sleep(float(os.environ.get("SLOW_START_SECONDS", "0")))  # blocks the loop on purpose
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
