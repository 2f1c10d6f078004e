"""Realtime protocol client (OpenAI Realtime GA events, as Yandex AI Studio serves them).

``protocol`` holds the turn's logic without I/O; ``client`` owns the socket, timeouts and errors;
``providers`` builds the URL and headers from the provider's profile (``bot.provider_profiles``),
``probe`` measures a provider's live service.
"""
