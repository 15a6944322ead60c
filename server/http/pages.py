"""HTML pages. They are static shells; ES modules under /static fetch the data they show."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["PAGES", "page_routes"]


PAGES = {
    "/": "index",
    "/sessions/{session_id}": "session",
    "/join/{token}": "join",
    "/review/sessions/{session_id}": "record",
    "/review": "review",
    "/review/trainees/{trainee_id}": "trainee",
    "/review/program": "program",
    "/admin": "admin",
    # The one-time token is in the fragment (/reset#token), which never reaches the server.
    "/reset": "reset",
}


def page_routes(web_dir: Path) -> list[BaseRoute]:
    def page(url: str, name: str) -> Route:
        path = web_dir / "pages" / f"{name}.html"

        async def endpoint(_request: Request) -> Response:
            # no-store: the join page's URL carries an invite token; no page is worth caching.
            return FileResponse(path, headers={"Cache-Control": "no-store"})

        endpoint.__name__ = f"page_{name}"
        return Route(url, endpoint, methods=["GET"])

    async def service_worker(_request: Request) -> Response:
        # At the root, so its scope is the whole site (the review pages' offline copies);
        # no-cache: a new version reaches phones on their next visit.
        return FileResponse(
            web_dir / "static" / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    return [
        *(page(url, name) for url, name in PAGES.items()),
        Route("/sw.js", service_worker, methods=["GET"]),
        # Compressed for phones on mobile data (the notes bundle is 310 KiB, ~100 KiB gzipped).
        # Only static assets: API responses carry secrets (CSRF tokens) and are left alone.
        Mount(
            "/static",
            app=GZipMiddleware(StaticFiles(directory=web_dir / "static"), minimum_size=1024),
            name="static",
        ),
    ]
