"""The turn pipeline: audio or text plus chat settings in, reply voice and text out.

Knows nothing of Telegram; the Telegram side and the CLI are thin adapters over it.
"""
