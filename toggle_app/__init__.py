"""The phone switch and status page: see app.py."""
