"""The HTTP edge: starts, updates, signals and queries workflows; writes only reference data."""
