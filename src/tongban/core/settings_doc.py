"""Render ``docs/configuration.md`` from the settings class (kept equal by a test)."""

from __future__ import annotations

from pydantic_core import PydanticUndefined

from tongban.core.settings import Settings


def render_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `tongban.core.settings.Settings` by `tongban docs-config`; do not edit by hand.",
        "Every setting is an environment variable with the `TONGBAN_` prefix (a `.env` file in the",
        "working directory is read too).",
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is PydanticUndefined else str(default)
        if shown == "":
            shown = '""' if default == "" else "—"
        ann = getattr(field.annotation, "__name__", None) or str(field.annotation).replace(
            "typing.", ""
        )
        desc = (field.description or "").replace("|", "\\|")
        lines.append(f"| `TONGBAN_{name.upper()}` | {ann} | `{shown}` | {desc} |")
    lines.append("")
    return "\n".join(lines)
