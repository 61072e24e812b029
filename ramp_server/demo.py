"""The platform demo (``scripts/demo``): synthetic data, an event, a few participants, training, web.

Everything goes through the public ``ramp-server`` verbs, the same scripting contract operators
use, on the embedded default (SQLite file + local Dask cluster in ``--storage``). Re-running it
reuses what is already there.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ramp_server.cli import main as cli

REPO = Path(__file__).resolve().parent.parent
EVENT = "spipoll"
#: (participant, submission folder) pairs submitted by the demo, in order
DEMO_SUBMISSIONS = (
    ("alice", "starting_kit"),
    ("bob", "colour_features"),
    ("carol", "centre_crop"),
)
PASSWORD = "demo-password"


def _run(*argv: str, allow_fail: bool = False) -> int:
    print("$ ramp-server " + " ".join(argv), flush=True)
    code = cli(list(argv))
    if code and not allow_fail:
        raise SystemExit(f"demo step failed (exit {code}): ramp-server {' '.join(argv)}")
    return code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    p.add_argument("--storage", default="var/demo", help="storage directory (default: var/demo)")
    p.add_argument(
        "--n", type=int, default=20348, help="synthetic images to generate if data/ is empty"
    )
    p.add_argument(
        "--submissions",
        nargs="*",
        default=None,
        help="submission folders to submit (default: starting_kit colour_features centre_crop)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on")
    p.add_argument("--port", type=int, default=8000, help="port to serve on")
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="train everything, print the leaderboard and exit instead of serving the web site",
    )
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    os.chdir(REPO)
    os.environ.setdefault("RAMP_STORAGE_DIR", str(Path(args.storage).resolve()))
    data = REPO / "data"
    if not (data / "train.csv").is_file():
        from ramp_server.kit.synth import generate

        print(f"==> generating {args.n} synthetic SPIPOLL images into {data}", flush=True)
        generate(data, seed=0, n=args.n)

    print(f"==> platform storage: {os.environ['RAMP_STORAGE_DIR']}", flush=True)
    _run("init")
    _run(
        "user",
        "add",
        "admin",
        "--email",
        "admin@example.org",
        "--password",
        PASSWORD,
        "--admin",
        allow_fail=True,
    )
    pairs = DEMO_SUBMISSIONS
    if args.submissions is not None:
        users = ("alice", "bob", "carol", "dave", "erin", "frank")
        pairs = tuple((users[i % len(users)], s) for i, s in enumerate(args.submissions))
    for user in sorted({u for u, _ in pairs}):
        _run(
            "user",
            "add",
            user,
            "--email",
            f"{user}@example.org",
            "--password",
            PASSWORD,
            allow_fail=True,
        )
    if _run("event", "list", allow_fail=True) == 0:
        _run("event", "add", "--name", EVENT, "--kit", str(REPO), allow_fail=True)
    for user, folder in pairs:
        _run(
            "submit",
            "--event",
            EVENT,
            "--user",
            user,
            "--name",
            folder,
            str(REPO / "submissions" / folder),
            allow_fail=True,
        )

    if args.until_idle:
        _run("dispatch", "--until-idle")
        _run("leaderboard", "--event", EVENT, "--format", "table")
        return 0
    print(
        f"\n==> open http://{args.host}:{args.port}/ — log in as admin, alice, bob or carol "
        f"(password: {PASSWORD}); submissions train in the background.\n",
        flush=True,
    )
    return _run("serve", "--host", args.host, "--port", str(args.port))


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
