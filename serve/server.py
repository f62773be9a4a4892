"""Run the ``plansok serve`` web page: a threaded stdlib WSGI server, loopback by default."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import socket
import webbrowser
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from plansok.api import Index, default_index_path
from plansok.errors import PlansokError
from plansok.serve.app import ServeApp

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow search does not block the page's assets."""

    daemon_threads = True
    allow_reuse_address = True
    index: Index
    app: ServeApp

    def server_close(self) -> None:
        super().server_close()
        app = getattr(self, "app", None)
        if app is not None:
            app.close()
        # socketserver calls this when binding fails too, before make_server set the index.
        index = getattr(self, "index", None)
        if index is not None:
            index.close()


class ThreadingWSGIServer6(ThreadingWSGIServer):
    """For an IPv6 --host such as ::1."""

    address_family = socket.AF_INET6


class QuietHandler(WSGIRequestHandler):
    """Access lines go to logging (debug), not to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def is_loopback_host(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_server(
    index_dir: Path | str | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allow_remote: bool = False,
) -> ThreadingWSGIServer:
    """A bound, not yet serving, server over the index at ``index_dir``.
    ``port=0`` picks a free port (see ``server.server_address``)."""
    if not is_loopback_host(host) and not allow_remote:
        raise PlansokError(
            f"--host {host}: the page would be reachable from other machines, and it has no login; "
            "add --allow-remote if that is what you want (default: 127.0.0.1, this machine only)"
        )
    if allow_remote and not is_loopback_host(host):
        logger.warning("serving on %s: anyone who can reach this address can search and add to collections", host)
    index = Index.open(Path(index_dir) if index_dir else default_index_path())
    try:
        server_class = ThreadingWSGIServer6 if ":" in host else ThreadingWSGIServer
        server = server_class((host, port), QuietHandler)
    except OSError as exc:
        index.close()
        raise PlansokError(_listen_error(host, port, exc)) from exc
    bound_port = server.server_address[1]
    # Browsers send the Host they were pointed at; accept the --host name too.
    extra = [] if host in ("0.0.0.0", "::") else [host if ":" not in host else f"[{host}]"]
    app = ServeApp(index, bound_port, allow_remote=allow_remote, extra_hosts=extra)
    server.set_app(app)
    server.index = index
    server.app = app
    return server


def _listen_error(host: str, port: int, exc: OSError) -> str:
    """Why the server cannot listen, and what to do about it, in one sentence."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is in use on {host} (another plansok serve, or another program); "
            f"stop it, or pick another port: plansok serve --port {port + 1} (--port 0 takes any free port)"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on {host}:{port} (ports below 1024 need root); try --port {DEFAULT_PORT}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; leave --host out to serve on 127.0.0.1"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def server_url(server: ThreadingWSGIServer) -> str:
    host, port = server.server_address[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(str(host), str(host))
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run(
    index_dir: Path | str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allow_remote: bool = False,
    open_browser: bool = False,
) -> None:
    """Serve until Ctrl-C."""
    server = make_server(index_dir, host, port, allow_remote)
    url = server_url(server)
    print(f"plansok: serving {server.index.path} at {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``plansok serve``."""
    parser.add_argument(
        "--index",
        metavar="DIR",
        type=Path,
        default=None,
        help="index directory (default: $PLANSOK_INDEX or ./plansok-index)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only); others need --allow-remote",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let other machines connect (there is no login: anyone who reaches the port can use the index)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")


def run_from_args(args: argparse.Namespace) -> int:
    run(args.index, args.host, args.port, args.allow_remote, args.open)
    return 0
