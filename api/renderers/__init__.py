"""Renderings of registry results for people: CSV files and HTML pages."""
