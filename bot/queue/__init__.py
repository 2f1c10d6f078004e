"""The durable turn queue's worker: takes turns from the Redis stream (``bot.storage.turn_queue``)
in per-chat order, at least once, resuming its own after a restart and taking over a dead
worker's, and hands each to the core's answering.
"""
