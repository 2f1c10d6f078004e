"""The Telegram side: aiogram routers, filters and middlewares over the turn pipeline."""
