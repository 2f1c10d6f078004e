"""Benchmarks of the bot against a baseline following the reference flow: ``python -m bench``."""
