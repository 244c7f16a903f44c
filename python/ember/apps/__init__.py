"""Runnable applications: ``python -m ember.apps.fashion_mnist`` (Ember's main job)."""
