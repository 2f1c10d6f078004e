"""A local HTTP server speaking SearXNG's JSON search API, for tests of the web search tool.

``GET /search?q=…&format=json`` (also POST with a form, as SearXNG takes both) answers what
SearXNG's ``searx/webapp.py`` answers an instance whose ``search.formats`` lists ``json``:

- a format other than ``json`` (none given means ``html``) gets a bare HTTP 403, as SearXNG's
  ``flask.abort(403)`` for a format the instance does not enable (``json_enabled=False``
  refuses ``json`` too, like a default install);
- no ``q`` (or an empty one) gets HTTP 400 with ``{"error": "No query"}`` (``index_error``);
- otherwise ``{"query", "number_of_results", "results": [{"url", "title", "content",
  "engine", …}], "answers", "corrections", "infoboxes", "suggestions",
  "unresponsive_engines"}`` (``searx/webutils.py``, ``get_json_response``).

Failure modes (``failure``): ``"http_500"`` answers 500 with ``{"error": "search error"}`` as
SearXNG does when the search itself raises; ``"hang"`` never answers (until the client gives up
or the server stops); ``"bad_json"`` answers 200 ``application/json`` with a body cut short.

Every request to ``/search`` is recorded in ``queries`` as a `SearxQuery` dict (its ``q``,
``language``, all parameters and headers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypedDict
from urllib.parse import urlsplit

import orjson
from aiohttp import web

__all__ = ["DEFAULT_RESULTS", "SearchFailure", "SearxQuery", "SearxStandIn"]

SearchFailure = Literal["http_500", "hang", "bad_json"]

DEFAULT_RESULTS: tuple[tuple[str, str, str], ...] = (
    (
        "Python (programming language) - Wikipedia",
        "https://en.wikipedia.org/wiki/Python_(programming_language)",
        "Python is a high-level, general-purpose programming language.",
    ),
    (
        "Welcome to Python.org",
        "https://www.python.org/",
        "The official home of the Python Programming Language.",
    ),
    (
        "Python documentation",
        "https://docs.python.org/3/",
        "The official documentation of the current Python release.",
    ),
)
"""(title, url, content) of the results served unless a test gives its own."""

ENGINE = "duckduckgo"
"""The engine each result names (a SearXNG instance aggregates several; one is enough here)."""


class SearxQuery(TypedDict):
    """One request to ``/search`` as the server saw it."""

    q: str | None
    """The ``q`` parameter, None when absent."""
    language: str | None
    """The ``language`` parameter (e.g. ``ru``, ``en-US``, ``all``), None when absent."""
    params: dict[str, str]
    """Every parameter (query string and form), the last value of repeated ones."""
    headers: dict[str, str]
    """Request headers with lower-case names."""


class SearxStandIn:
    """A SearXNG instance on a free local port: ``async with SearxStandIn() as searx:`` and use
    ``searx.url`` as the search back end's base URL.

    ``results`` are (title, url, content) triples served in order for any query; ``failure``
    picks a failure mode (see the module docstring) and may be changed between requests;
    ``json_enabled=False`` plays an instance that serves HTML only (every JSON request 403).
    """

    def __init__(
        self,
        *,
        results: Sequence[tuple[str, str, str]] = DEFAULT_RESULTS,
        failure: SearchFailure | None = None,
        json_enabled: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.results: list[tuple[str, str, str]] = list(results)
        self.failure: SearchFailure | None = failure
        self.json_enabled = json_enabled
        self.host = host
        self.url = ""
        self.queries: list[SearxQuery] = []
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None

    async def start(self) -> None:
        """Listen on a free port of ``host`` and set ``url``; idempotent."""
        if self._runner is not None:
            return
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("GET", "/search", self._search)
        app.router.add_route("POST", "/search", self._search)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        """Release hanging requests and shut the server down; idempotent."""
        if self._runner is None:
            return
        if self._release is not None:
            self._release.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _search(self, request: web.Request) -> web.StreamResponse:
        # searx/webapp.py reads request.form, which merges the query string and a POSTed form.
        params = {key: value for key, value in request.query.items()}
        if request.method == "POST":
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
        self.queries.append(
            SearxQuery(
                q=params.get("q"),
                language=params.get("language"),
                params=params,
                headers={name.lower(): value for name, value in request.headers.items()},
            )
        )
        # webapp.py: an unknown format falls back to html; a format the instance's
        # search.formats does not list is flask.abort(403), a bare HTML page.
        if params.get("format", "html") != "json" or not self.json_enabled:
            raise web.HTTPForbidden()
        query = params.get("q")
        if not query:
            # webapp.py: index_error(output_format, 'No query'), 400.
            return _json({"error": "No query"}, status=400)
        if self.failure == "http_500":
            # webapp.py: any exception of the search is index_error(..., 'search error'), 500.
            return _json({"error": "search error"}, status=500)
        if self.failure == "hang":
            assert self._release is not None
            await self._release.wait()
            return _json({"error": "search error"}, status=500)
        if self.failure == "bad_json":
            body = orjson.dumps(self._answer(query))
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        return _json(self._answer(query))

    def _answer(self, query: str) -> dict[str, Any]:
        """The body of searx/webutils.py's get_json_response for the configured results."""
        results = [
            {
                "url": url,
                "title": title,
                "content": content,
                "engine": ENGINE,
                "engines": [ENGINE],
                "positions": [position],
                "score": 1.0 / position,
                "category": "general",
                "template": "default.html",
                "parsed_url": list(urlsplit(url)),
                "publishedDate": None,
                "thumbnail": "",
            }
            for position, (title, url, content) in enumerate(self.results, start=1)
        ]
        return {
            "query": query,
            # Most engines report no total; SearXNG then answers 0.
            "number_of_results": 0,
            "results": results,
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [],
            "unresponsive_engines": [],
        }


def _json(data: dict[str, Any], *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
