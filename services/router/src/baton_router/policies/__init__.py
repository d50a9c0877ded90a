"""Policies shipped with the router (YAML documents, read with importlib.resources)."""
