"""Uploading materials (申请材料): content-addressed, type from the bytes, size-limited,
through the scanner hook. The returned sha256 is what a submission names."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongban.core import files
from tongban.core.errors import PermissionDenied, ValidationFailed
from tongban.web.deps import DB, CurrentActor

router = APIRouter(tags=["办件"])


@router.post(
    "/uploads", summary="上传申请材料（PDF、PNG、JPEG、Word、Excel、OFD）", status_code=201
)
async def upload(request: Request, session: DB, actor: CurrentActor) -> dict:
    if actor.kind not in ("person", "staff"):
        raise PermissionDenied("请以申请人或窗口工作人员身份上传", code="upload_forbidden")
    limit = request.app.state.settings.media_max_mb * 1024 * 1024
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + 64 * 1024:
        raise ValidationFailed(
            f"文件过大：最大 {request.app.state.settings.media_max_mb} MB", code="file_too_large"
        )
    form = await request.form(max_files=1, max_fields=2)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ValidationFailed("请选择要上传的文件（表单字段 file）", code="file_required")
    data = await upload.read(limit + 1)
    row = await files.store(session, data, upload.filename or "附件", account_id=actor.account_id)
    return {
        "sha256": row.sha256,
        "name": row.name,
        "size": row.size,
        "content_type": row.content_type,
    }
