"""Pieces of ember.nn.functional, one file per family, re-exported by functional.py."""
