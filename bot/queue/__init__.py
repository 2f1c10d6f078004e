"""The durable turn queue on Redis Streams.

``jobs`` is what a turn carries; ``producer`` writes accepted turns (before Telegram's update is
confirmed); ``worker`` takes them with a consumer group, in per-chat order, at least once, with
an idempotency mark so an answered turn is not answered again; ``slots`` caps the realtime
sessions open at once across every worker.
"""
