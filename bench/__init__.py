"""Benchmarks of the bot against a baseline following the reference flow: ``python -m bench``.

``python -m bench.hotpath`` measures what one private-chat voice turn costs on the way to the
model: Redis commands and round trips before the model connection and in the whole turn, and
the latency from the update to the realtime handshake and to ``response.create``, for a baseline
revision and the current working tree side by side (`bench.hotpath`, `bench.redis_probe`).
"""
