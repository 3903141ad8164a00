"""Services: units of work with their transaction and audit trail."""
