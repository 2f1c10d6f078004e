"""Audio: decode anything FFmpeg reads to PCM16 24 kHz mono, encode replies to OGG/Opus voice notes.

``codec`` holds the one codec path (FFmpeg's libraries through PyAV); ``pcm`` the numpy level
and duration checks. Codec calls block: callers run them in a worker thread.
"""
