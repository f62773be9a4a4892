"""``plansok serve``: a local web page over the Python API (search, read pages, collect).

Everything is served from this machine to this machine: no CDN, no fonts, no
external requests, and by default only loopback clients are answered.
"""

from __future__ import annotations

from plansok.serve.app import ServeApp, highlight_html, locate_passage
from plansok.serve.server import add_arguments, make_server, run, run_from_args

__all__ = ["ServeApp", "add_arguments", "highlight_html", "locate_passage", "make_server", "run", "run_from_args"]
