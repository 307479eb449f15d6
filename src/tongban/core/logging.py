"""Structured logs: one JSON object per line, with the request id.

Personal data never reaches a log line unmasked: callers log masked values
(``core.identifiers.mask_*``); ``RedactingFilter`` is a last line of defence
that masks anything shaped like an identity number or a mobile number.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
import sys
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_ID_RE = re.compile(r"(?<![0-9])([1-9]\d{5})(\d{8})(\d{3}[\dXx])(?![0-9])")
_PHONE_RE = re.compile(r"(?<![0-9])(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")


def redact(text: str) -> str:
    text = _ID_RE.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        red = redact(msg)
        if red != msg:
            record.msg, record.args = red, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        extra = getattr(record, "fields", None)
        if extra:
            data.update(extra)
        if record.exc_info:
            data["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(data, default=str).decode()


def configure(level: str = "INFO", *, json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs requests
