"""The handheld pages (`/pda`, DESIGN §3a): a warehouse device pairs once with the one-time code
its manager was shown (the API key it gets is kept in an HttpOnly cookie: nobody types or sees
it), a worker signs in with their badge, then picks a task stop by stop and packs at the pack
station, scanning every unit into the box (复核). Mobile-first, one focused input (a
keyboard-wedge scanner types the code and Enter), colour and sound for right and wrong.

Like the console, the pages talk to /v1 only, in process, with the device's own key. Every form
of an action carries an id made on the device (static/js/pda.js; the page's own one when
scripts are off): a post that lost its answer is sent again with the same id, and the API
answers what it answered the first time."""

from __future__ import annotations

from types import ModuleType
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from console.client import Forbidden, NotFound, Refused, SignedOut, WorkerSignInRequired
from console.pages import ConsoleConfig, ConsoleState
from console.pda import (
    count,
    handover,
    lookup,
    move,
    pack,
    pick,
    put_wall,
    putaway,
    receive,
    returns,
    sign_in,
    transfer,
)
from console.pda.common import (
    STATIC,
    NotPaired,
    NoWorker,
    csrf_failed,
    http_error,
    no_worker,
    not_paired,
    refused,
)
from console.security import CsrfFailed, SecurityHeaders

# One module per screen, each with its `router`; a new screen is a module added here.
SCREENS: Final[tuple[ModuleType, ...]] = (
    sign_in,
    pick,
    put_wall,
    pack,
    handover,
    receive,
    putaway,
    move,
    count,
    returns,
    transfer,
    lookup,
)


def create_pda(api: ASGIApp) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.console = ConsoleState(api=api, config=ConsoleConfig())
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for screen in SCREENS:
        app.include_router(screen.router)
    app.add_exception_handler(NotPaired, not_paired)
    app.add_exception_handler(NoWorker, no_worker)
    app.add_exception_handler(WorkerSignInRequired, no_worker)  # the API's own worker check
    app.add_exception_handler(CsrfFailed, csrf_failed)
    app.add_exception_handler(SignedOut, not_paired)
    app.add_exception_handler(Forbidden, refused)
    app.add_exception_handler(NotFound, refused)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
    return app
