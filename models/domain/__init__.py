"""Pure, deterministic business rules. Imports only the standard library, pydantic and contracts."""
