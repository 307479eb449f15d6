"""Domain errors: one base class, a stable machine code and a Chinese message.

Every error the platform shows a person is an ``AppError``. One handler in
``tongban.web.app`` renders it as ``{"code", "message"}`` JSON for the API or
as an HTML message for pages. Codes are stable: clients and tests rely on them.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code: str = "error"
    message: str = "操作失败"
    status: int = 400
    # Keep the transaction's work even though the request fails: for errors
    # that must leave a trace (a failed sign-in counted towards lockout, a
    # wrong SMS code counted towards its attempt limit). Default: roll back.
    persist: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        persist: bool | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.status = status or type(self).status
        self.details = details
        if persist is not None:
            self.persist = persist
        super().__init__(f"{self.code}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(AppError):
    code = "validation_failed"
    message = "提交的内容不符合要求"
    status = 422


class InvalidCharacter(ValidationFailed):
    """A NUL (U+0000) in a request (``web.nul.NulGuard``)."""

    code = "invalid_character"
    message = "提交的内容含有无效字符（空字符），请删除后重新提交"


class BadValue(ValidationFailed):
    """A value the driver refused: an integer past the column's range
    (``web.nul.is_bad_value``)."""

    code = "value_invalid"
    message = "提交的数值超出范围或格式不正确，请检查后重新提交"


class NotFound(AppError):
    """Also used when a record exists but lies outside the actor's scope,
    so that probing ids reveals nothing."""

    code = "not_found"
    message = "未找到该记录，或您无权查看"
    status = 404


class NotAuthenticated(AppError):
    code = "not_authenticated"
    message = "请先登录"
    status = 401


class PermissionDenied(AppError):
    code = "permission_denied"
    message = "您没有执行此操作的权限"
    status = 403


class Conflict(AppError):
    code = "conflict"
    message = "数据已被他人修改，请刷新后重试"
    status = 409


class RateLimited(AppError):
    code = "rate_limited"
    message = "操作过于频繁，请稍后再试"
    status = 429


class ConfigurationError(AppError):
    code = "configuration_error"
    message = "系统配置有误，请联系管理员"
    status = 500


# pydantic error types → Chinese field messages (the API's validation_failed details).
FIELD_MESSAGES = {
    "missing": "必填项未填写",
    "string_too_short": "内容太短",
    "string_too_long": "内容太长",
    "too_short": "至少需要一项",
    "too_long": "项数过多",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为是或否",
    "json_invalid": "请求内容不是有效的 JSON",
    "model_attributes_type": "请求内容格式错误",
    "model_type": "请求内容格式错误",
    "dict_type": "请求内容格式错误",
    "list_type": "应为列表",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "greater_than": "数值太小",
    "greater_than_equal": "数值太小",
    "less_than": "数值太大",
    "less_than_equal": "数值太大",
    "string_pattern_mismatch": "格式不正确",
    "value_error": "取值无效",
    "extra_forbidden": "包含不允许的字段",
}


def field_errors(
    errors: list[dict[str, Any]], *, strip: tuple[str, ...] = ("body", "query", "path")
) -> list[dict[str, str]]:
    """pydantic ``errors()`` → ``[{"field": "a.0.b", "message": 中文}]``."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in strip]
        msg = FIELD_MESSAGES.get(err.get("type", ""), "取值无效")
        if err.get("type") == "value_error" and err.get("ctx", {}).get("error"):
            msg = str(err["ctx"]["error"])
        out.append({"field": ".".join(loc), "message": msg})
    return out


class Duplicate(AppError):
    """重复提交: a unique constraint refused a row another request created at the same moment."""

    code = "duplicate"
    message = "该记录已存在（可能刚由他人同时提交），请刷新后查看"
    status = 409


class InternalError(AppError):
    """系统繁忙: an unexpected error, answered with the request id to quote."""

    code = "internal_error"
    message = "系统繁忙，请稍后再试"
    status = 500

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "request_id": self.request_id}
