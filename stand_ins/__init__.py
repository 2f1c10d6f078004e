"""Local stand-ins for the servers the bot talks to, shared by ``tests/`` and ``bench/``.

``bot_api`` speaks the Telegram Bot API over HTTP, ``realtime`` the Realtime protocol over a
WebSocket, ``redis`` starts a real redis-server on a free port, ``media`` makes inputs with the
real ffmpeg command.
"""
