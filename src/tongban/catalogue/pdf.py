"""Guides as PDF (办事指南 PDF): WeasyPrint over a self-contained HTML page.

- Fonts come from fontconfig: the template asks for "WenQuanYi Micro Hei"
  (the CJK font ``dev.py`` installs) with the usual CJK families as fallbacks.
- Nothing is fetched: the HTML carries its CSS and its QR code (inline SVG);
  the URL fetcher refuses every URL but ``data:``, so guide text can never
  make the server request anything.
- WeasyPrint takes tens to hundreds of milliseconds a page, so PDFs are cached
  on disk, content-addressed by the SHA-256 of the HTML they are made from:
  a new guide version, a renamed department or another script (简/繁) gives
  other HTML and so another file; an unchanged guide is never rendered twice,
  by any worker sharing ``data_dir``. Renders run on a thread, one at a time
  per process (WeasyPrint and fontconfig are not meant for concurrent use).
  The cache holds at most ``CACHE_MAX_FILES`` PDFs (oldest written go first).
- The QR code and printed links use ``settings.base_url``; set it in
  production (without it they follow the request's Host header).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno

log = logging.getLogger("tongban.catalogue.pdf")

FONT_STACK = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Droid Sans Fallback", sans-serif'

_render_lock = threading.Lock()  # one WeasyPrint render at a time in this process
# Per event loop: an asyncio.Lock belongs to the loop it first waited on.
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@lru_cache(maxsize=4096)
def qr_svg(url: str, *, scale: int = 3) -> str:
    """An inline SVG QR code (error correction M) for ``url`` (a few
    milliseconds to make: kept, since every guide page carries one for paper)."""
    return segno.make(url, error="m").svg_inline(scale=scale, border=2, dark="#000")


def render_pdf(html: str) -> bytes:
    """HTML to PDF bytes (blocking; call through ``cached_pdf``). WeasyPrint's own
    fetcher, allowed ``data:`` URIs only: guide text can never make the server fetch."""
    import weasyprint
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=["data"], fail_on_errors=False)
    with _render_lock:
        return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


def cache_dir(data_dir: Path) -> Path:
    return data_dir / "cache" / "guide-pdf"


@dataclass(frozen=True)
class CachedPdf:
    key: str  # SHA-256 of the HTML: also the ETag
    data: bytes
    rendered_ms: float | None  # None: served from the cache


def key_of(html: str) -> str:
    return hashlib.sha256(html.encode()).hexdigest()


def _path(data_dir: Path, key: str) -> Path:
    return cache_dir(data_dir) / key[:2] / f"{key}.pdf"


CACHE_MAX_FILES = 5000  # ~70 KB each; superseded versions and old HTML age out
_PRUNE_EVERY = 100
_writes = 0


def _write(path: Path, data: bytes) -> None:
    global _writes
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers see the whole file or none
    _writes += 1
    if _writes % _PRUNE_EVERY == 0:
        prune(path.parent.parent)


def prune(root: Path, keep: int = CACHE_MAX_FILES) -> int:
    """Delete the least recently written PDFs beyond ``keep`` (the cache is
    keyed by HTML, so old guide versions and addresses never come back)."""
    found = []
    for p in root.glob("*/*.pdf"):
        try:
            found.append((p.stat().st_mtime, p))
        except FileNotFoundError:
            continue
    if len(found) <= keep:
        return 0
    found.sort()
    for _, p in found[: len(found) - keep]:
        p.unlink(missing_ok=True)
    return len(found) - keep


async def cached_pdf(html: str, *, data_dir: Path) -> CachedPdf:
    """The PDF of ``html``, from the cache or rendered (off the event loop) and stored."""
    key = key_of(html)
    path = _path(data_dir, key)
    if path.exists():
        return CachedPdf(key, path.read_bytes(), None)
    lock = _loop_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:  # concurrent requests for a new guide render it once
        if path.exists():
            return CachedPdf(key, path.read_bytes(), None)
        start = time.perf_counter()
        data = await asyncio.to_thread(render_pdf, html)
        ms = (time.perf_counter() - start) * 1000
        await asyncio.to_thread(_write, path, data)
    log.info(
        "guide pdf rendered",
        extra={"fields": {"key": key[:12], "ms": round(ms, 1), "bytes": len(data)}},
    )
    return CachedPdf(key, data, ms)
