"""Redis storage: the only package that talks to Redis.

``keys`` names every key; ``redis`` holds the client (and the embedded server), ``connection``
the name the layers above pass it on by; ``retry`` the one retry policy, which
``queue_admission`` applies to the turn queue's admission step for the core. What each store
does when Redis is away:

- fail hard (raise ``StorageError``, or a redis-py error the caller waits out with ``retrying``):
  ``turn_queue`` (nothing accepted may be lost), ``chat_settings`` (a turn must not be answered
  with the wrong voice or instructions, nor a change be reported done when it was not), and
  ``memory.forget`` (the user was told the conversation is gone);
- degrade quietly (log one line, carry on): ``memory`` reads and writes (the turn is answered
  without context), ``usage`` counting (a turn is never failed for its bookkeeping),
  ``chat_status`` (a chat counts as reachable), ``admins`` (a cache miss asks Telegram).
"""
