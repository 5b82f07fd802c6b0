"""The ASGI app of ``lastseen serve``, assembled: the JSON API (``api.py``), the web pages
(``ui.py``), their static files and templates, and the middleware around them.

Handlers only read and write the catalog (capture requests in, captures and custody out);
captures are made by the worker processes, which share the catalog and the store. What the
routes share lives on ``app.state`` and reaches them as dependencies: ``tokens`` and ``sessions``
(``ApiUser``, ``UiUser``), ``desk`` (``DeskDep``: the archive and its catalog), ``templates``
and ``forms`` (the forms' CSRF tokens).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from archive import Archive
from crawler.service import api, identifiers, media, metrics, ui
from crawler.service.auth import LoginNeeded, Sessions, Tokens, to_login
from crawler.service.bodylimit import BodyLimit
from crawler.service.config import ServiceConfig
from crawler.service.csrf import FormTokens, SameOrigin
from crawler.service.desk import Desk
from crawler.service.headers import SecurityHeaders

HERE = Path(__file__).parent
# Swagger UI and its stylesheet as fastapi-offline packages them (no CDN).
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"


def create_app(config: ServiceConfig, archive: Archive) -> FastAPI:
    app = FastAPI(
        title="lastseen capture service",
        summary="Report a URL; it is rendered, recorded as WARC and sealed with SHA-256.",
        description=(
            "Every endpoint but `/healthz` needs `Authorization: Bearer <token>`. "
            "The token's name is recorded as the reporter in the custody log."
        ),
        version=_version(),
        # Served by the API router behind the token like everything else.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.tokens = Tokens(config.tokens)
    app.state.sessions = Sessions(config.session_seconds)
    app.state.desk = Desk(archive, config)
    app.state.templates = Jinja2Templates(
        directory=str(HERE / "templates"), context_processors=[ui.csrf_context]
    )
    app.state.forms = FormTokens()
    app.add_middleware(BodyLimit, max_bytes=config.max_body)
    app.add_middleware(SameOrigin)
    # Outermost: every answer gets the headers, the body limit's 413 and the error pages too.
    app.add_middleware(SecurityHeaders)
    if config.trusted_proxies:
        # Outermost of all: the scheme and client address as the proxy saw them, for everything
        # after (the session cookie is Secure when the client used https).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(config.trusted_proxies))
    app.add_exception_handler(LoginNeeded, to_login)
    app.add_exception_handler(RequestValidationError, api.invalid_request)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # Swagger UI from the installed package, not a CDN: the service often runs on a closed network.
    app.mount("/docs-ui", StaticFiles(directory=str(SWAGGER_UI)), name="docs-ui")
    app.include_router(api.router)
    app.include_router(ui.router)
    app.include_router(identifiers.router)
    app.include_router(metrics.router)
    app.include_router(media.router)
    return app


def _version() -> str:
    from archive import __version__

    return __version__
