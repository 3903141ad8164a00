"""One router per resource, mounted once by :func:`api.app.create_app`."""
