"""``ramp-server blend``: ramp-blend's offline blending of a kit's saved outputs, fast."""

from __future__ import annotations

import argparse
import ast

from . import CliError


def _submissions(value: str) -> list[str] | str:
    if value == "ALL":
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = [s.strip() for s in value.split(",") if s.strip()]
    if parsed == "ALL":
        return "ALL"
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(s, str) for s in parsed):
        raise argparse.ArgumentTypeError(
            "expected ALL, a Python list such as \"['starting_kit','linear']\" or a,b,c"
        )
    return list(parsed)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "blend",
        help="blend a kit's saved submission outputs (like ramp-blend, same files)",
        description=(
            "Greedy ensemble selection over the outputs that `ramp-test --save-output` saved, "
            "with ramp-blend's flags and output files (contributivities.csv, "
            "bagged_scores_combined.csv, bagged_scores_foldwise_best.csv)."
        ),
    )
    p.add_argument("--ramp-kit-dir", default=".", help="root of the kit (problem.py)")
    p.add_argument("--ramp-data-dir", default=".", help="directory holding the data/ folder")
    p.add_argument(
        "--ramp-submission-dir", default="submissions", help="directory of the submissions"
    )
    p.add_argument("--data-label", default=None, help="sub-directory of the data and outputs")
    p.add_argument(
        "--submissions",
        type=_submissions,
        default="ALL",
        help="ALL (default) or a list: \"['starting_kit','linear']\"",
    )
    p.add_argument("--save-output", action="store_true", help="write the CSV files")
    p.add_argument(
        "--min-improvement", type=float, default=0.0, help="minimum gain to add a member"
    )
    p.add_argument(
        "--score-type-index", type=int, default=0, help="score type of problem.py to blend on"
    )
    p.add_argument("--max-n-ensemble", type=int, default=80, help="maximum ensemble size")
    p.add_argument(
        "--nested", action="store_true", help="also compute the honest (nested) hybrid score"
    )
    p.add_argument("--shapley", action="store_true", help="also compute Shapley contributions")
    p.add_argument("--ignore-warning", action="store_true", help="silence warnings")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import warnings

    if args.ignore_warning:
        warnings.simplefilter("ignore")
    if args.min_improvement < 0:
        raise CliError("--min-improvement must be >= 0")
    if args.max_n_ensemble < 1:
        raise CliError("--max-n-ensemble must be >= 1")
    from ramp_server.blending.offline import OfflineBlendError, blend_kit, contributivity_frame

    try:
        result, score, labels = blend_kit(
            ramp_kit_dir=args.ramp_kit_dir,
            ramp_data_dir=args.ramp_data_dir,
            ramp_submission_dir=args.ramp_submission_dir,
            submissions=args.submissions,
            data_label=args.data_label,
            score_type_index=args.score_type_index,
            min_improvement=args.min_improvement,
            max_n_ensemble=args.max_n_ensemble,
            nested=args.nested,
            save_output=args.save_output,
        )
    except (OfflineBlendError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    print(contributivity_frame(result).to_string(index=False))
    for k, picks in enumerate(result.picks):
        print(f"fold {k}: {[result.names[i] for i in picks]}")
    rows = [
        ("combined", result.combined_valid, result.combined_test),
        ("foldwise best", result.foldwise_best_valid, result.foldwise_best_test),
    ]
    if args.nested:
        rows.append(("nested (honest)", result.nested_valid, None))
    print(f"{'':16s} {'valid':>10s} {'test':>10s}   ({score.name})")
    for label, v, t in rows:
        vs = "-" if v is None else f"{v:.{score.precision}f}"
        ts = "-" if t is None else f"{t:.{score.precision}f}"
        print(f"{label:16s} {vs:>10s} {ts:>10s}")
    if args.shapley:
        import numpy as np

        from ramp_server.blending.shapley import HybridGame, shapley_values

        game = HybridGame(
            members=result.members_valid,
            picks=result.picks,
            rows=result.valid_rows,
            y=labels["y_train"],
            score=score,
        )
        sv = shapley_values(game, max_seconds=60)
        how = "exact" if sv.exact else f"{sv.n_permutations} permutations"
        print(f"Shapley contribution to the hybrid {score.name} ({how}):")
        for j in np.argsort(-sv.values):
            print(f"  {result.names[game.players[j]]:30s} {sv.values[j]:+.5f}")
    print(f"blended {len(result.names)} submissions in {result.time_s:.2f} s")
    return 0
