"""Licences as PDF: WeasyPrint over a self-contained HTML page (as ``catalogue.pdf``).

The page carries its CSS, its QR code (inline SVG) and the seal picture (a
``data:`` URI: SVG made by the platform or an uploaded PNG). The URL fetcher
accepts ``data:`` URIs only, so licence data can never make the server fetch
anything. Renders run on a thread under the process-wide WeasyPrint lock that
guide PDFs use; results are cached under ``<data_dir>/cache/licence-pdf/`` by
the SHA-256 of the HTML (a revocation, a new version or another script is new
HTML, so the cache is never stale).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path

from tongban.catalogue import pdf as guide_pdf

_locks: dict[int, asyncio.Lock] = {}


def render(html: str) -> bytes:
    import weasyprint
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=["data"], fail_on_errors=False)
    with guide_pdf._render_lock:  # one WeasyPrint render per process, guides included
        return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


def _path(data_dir: Path, key: str) -> Path:
    return data_dir / "cache" / "licence-pdf" / key[:2] / f"{key}.pdf"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


async def cached_pdf(html: str, *, data_dir: Path) -> bytes:
    key = hashlib.sha256(html.encode()).hexdigest()
    path = _path(data_dir, key)
    if path.exists():
        return path.read_bytes()
    loop = asyncio.get_running_loop()
    lock = _locks.setdefault(id(loop), asyncio.Lock())
    async with lock:
        if path.exists():
            return path.read_bytes()
        data = await asyncio.to_thread(render, html)
        await asyncio.to_thread(_write, path, data)
    return data
