"""Package data: one JSON rule-set file per trial version, named ``<trial>_<version>.json``."""
