"""HTML pages. They are static shells; ES modules under /static fetch the data they show."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["page_routes"]


def page_routes(web_dir: Path) -> list[BaseRoute]:
    pages = web_dir / "pages"

    def page(name: str) -> Route:
        path = pages / f"{name}.html"

        async def endpoint(_request: Request) -> Response:
            return FileResponse(path, headers={"Cache-Control": "no-cache"})

        endpoint.__name__ = f"page_{name}"
        return Route("/" if name == "index" else f"/{name}", endpoint, methods=["GET"])

    return [
        page("index"),
        Mount("/static", app=StaticFiles(directory=web_dir / "static"), name="static"),
    ]
