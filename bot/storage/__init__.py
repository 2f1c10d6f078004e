"""Redis storage: every key in ``keys``, the connection (and the embedded server) in ``redis``."""
