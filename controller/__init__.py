"""controller: see service.py."""
