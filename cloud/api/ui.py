"""The dashboard and the API docs: every file served from the package (sites are offline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from .deps import SettingsDep

STATIC = Path(__file__).resolve().parent.parent / "dashboard" / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    """Send a browser to the dashboard."""
    return RedirectResponse("/dashboard/")


@router.get("/dashboard/settings.json")
def dashboard_settings(settings: SettingsDep) -> dict[str, object]:
    """What the dashboard script needs to know about this server."""
    return {"poll_ms": int(settings.dashboard_poll_s * 1000), "title": settings.title}


def mount_static(app: FastAPI, docs: bool) -> None:
    """Mount the dashboard files, and Swagger UI from the swagger-ui-bundle package."""
    if docs:
        from swagger_ui_bundle import swagger_ui_path

        app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

        @app.get("/docs", include_in_schema=False)
        def swagger() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} — API",
                swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                swagger_css_url="/static/swagger/swagger-ui.css",
                swagger_favicon_url="/static/swagger/favicon-32x32.png",
            )

    app.mount("/dashboard", StaticFiles(directory=STATIC, html=True), name="dashboard")
