"""One business process per module. Deterministic and sandboxed: no I/O, clock or settings."""
