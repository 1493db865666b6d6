"""Simulated devices, so every part runs and is tested without hardware (docs/design.md,
"Testing")."""
