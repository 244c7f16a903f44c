"""Pieces of ember.nn.functional, one file per area, re-exported by functional.py."""
