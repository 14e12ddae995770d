"""Transaction scripts on a session (DESIGN §3): used by activities and by API routes alike.
They return domain results and raise domain errors, never HTTP types."""
