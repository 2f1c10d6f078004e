"""The core owns the turn: ``admission`` (the receiver's decision: answer or refuse, and why),
``answering`` (the worker's turn: settings, memory, the model's turn, retries, usage, the
outcome). It reaches the outside only through the protocols of ``ports``, typed with the
domain's values (``bot.domain``), and imports no adapter: the stores, the tools, the realtime
turn and the queue are handed to it by the composition root (``bot.app``).
"""
