"""Payload contracts, pure domain rules and database tables."""
