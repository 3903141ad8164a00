"""Allocation schemes, one ``<trial>.json`` per trial (package data)."""
