"""Simulated devices, so every part runs and is tested without hardware (DESIGN.md section 10)."""
