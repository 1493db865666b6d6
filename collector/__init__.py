"""collector: see service.py."""
