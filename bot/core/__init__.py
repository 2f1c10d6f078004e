"""The core owns the turn: ``admission`` (the receiver's decision: answer or refuse, and why),
``answering`` (the worker's turn: settings, memory, pipeline, retries, usage, the outcome),
``pipeline`` (one realtime turn, streamed). It talks to the outside through ``ports`` and knows
nothing of Telegram; ``models`` holds the value types every layer shares.
"""
