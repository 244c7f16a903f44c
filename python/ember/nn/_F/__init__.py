"""Private homes of ember.nn.functional's families (re-exported by functional.py)."""
