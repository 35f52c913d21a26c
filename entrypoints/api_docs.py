"""The API's interactive documentation, served from the hub itself.

FastAPI's default ``/docs`` and ``/redoc`` load their scripts from a CDN: blank on a machine
without internet, and a third party's script running beside the API's data. Swagger UI comes
from a package (``swagger-ui-bundle``) and is served under ``/docs/assets``; ReDoc has no such
package and is left out.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

__all__ = ["serve_docs"]

ASSETS = "/docs/assets"
# Only what the page loads: the package also holds Swagger's own demo page and its petstore.
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def serve_docs(app: FastAPI) -> None:
    """``/docs`` with its assets from this process (the app is made with ``docs_url=None``)."""

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in _FILES:
            raise HTTPException(404, f"no documentation asset {name!r}")
        return FileResponse(str(swagger_ui_path / name))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
