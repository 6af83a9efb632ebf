"""GraphiQL from assets shipped inside the package: labs run air-gapped, so no CDN."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from starlette.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql"


@lru_cache(maxsize=1)
def graphiql_page(endpoint: str = "/graphql") -> str:
    html = (ASSETS_DIR / "index.html").read_text(encoding="utf-8")
    return html.replace("{assets}", ASSETS_PATH).replace("{endpoint}", endpoint)


def graphiql_assets() -> StaticFiles:
    return StaticFiles(directory=ASSETS_DIR)
