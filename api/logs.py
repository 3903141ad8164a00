"""Logging of ``modic serve``: plain lines (warnings and errors), or with ``MODIC_LOG_FORMAT=json`` one
JSON object per line, including one line per request (``modic.requests``: method, route template,
status, milliseconds). Messages never carry hospital identifiers (see docs/security.md)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from registry.settings import LogFormat

_FIELDS = ("levelname", "name", "process", "message")


def configure_logging(log_format: LogFormat) -> None:
    """Send this process's log records to stderr in ``log_format`` (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.json:
        handler.setFormatter(
            JsonFormatter(_FIELDS, rename_fields={"levelname": "level", "name": "logger"}, timestamp="time")
        )
        level = logging.INFO
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        level = logging.WARNING
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # modic.requests says more
