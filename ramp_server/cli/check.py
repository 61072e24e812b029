"""``ramp-server check SUBMISSION_DIR [--run]``: the submission contract checker."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a submission folder against the contract",
        description=(
            "Check that a submission folder (image_preprocessor.py + batch_classifier.py) "
            "follows the contract, without running it; --run also fits it on tiny random "
            "images and checks predict_proba's output."
        ),
    )
    parser.add_argument("submission", help="the submission folder, e.g. submissions/starting_kit")
    parser.add_argument(
        "--run", action="store_true", help="also load, fit and predict on tiny random data"
    )
    parser.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from ramp_server.cli import CliError
    from ramp_server.kit.checker import check_submission
    from ramp_server.kit.contract import ContractError

    try:
        check_submission(args.submission, run=args.run)
    except ContractError as exc:
        raise CliError(str(exc)) from exc
    what = "static checks and a run on tiny data" if args.run else "static checks"
    print(f"{args.submission}: OK ({what})")
    return 0
