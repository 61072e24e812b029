"""Concurrent participants against a real ``ramp-server serve``: latency per page, no lost uploads.

Seeds a database (SQLite file by default, PostgreSQL with ``--database-url`` or ``--postgres``)
with N participants (default 50), an event made from a tiny synthetic kit (no submission delay,
no daily quota, collaborative phase open) and a few scored submissions, starts
``ramp-server serve --no-dispatcher`` on a free loopback port and lets N simulated participants
(one thread and one keep-alive HTTP client each) work for a bounded time. Each logs in through
the form, then goes round: event page, public leaderboard, the JSON leaderboard (API token), its
"my submissions" page, a submission page, that submission's code (API), and now and then an
upload through the web form (multipart, CSRF token) or the API, some of them under a name it
already used (refused by design: must be a 400 that says so).

At the end every response is checked (no 5xx, no connection error, no unexpected status) and
the database is compared with what the server accepted: every accepted submission present
exactly once with its files and folds, nothing else added. Printed: one row per page (requests,
p50, p95, max, errors, p95 against the anchor), the submissions accepted and refused, the
machine. The anchor is ``/static/style.css`` (no database), fetched by the same participants in
the same run, so the ratios tell each page's own cost whatever the machine's load. Timings are
printed, never asserted; ``tests/web/test_load.py`` runs the same driver briefly and asserts
the correctness checks.

    .venv/bin/python bench/load_participants.py                      # 50 participants, 60 s, SQLite
    .venv/bin/python bench/load_participants.py --postgres           # throwaway PostgreSQL database
    .venv/bin/python bench/load_participants.py --database-url postgresql+psycopg://u@host/empty_db
"""

import argparse
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from load import make_kit, run_load
from load.pgdb import PG_ADMIN_URL, throwaway_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.5,
        help="mean pause of a participant between requests, s (uniform in 0..2x; default 0.5)",
    )
    parser.add_argument("--scored", type=int, default=10, help="scored submissions seeded first")
    parser.add_argument("--database-url", default=None, help="an empty database; default: SQLite")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        default=None,
        metavar="ADMIN_URL",
        help="create a throwaway database on this server (default "
        f"{PG_ADMIN_URL}), dropped after the run",
    )
    parser.add_argument(
        "--cheap-passwords",
        action="store_true",
        help="argon2 with the web tests' cheap parameters (logins ~1 ms instead of ~0.3 s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary storage dir")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ramp_load_"))
    with ExitStack() as stack:
        if args.postgres:
            args.database_url = stack.enter_context(
                throwaway_database(args.postgres, prefix="ramp_load")
            )
        return _run(args, tmp)


def _run(args: argparse.Namespace, tmp: Path) -> int:
    from ramp_server.config import load_settings

    try:
        overrides: dict[str, Any] = {"storage_dir": tmp}
        if args.database_url:
            overrides["database_url"] = args.database_url
        settings = load_settings(**overrides)
        kit = make_kit(tmp / "kit", seed=args.seed)
        report = run_load(
            settings,
            kit_dir=kit,
            participants=args.participants,
            duration_s=args.duration,
            think_s=args.think,
            scored=args.scored,
            cheap_password_hashing=args.cheap_passwords,
            seed=args.seed,
        )
        print(report.table())
        failed = (
            report.server_errors
            or report.connection_errors
            or report.problems
            or report.db_problems
            or report.tracebacks
        )
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
