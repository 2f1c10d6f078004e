"""Web search through a SearXNG instance (``SEARCH_URL``): the ``web_search`` tool where the
provider runs none of its own (OpenAI)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import orjson
from yarl import URL

from bot.errors import ToolFailed

__all__ = ["SearchBackend", "SearchHit", "SearxSearch"]

MAX_QUERY_CHARS = 300

SNIPPET_CHARS = 300
"""Longest snippet handed to the model: enough to answer from, short enough to speak."""
TITLE_CHARS = 150
MAX_BODY_BYTES = 4 * 1024 * 1024
"""A SearXNG answer is a few tens of kilobytes; anything past this is not one."""

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    snippet: str = ""


class SearchBackend(Protocol):
    """Web search run by the bot (``SearxSearch``; the tests' own)."""

    async def search(self, query: str, *, limit: int = 5, language: str = "") -> list[SearchHit]:
        """The top ``limit`` results; raises ``ToolFailed`` when the back end fails."""
        ...


class SearxSearch:
    """Searches a SearXNG instance through its JSON API (``GET /search?format=json``; the
    instance must list ``json`` in ``search.formats``). One HTTP session, opened on the first
    search and closed by `close`.

    ``base_url`` may carry credentials (user info, a query parameter); it never appears in an
    error, since errors are told to the model and logged.
    """

    def __init__(self, base_url: str, *, timeout: float = 8.0) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def search(self, query: str, *, limit: int = 5, language: str = "") -> list[SearchHit]:
        """The top ``limit`` results for ``query``. Raises ``ToolFailed`` (with a short reason
        the model can tell the user, never the URL) when the back end fails or times out."""
        query = " ".join(query.split())[:MAX_QUERY_CHARS]  # a query, not a page of text
        if not query:
            raise ToolFailed("the search query is empty")
        params = {"q": query, "format": "json"}
        if language:
            params["language"] = language
        body = await self._get(self._search_url(params))
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ToolFailed("search gave an unreadable answer") from None
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ToolFailed("search gave an unreadable answer")
        hits: list[SearchHit] = []
        for result in results:
            if len(hits) >= limit:
                break
            hit = _hit(result)
            if hit is not None:
                hits.append(hit)
        return hits

    async def close(self) -> None:
        """Close the HTTP session; a later search opens a new one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _search_url(self, params: dict[str, str]) -> URL:
        base = URL(self.base_url)
        # Keeps a query the base URL carries (an access token, say) beside the search's own.
        search = base.with_path(base.path.rstrip("/") + "/search").with_query(base.query)
        return search.update_query(params)

    async def _get(self, url: URL) -> bytes:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json"})
        # Every failure is re-raised "from None": aiohttp's own errors name the URL.
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.get(url) as response:
                    if response.status != 200:
                        raise ToolFailed(
                            f"search is unavailable right now (HTTP {response.status})"
                        )
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        size += len(chunk)
                        if size > MAX_BODY_BYTES:
                            raise ToolFailed("search gave an unreadable answer")
                        chunks.append(chunk)
        except TimeoutError:
            raise ToolFailed("search did not answer in time") from None
        except aiohttp.ClientError:
            raise ToolFailed("search is unavailable right now (no connection)") from None
        return b"".join(chunks)


def _hit(result: object) -> SearchHit | None:
    """One SearXNG result as a hit, or None when it has no http(s) URL."""
    if not isinstance(result, dict):
        return None
    url = result.get("url")
    if not isinstance(url, str):
        return None
    try:
        parsed = URL(url.strip())
    except ValueError:
        return None
    # A model must not be handed javascript:, data: or file: links to read out or follow.
    if parsed.scheme.lower() not in ("http", "https") or not parsed.host:
        return None
    title = _shorten(_text(result.get("title")), TITLE_CHARS) or str(parsed.host)
    return SearchHit(
        title=title,
        url=url.strip(),
        snippet=_shorten(_text(result.get("content")), SNIPPET_CHARS),
    )


def _text(value: object) -> str:
    return _SPACE.sub(" ", value).strip() if isinstance(value, str) else ""


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary where there is one,
    with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"
