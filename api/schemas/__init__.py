"""Request and response shapes (``*Create`` / ``*Update`` / ``*Public``)."""
