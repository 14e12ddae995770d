"""API schemas, separate from workflow contracts so HTTP and workflow payloads evolve apart."""
