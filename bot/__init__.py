"""Telegram voice assistant on a realtime speech model."""

__version__ = "0.1.0"
