"""GraphiQL for development: the page ``GET /graphql`` answers a browser, and its assets
under ``/graphiql/``, all served from this package (vendored from the npm registry, see
docs/api.md#graphiql), with a token sign-in (assets/sign-in.js). Neither exists unless
GraphiQL is enabled (development mode, or ``GRAPHIQL``)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "assets"

# Scripts and styles from this server only; GraphiQL's editors set inline styles.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def page() -> HTMLResponse:
    return HTMLResponse((ASSETS / "index.html").read_text(),
                        headers={"Content-Security-Policy": POLICY,
                                 "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "same-origin"})


def assets() -> Mount:
    return Mount("/graphiql", app=StaticFiles(directory=ASSETS), name="graphiql")
