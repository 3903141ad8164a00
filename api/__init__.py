"""The faces of the service: the HTTP API, the web page and the ``modic`` command line."""
