"""Shared parts of Solar Car Charge: config, models, stores, CLI."""
