"""The SearXNG search back end against a local SearXNG stand-in."""

from __future__ import annotations

import time
import traceback
from collections.abc import AsyncIterator

import pytest

from bot.errors import ToolFailed
from bot.tools.search import SNIPPET_CHARS, SearchHit, SearxSearch
from stand_ins.redis import free_port
from stand_ins.search import DEFAULT_RESULTS, SearchFailure, SearxStandIn

# The instance sits behind a proxy that wants a token in the query: it must reach the server
# and never an error message.
SECRET = "s3cret-token"


@pytest.fixture
async def searx() -> AsyncIterator[SearxStandIn]:
    async with SearxStandIn() as server:
        yield server


@pytest.fixture
async def backend(searx: SearxStandIn) -> AsyncIterator[SearxSearch]:
    search = SearxSearch(f"{searx.url}/?token={SECRET}", timeout=2.0)
    yield search
    await search.close()


def assert_no_secret(exc: BaseException) -> None:
    """Neither the message nor the traceback as it would be logged names the URL."""
    shown = str(exc) + "".join(traceback.format_exception(exc))
    assert SECRET not in shown
    assert "127.0.0.1" not in shown


async def test_results_as_hits(searx: SearxStandIn, backend: SearxSearch) -> None:
    hits = await backend.search("python")
    assert hits == [SearchHit(title, url, content) for title, url, content in DEFAULT_RESULTS]
    (query,) = searx.queries
    assert query["q"] == "python"
    assert query["language"] is None
    assert query["params"] == {"token": SECRET, "q": "python", "format": "json"}
    assert query["headers"]["accept"] == "application/json"


async def test_a_query_is_one_line_of_bounded_length(
    searx: SearxStandIn, backend: SearxSearch
) -> None:
    await backend.search("  weather\n in   Kazan  " + "x" * 1000)
    sent = searx.queries[0]["q"]
    assert sent.startswith("weather in Kazan x") and len(sent) == 300


async def test_limit_and_language(searx: SearxStandIn, backend: SearxSearch) -> None:
    searx.results = [(f"Result {i}", f"https://example.com/{i}", f"Text {i}") for i in range(10)]
    hits = await backend.search("новости", limit=2, language="ru")
    assert [h.url for h in hits] == ["https://example.com/0", "https://example.com/1"]
    assert searx.queries[0]["q"] == "новости"
    assert searx.queries[0]["language"] == "ru"


async def test_only_web_links_and_short_clean_snippets(
    searx: SearxStandIn, backend: SearxSearch
) -> None:
    long_text = "word " * 200
    searx.results = [
        ("Script", "javascript:alert(1)", "no"),
        ("File", "file:///etc/passwd", "no"),
        ("FTP", "ftp://example.com/x", "no"),
        ("Relative", "/just/a/path", "no"),
        ("  Spaced\n title ", "http://example.com/a", "  several\n\n  lines\tof text  "),
        ("Long", "https://example.com/b", long_text),
        ("", "https://example.org/c", ""),
    ]
    hits = await backend.search("anything", limit=10)
    assert [h.url for h in hits] == [
        "http://example.com/a",
        "https://example.com/b",
        "https://example.org/c",
    ]
    assert hits[0] == SearchHit("Spaced title", "http://example.com/a", "several lines of text")
    assert len(hits[1].snippet) <= SNIPPET_CHARS
    assert hits[1].snippet.endswith("word…")
    assert hits[2].title == "example.org"  # no title: the site's name stands in


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("http_500", "search is unavailable right now (HTTP 500)"),
        ("hang", "search did not answer in time"),
        ("bad_json", "search gave an unreadable answer"),
    ],
)
async def test_failures_are_tool_failures_without_the_url(
    searx: SearxStandIn, failure: SearchFailure, reason: str
) -> None:
    searx.failure = failure
    backend = SearxSearch(f"{searx.url}/?token={SECRET}", timeout=0.3)
    started = time.perf_counter()
    try:
        with pytest.raises(ToolFailed) as excinfo:
            await backend.search("python")
    finally:
        await backend.close()
    assert str(excinfo.value) == reason
    assert_no_secret(excinfo.value)
    assert time.perf_counter() - started < 2.0
    assert searx.queries[0]["params"]["token"] == SECRET


async def test_an_instance_without_json_is_a_tool_failure(backend: SearxSearch) -> None:
    async with SearxStandIn(json_enabled=False) as html_only:
        search = SearxSearch(f"{html_only.url}/?token={SECRET}")
        try:
            with pytest.raises(ToolFailed) as excinfo:
                await search.search("python")
        finally:
            await search.close()
    assert str(excinfo.value) == "search is unavailable right now (HTTP 403)"
    assert_no_secret(excinfo.value)


async def test_no_server_is_a_tool_failure() -> None:
    search = SearxSearch(f"http://127.0.0.1:{free_port()}/?token={SECRET}", timeout=2.0)
    try:
        with pytest.raises(ToolFailed) as excinfo:
            await search.search("python")
    finally:
        await search.close()
    assert str(excinfo.value) == "search is unavailable right now (no connection)"
    assert_no_secret(excinfo.value)


async def test_an_empty_query_asks_nothing(searx: SearxStandIn, backend: SearxSearch) -> None:
    with pytest.raises(ToolFailed, match="empty"):
        await backend.search("  ")
    assert searx.queries == []


async def test_close_and_search_again(searx: SearxStandIn, backend: SearxSearch) -> None:
    assert len(await backend.search("one")) == 3
    assert len(await backend.search("two")) == 3
    await backend.close()
    await backend.close()  # idempotent
    assert len(await backend.search("three")) == 3  # a new session
    assert [q["q"] for q in searx.queries] == ["one", "two", "three"]


async def test_the_stand_in_answers_as_searxng(searx: SearxStandIn) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{searx.url}/search", params={"q": "x"}) as resp:
            assert resp.status == 403  # no format: html, which this instance does not serve
        async with http.get(f"{searx.url}/search", params={"format": "json"}) as resp:
            assert resp.status == 400
            assert await resp.json() == {"error": "No query"}
        async with http.post(f"{searx.url}/search", data={"q": "post", "format": "json"}) as resp:
            body = await resp.json()
    assert body["query"] == "post"
    assert {"title", "url", "content", "engine"} <= set(body["results"][0])
    assert [q["q"] for q in searx.queries] == ["x", None, "post"]
