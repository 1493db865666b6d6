"""The phone switch and status page: see app.py (routes), view.py (what is shown), server.py."""

from toggle_app.app import create_app

__all__ = ["create_app"]
