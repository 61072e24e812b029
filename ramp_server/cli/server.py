"""``ramp-server serve``: the web platform (uvicorn) and, by default, the embedded dispatcher."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("ramp_server.serve")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the web platform (and the embedded dispatcher unless disabled)",
        description="Serve the pages and the JSON API with uvicorn. With embedded_dispatcher "
        "(RAMP_EMBEDDED_DISPATCHER, default on) the training dispatcher runs in the same process.",
    )
    p.add_argument("--host", default=None, help="address to bind (default: settings.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings.port)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="web server processes (default: settings.web_workers)",
    )
    p.add_argument(
        "--no-dispatcher",
        action="store_true",
        help="do not start the embedded dispatcher even if settings.embedded_dispatcher is on",
    )
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from ramp_server.cli import CliError, setup_logging
    from ramp_server.cli.context import settings_from_args
    from ramp_server.engine.background import start_background_dispatcher
    from ramp_server.web.app import create_app

    setup_logging()
    settings = settings_from_args(args)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    workers = args.workers if args.workers is not None else settings.web_workers
    if workers < 1:
        raise CliError(f"--workers must be at least 1, got {workers}")
    if workers > 1:
        # each worker process builds its app from the environment: hand it the --config file
        if args.config:
            os.environ["RAMP_CONFIG_FILE"] = os.path.abspath(args.config)
        app = "ramp_server.web.app:create_app_from_env"
    else:
        app = create_app(settings)
    handle = None
    if settings.embedded_dispatcher and not args.no_dispatcher:
        handle = start_background_dispatcher(settings)
        error = handle.error
        if error:
            log.error("the embedded dispatcher is not training submissions: %s", error)
            if workers == 1:  # administrators see it on every page
                app.state.templates.env.globals["dispatcher_error"] = str(error)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            workers=workers if workers > 1 else None,
            factory=workers > 1,
            # uvicorn's 5 s default kills a process that is merely busy (a burst of logins on
            # a loaded machine), dropping every request it holds
            timeout_worker_healthcheck=settings.web_worker_timeout_s,
            log_level="info",
            proxy_headers=False,
        )
    finally:
        if handle is not None:
            handle.stop()
    return 0
