"""The phone switch and status page: app.py (the factory), pages.py and api.py (the views),
auth.py (who may call them), view.py (what is shown), server.py (waitress)."""

from toggle_app.app import create_app

__all__ = ["create_app"]
