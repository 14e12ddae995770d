"""The OpenAPI docs page, served offline: Swagger UI from the files vendored with the console
(console/static/vendor/swagger-ui, with their licence), never from a CDN."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER_UI = "/console/static/vendor/swagger-ui"


def install(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url="data:,",
            # The validator badge would call validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
