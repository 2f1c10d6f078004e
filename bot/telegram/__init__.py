"""The Telegram adapter: turns updates into jobs for the core (routers, filters, middlewares)
and implements the core's ports with Bot API calls."""
