"""The field strength the project expects by default (docs/imaging.md#field-strength).

A module of its own, without numpy, so that the settings can take their default from it cheaply.
"""

DEFAULT_FIELD_STRENGTH_T = 0.2
"""Field strength of the rest-vs-exercise trial's scanner (Siemens MAGNETOM Open Viva, Jensen 2012): the
default of the ``MODIC_EXPECTED_FIELD_STRENGTH_T`` setting, which every ingest path receives."""
