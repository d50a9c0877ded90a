"""The library every Baton service is built on. Nothing here runs at import time."""
