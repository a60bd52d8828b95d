"""Minimal Channels relay used as the BASELINE target of ``bench/relay.py``."""
