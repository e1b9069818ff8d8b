"""The Flask map app (``create_app(settings)``)."""
