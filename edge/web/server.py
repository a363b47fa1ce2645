"""The web page's server: uvicorn in a thread of `edge run`, on a socket bound before it starts.

Binding first turns "address in use" into one logged line (the box goes on counting without its page)
instead of uvicorn's exit; uvicorn's own logs go through edge's logfmt handler.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path

import uvicorn

from edge.run.loop import Runner
from edge.web.app import WebApp

log = logging.getLogger("edge.web")


class WebServer:
    def __init__(self, runner: Runner, config_path: Path) -> None:
        self.runner, self.config_path = runner, config_path
        self.settings = runner.config.web
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        """Serve in a thread; log and go on without the page when the address cannot be bound."""
        host, port = self.settings.host, self.settings.port
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(64)
        except OSError as e:
            log.error("web page not served", extra={"address": f"{host}:{port}", "error": e.strerror or str(e),
                                                     "fix": "set [web] host and port to a free local address"})
            return self
        edge_handlers = logging.getLogger("edge").handlers
        for name in ("uvicorn", "uvicorn.error"):
            logging.getLogger(name).handlers[:] = edge_handlers
            logging.getLogger(name).propagate = False
        config = uvicorn.Config(WebApp(self.runner, self.config_path).app(), log_config=None, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=2, limit_concurrency=64,
                                timeout_keep_alive=5, server_header=False)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), name="web",
                                        daemon=True)
        self._thread.start()
        log.info("web page served", extra={"address": self.settings.url})
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
