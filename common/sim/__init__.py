"""Simulated house, meter and charger: demo, replay and tests without hardware."""
