"""The box's web page (Starlette): log in, the cameras with their live picture and counts, the line editor;
/metrics for Prometheus. Plain HTML, CSS and JavaScript from edge/web/static: no build step, nothing fetched
from elsewhere (boxes are often offline).

Every page but the login and /metrics needs a session; every write needs the session's CSRF token (header
X-CSRF-Token, or form field `csrf`). A request the page cannot take gets a 4xx with a one-line plain-text
reason; an error of ours is a 500 with one line, logged, and `edge run` goes on counting.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from string import Template
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.errors import EdgeError
from edge.run.loop import Camera, Runner
from edge.web.auth import LoginThrottle, Session, Sessions, same_token, verify_password
from edge.web.lines import parse_body, save_lines
from edge.web.state import BoxState

log = logging.getLogger("edge.web")

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE, LOGIN_COOKIE = "edge_session", "edge_login"
MAX_BODY = 64 * 1024
APPLY_TIMEOUT_S = 10.0
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _refuse(status: int, reason: str) -> PlainTextResponse:
    return PlainTextResponse(reason.splitlines()[0] if reason else "refused", status_code=status)


class _Guard:
    """Security headers on every answer; one plain line for anything that went wrong, never a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).update(HEADERS)
            await send(message)

        try:
            await self.app(scope, receive, send_secured)
        except Exception as e:  # a bug of ours must not take edge run down, nor show its insides
            log.exception("web request failed", extra={"path": scope.get("path", "")})
            if not started:
                await _refuse(500, f"internal error ({type(e).__name__}): see the edge run log")(
                    scope, receive, send_secured)


class WebApp:
    """The routes over one running box; `config_path` is the box.toml the line editor rewrites."""

    def __init__(self, runner: Runner, config_path: Path) -> None:
        self.runner, self.config_path = runner, config_path
        self.settings = runner.config.web
        self.sessions = Sessions(self.settings.session_hours)
        self.throttle = LoginThrottle(self.settings.login_failures, self.settings.login_window_s)
        self.state = BoxState(runner)
        self.templates = {name: Template((STATIC / f"{name}.html").read_text()) for name in ("index", "login")}

    def app(self) -> Starlette:
        routes = [
            Route("/", self.index),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/api/state", self.api_state),
            Route("/api/cameras/{camera}/frame.jpg", self.frame),
            Route("/api/cameras/{camera}/lines", self.put_lines, methods=["PUT"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
        if self.settings.metrics:
            routes.append(Route("/metrics", self.metrics))

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return _refuse(exc.status_code, str(exc.detail))

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            self.state.close()

        return Starlette(routes=routes, middleware=[Middleware(_Guard)], exception_handlers={HTTPException: http_error},
                         lifespan=lifespan)

    # -- sessions -----------------------------------------------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE))

    def _require(self, request: Request, write: bool = False) -> Session:
        session = self._session(request)
        if session is None:
            raise HTTPException(401, "log in first: open / and give the box's web password")
        if write and not same_token(request.headers.get("x-csrf-token"), session.csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
        return session

    def _login_form(self, status: int = 200, error: str = "") -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        if self.settings.password_hash is None:
            error = error or ("no web password is set on this box: set one with "
                              "`edge provision --web-password ...`, then restart edge run")
        page = self.templates["login"].substitute(csrf=token, error=html.escape(error),
                                                  device=html.escape(self.runner.config.device_id))
        response = HTMLResponse(page, status_code=status)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
        return response

    async def _form(self, request: Request) -> dict[str, str]:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
        body = await _body(request, 4096)
        try:
            fields = parse_qs(body.decode(), strict_parsing=False, max_num_fields=8)
        except (UnicodeDecodeError, ValueError) as e:
            raise HTTPException(400, f"malformed form: {e}") from None
        return {k: v[0] for k, v in fields.items()}

    # -- pages --------------------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(self.templates["index"].substitute(
            csrf=session.csrf, device=html.escape(self.runner.config.device_id)))

    async def login_page(self, request: Request) -> Response:
        if self._session(request) is not None:
            return RedirectResponse("/", status_code=303)
        return self._login_form()

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        form = await self._form(request)
        if not same_token(form.get("csrf"), request.cookies.get(LOGIN_COOKIE) or "-"):
            return self._login_form(403, "the login form expired: try again")
        if (wait := self.throttle.wait_s(client)) > 0:
            log.warning("login refused: too many failures", extra={"client": client})
            return self._login_form(429, f"too many failed logins: try again in {wait:.0f} s")
        stored = self.settings.password_hash
        if stored is None:
            return self._login_form(403)
        if not await asyncio.to_thread(verify_password, form.get("password", ""), stored):
            self.throttle.failed(client)
            log.warning("login failed", extra={"client": client})
            return self._login_form(401, "wrong password")
        self.throttle.succeeded(client)
        token, _ = self.sessions.open()
        log.info("logged in", extra={"client": client})
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(self.sessions.seconds), httponly=True,
                            samesite="strict", path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: Request) -> Response:
        session = self._session(request)
        if session is not None:
            form = await self._form(request)
            if not same_token(form.get("csrf"), session.csrf):
                raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
            self.sessions.close(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- data ---------------------------------------------------------------------------------------------

    async def api_state(self, request: Request) -> Response:
        self._require(request)
        return JSONResponse(await asyncio.to_thread(self.state.snapshot))

    def _camera(self, request: Request) -> Camera:
        name = request.path_params["camera"]
        cam = self.state.camera(name)
        if cam is None:
            raise HTTPException(404, f"no camera {name!r} on this box")
        return cam

    async def frame(self, request: Request) -> Response:
        self._require(request)
        cam = self._camera(request)
        data = await asyncio.to_thread(self.state.jpeg, cam)
        if data is None:
            raise HTTPException(503, f"no picture from camera {cam.name} yet: see its status")
        return Response(data, media_type="image/jpeg")

    async def put_lines(self, request: Request) -> Response:
        self._require(request, write=True)
        cam = self._camera(request)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send the lines as application/json")
        raw = parse_body_or_400(await _body(request, MAX_BODY))
        view = cam.view
        size = (view.frame.image.shape[1], view.frame.image.shape[0]) if view is not None else None
        try:
            lines = await asyncio.to_thread(save_lines, self.config_path, cam.name, raw, size)
        except EdgeError as e:
            raise HTTPException(422, str(e)) from None
        try:
            effective = await asyncio.wait_for(asyncio.wrap_future(self.runner.change_lines(cam.name, lines)),
                                               APPLY_TIMEOUT_S)
        except (EdgeError, TimeoutError) as e:
            raise HTTPException(503, f"saved to {self.config_path} but not applied ({e or 'timed out'}): "
                                     "restart edge run") from None
        return JSONResponse({"saved": str(self.config_path), "effective_us": effective,
                             "lines": [{"name": ln.name, "a": [ln.x1, ln.y1], "b": [ln.x2, ln.y2]} for ln in lines]})

    async def metrics(self, request: Request) -> Response:
        return Response(await asyncio.to_thread(self.runner.metrics.render), media_type=CONTENT_TYPE_LATEST)


def parse_body_or_400(body: bytes) -> list:
    try:
        return parse_body(body)
    except EdgeError as e:
        raise HTTPException(400, str(e)) from None


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused beyond `limit` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413, f"request body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
