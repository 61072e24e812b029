"""``ramp-server dispatch``: run the training dispatcher alone (for scripts, tests, a GPU cluster)."""

from __future__ import annotations

import argparse
import signal
import threading


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dispatch",
        help="train queued submissions (embedded Dask cluster or --scheduler)",
        description="Claim queued submissions from the database and train each fold in the "
        "sandbox on Dask workers; scores are written to the database. Without --scheduler "
        "(or RAMP_SCHEDULER_ADDRESS) a local cluster of --workers processes is started.",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="Dask scheduler address, e.g. tcp://gpu-head:8786 (default: settings)",
    )
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once nothing is queued or training (exit code 0)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes of the local cluster (default: settings.local_workers)",
    )
    p.set_defaults(func=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    from ramp_server.cli import CliError, setup_logging
    from ramp_server.cli.context import settings_from_args
    from ramp_server.engine.sandbox_policy import SandboxUnavailable, resolve_mode

    setup_logging()
    settings = settings_from_args(args)
    if args.workers is not None and args.workers < 1:
        raise CliError("--workers must be at least 1")
    # with an external scheduler the sandboxes run on its workers, not here
    local = not (args.scheduler or settings.scheduler_address)
    try:
        resolve_mode(
            sandbox=settings.sandbox, allow_unsafe=settings.allow_unsafe_sandbox, local=local
        )
    except SandboxUnavailable as exc:
        raise CliError(str(exc)) from None

    from ramp_server.engine.background import ReblendHook, local_limits
    from ramp_server.engine.cluster import close, connect
    from ramp_server.engine.dispatcher import Dispatcher

    client, cluster = connect(settings, scheduler_address=args.scheduler, n_workers=args.workers)
    stop = threading.Event()
    interrupted: list[int] = []

    def _stop(signum: int, _frame: object) -> None:
        # Ctrl-C stops like SIGTERM: running folds stay `training` and the next dispatcher
        # requeues them without charging an attempt.
        if not stop.is_set():
            print(
                "dispatcher: stopping; interrupted folds are requeued by the next run", flush=True
            )
        interrupted.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    dispatcher = hook = None
    try:
        hook = ReblendHook(settings).start()
        dispatcher = Dispatcher(
            settings,
            client=client,
            limits=local_limits(settings, cluster),
            local_sandboxes=local,
            on_scored=hook.on_scored,
        )
        dispatcher.run(until_idle=args.until_idle, stop=stop)
        print(f"dispatcher: {dispatcher.n_scored} submission(s) scored")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if hook is not None:  # --until-idle: the leaderboard's blend is up to date on exit
            hook.close(wait_s=600.0 if args.until_idle and not stop.is_set() else 0.0)
        if dispatcher is not None:
            dispatcher.close()
        close(client, cluster)
    return 130 if signal.SIGINT in interrupted else 0
