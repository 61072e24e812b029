"""The web platform: FastAPI app with server-rendered pages and a JSON API under ``/api/``.

Build it with :func:`ramp_server.web.app.create_app`.
"""
