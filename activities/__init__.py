"""Every side effect: activity classes with injected dependencies, and the ledgers they share."""
