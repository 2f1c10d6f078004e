"""The ``web_search`` tool: run by the provider where it has one (Yandex's reserved
declaration, its calls the provider's own), else by the bot's back end (``web_search(query)``
on a SearXNG instance, ``bot.tools.search``); without either the deployment has no web search.

At most ``searches_per_turn`` searches are run by the bot in one turn, ``search_results``
results each; the pages a search found are listed under the answer (``TurnTools.sources``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.errors import LimitReached, ToolFailed
from bot.tools.common import text_argument
from bot.tools.spec import Source, ToolSpec, function, schema

if TYPE_CHECKING:
    from bot.tools.kit import ToolKit, TurnTools

__all__ = ["WEB_SEARCH"]

SEARCHES_PER_TURN = 3
SEARCH_RESULTS = 5
_SLOT = "searches"  # of the turn's slots (``TurnTools.take``)


async def web_search(tools: TurnTools, arguments: dict[str, Any]) -> dict[str, Any]:
    search = tools.kit.search
    if search is None:  # the provider's search left a call to the bot, which has none
        raise ToolFailed("web search is unavailable right now; answer from what you know")
    query = text_argument(arguments, "query")
    limit = tools.limit("searches_per_turn")
    if not tools.take(_SLOT, limit):
        raise LimitReached(
            f"web searches are limited to {limit} per request; answer with what the searches "
            "so far found"
        )
    # A search that fails was still asked of the back end: its slot stays taken.
    hits = await search.search(query, limit=tools.limit("search_results"), language=tools.job.lang)
    seen = {source.url for source in tools.sources}
    for hit in hits:
        if hit.url and hit.url not in seen:
            seen.add(hit.url)
            tools.sources.append(Source(title=hit.title or hit.url, url=hit.url))
    return {"results": [{"title": h.title, "url": h.url, "snippet": h.snippet} for h in hits]}


def _has_search(kit: ToolKit) -> bool:
    return kit.provider_search or kit.search is not None


_DESCRIPTION = (
    "Search the web for current information: news, weather, prices, schedules, and facts you "
    "do not know or that may have changed."
)

WEB_SEARCH = ToolSpec(
    name="web_search",
    declarations=(
        function(
            "web_search",
            _DESCRIPTION,
            schema(
                ["query"],
                query={
                    "type": "string",
                    "description": "The search query: a few keywords, in the language most "
                    "likely to find good results.",
                },
            ),
        ),
    ),
    handlers={"web_search": web_search},
    instructions=(
        "- web_search: use it for anything recent or that you are not sure of (news, weather, "
        "prices, schedules, facts that change); say briefly where facts are from."
    ),
    aliases=("search", "websearch", "web"),
    limits={"searches_per_turn": SEARCHES_PER_TURN, "search_results": SEARCH_RESULTS},
    # Yandex's reserved function, run on its side: ``parameters`` is the string "{}", as
    # Yandex's own example declares it.
    provider_declarations=(
        {"type": "function", "name": "web_search", "description": _DESCRIPTION, "parameters": "{}"},
    ),
    available=_has_search,
)
