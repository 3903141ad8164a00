"""Repositories: the only code that queries the database."""
