"""Content-addressed file store (附件): blank forms, samples, case materials.

Bytes live under ``<data_dir>/files/ab/cd/<sha256>``, written to a temporary
name and renamed (a crash leaves no half file under a real name). A
``stored_file`` row records size, type and first name; the same bytes are
stored once. Type is checked from the content's magic bytes, not the name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import BigInteger, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tongban.core.clock import now
from tongban.core.db import Base
from tongban.core.errors import NotFound, ValidationFailed
from tongban.core.settings import get_settings

# Accepted types, recognised by their first bytes.
MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"PK\x03\x04", "application/zip", ".zip"),  # docx / xlsx / ofd are zip containers
)
OFFICE_EXTENSIONS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ofd": "application/ofd",
}


class StoredFile(Base):
    __tablename__ = "stored_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))  # the first name it was uploaded under
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


Scanner = Callable[[bytes, str], Awaitable[str | None]]
_scanners: list[Scanner] = []


def register_scanner(fn: Scanner) -> Scanner:
    """Plug in a virus scanner (ClamAV daemon, a vendor API …): ``await fn(data, name)``
    returns ``None`` when clean, else the finding, which refuses the upload."""
    _scanners.append(fn)
    return fn


def root() -> Path:
    return get_settings().data_dir / "files"


def path_of(sha256: str) -> Path:
    return root() / sha256[:2] / sha256[2:4] / sha256


def sniff(data: bytes, name: str) -> str:
    """The content type from the bytes; ``ValidationFailed`` for anything not accepted."""
    for magic, ctype, _ext in MAGIC:
        if data.startswith(magic):
            if ctype == "application/zip":
                ext = os.path.splitext(name.lower())[1]
                if ext in OFFICE_EXTENSIONS:
                    return OFFICE_EXTENSIONS[ext]
                break
            return ctype
    raise ValidationFailed(
        "文件类型不支持：只接受 PDF、PNG、JPEG 图片和 Word、Excel、OFD 文档",
        code="file_type_not_allowed",
    )


def clean_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip() or "附件"
    return "".join(ch for ch in base if ch.isprintable())[:200]


async def store(
    session: AsyncSession, data: bytes, name: str, *, account_id: int | None = None
) -> StoredFile:
    """Store ``data`` once (by its SHA-256) and return its record."""
    limit = get_settings().media_max_mb * 1024 * 1024
    if not data:
        raise ValidationFailed("文件为空", code="file_empty")
    if len(data) > limit:
        raise ValidationFailed(
            f"文件过大：最大 {get_settings().media_max_mb} MB", code="file_too_large"
        )
    ctype = sniff(data, name)
    for scan in _scanners:
        finding = await scan(data, name)
        if finding:
            raise ValidationFailed(
                f"文件未通过安全检查：{finding}", code="file_rejected_by_scanner"
            )
    digest = hashlib.sha256(data).hexdigest()
    existing = await session.get(StoredFile, digest)
    target = path_of(digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    if existing:
        return existing
    row = StoredFile(
        sha256=digest,
        size=len(data),
        content_type=ctype,
        name=clean_name(name),
        uploaded_by=account_id,
    )
    session.add(row)
    await session.flush()
    return row


async def load(session: AsyncSession, sha256: str) -> tuple[StoredFile, bytes]:
    row = (
        await session.execute(select(StoredFile).where(StoredFile.sha256 == sha256))
    ).scalar_one_or_none()
    if row is None or not path_of(sha256).exists():
        raise NotFound("文件不存在", code="file_not_found")
    return row, path_of(sha256).read_bytes()
