"""The platform demo (``scripts/demo``): synthetic data, an event, a few participants, training, web.

Every change goes through the public ``ramp-server`` verbs, the same scripting contract operators
use, on the embedded default (SQLite file + local Dask cluster in ``--storage``). Running it
again resumes: what exists is kept, nothing is submitted twice, interrupted folds are requeued
by the dispatcher.

The ``demo`` profile (default) builds the event from a stratified subset of the data so that
training and blending of the demo submissions end within minutes on two CPU cores; the event
page says so. ``--profile full`` uses the whole data set (hours on a CPU).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from ramp_server.cli import main as cli
from ramp_server.demo_plan import DemoSubmission, plan_of, story_lines
from ramp_server.kit.folder import REPO_ROOT as REPO
from ramp_server.kit.folder import write_kit_folder

EVENT = "spipoll"
PASSWORD = "demo-password"
#: images of the demo profile's stratified subset (train, test)
DEMO_SIZE = (6000, 4000)


def _run(*argv: str, allow_fail: bool = False) -> int:
    print("$ " + shlex.join(("ramp-server", *argv)), flush=True)
    code = cli(list(argv))
    if code == 130:  # Ctrl-C inside a verb: stop the demo too
        raise KeyboardInterrupt
    if code and not allow_fail:
        raise SystemExit(f"demo step failed (exit {code}): {shlex.join(('ramp-server', *argv))}")
    return code


def _at_least(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


_positive = _at_least(1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The demo's options (``scripts/demo --help``)."""
    p = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    p.add_argument(
        "--storage",
        default=None,
        help="storage directory (default: $RAMP_STORAGE_DIR, else var/demo)",
    )
    p.add_argument(
        "--data",
        default=str(REPO / "data"),
        help="full data folder; synthetic data is generated there if it is empty (default: data)",
    )
    p.add_argument(
        "--n", type=_positive, default=20348, help="synthetic images to generate if data is empty"
    )
    p.add_argument(
        "--profile",
        choices=("demo", "full"),
        default="demo",
        help="demo: the event uses a stratified subset (minutes on 2 CPU cores); full: all images",
    )
    p.add_argument(
        "--demo-size",
        nargs=2,
        type=_at_least(3 * 18),  # 3 images of each taxon, for a stratified 3-fold CV
        metavar=("N_TRAIN", "N_TEST"),
        default=DEMO_SIZE,
        help=f"images of the demo profile's subset (default: {DEMO_SIZE[0]} {DEMO_SIZE[1]})",
    )
    p.add_argument(
        "--submissions",
        nargs="*",
        default=None,
        help="folders of submissions/ to submit, by alice, bob, … in turn (default: the demo's "
        "plan, DEMO_PLAN in ramp_server/demo_plan.py)",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="local Dask worker processes, each training one fold on one core (default: "
        "$RAMP_LOCAL_WORKERS, else 2, or 1 on a one-core machine)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on")
    p.add_argument("--port", type=int, default=8000, help="port to serve on")
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="train everything, print the leaderboard and exit instead of serving the web site",
    )
    return p.parse_args(argv)


def _ensure_data(data: Path, n: int) -> None:
    if not (data / "train.csv").is_file():
        from ramp_server.kit.synth import generate

        print(f"==> generating {n} synthetic SPIPOLL images into {data}", flush=True)
        generate(data, seed=0, n=n, progress=True)


def _kit(args: argparse.Namespace, storage: Path) -> tuple[Path, str]:
    """The kit folder the event is made from, and a sentence on its data for the event page."""
    data = args.data  # resolved by run()
    if args.profile == "full" and data == REPO / "data":
        return REPO, "It uses the full data set."
    kit = write_kit_folder(storage / "kit")
    if args.profile == "full":
        if (kit / "data" / "subset.json").is_file():  # a demo-profile subset this demo wrote
            shutil.rmtree(kit / "data")
        (kit / "data").unlink(missing_ok=True)
        (kit / "data").symlink_to(data, target_is_directory=True)
        return kit, "It uses the full data set."
    from ramp_server.kit.subset import write_subset

    n_train, n_test = args.demo_size
    if (kit / "data").is_symlink():
        (kit / "data").unlink()
    print(f"==> demo profile: stratified subset of {n_train} + {n_test} images", flush=True)
    summary = write_subset(data, kit / "data", n_train=n_train, n_test=n_test)
    return kit, (
        f"**Demo profile**: this event uses {summary.describe()}, and the demo's "
        "participants submit the reference models and variants of them with fewer epochs "
        "(the changed lines say so in their code), so that the demo trains and blends in "
        "minutes on a laptop; scores are lower than on the full data. Run "
        "`scripts/demo --profile full` for the real thing."
    )


def _code(args: argparse.Namespace, sub: DemoSubmission) -> str:
    """The folder to submit: the reference code, or the demo's copy of it with the
    submission's variant and, in the demo profile, its fewer epochs."""
    src = REPO / "submissions" / sub.folder
    if not (src / "batch_classifier.py").is_file():
        raise SystemExit(f"{src}: not a submission folder (see the folders of submissions/)")
    demo_profile = args.profile == "demo"
    if not sub.constants(demo_profile=demo_profile) and not sub.replaced_files(REPO):
        return str(src)
    dst = args.storage / "kit" / "demo_submissions" / sub.user / sub.name
    changes = sub.write_code(REPO, dst, demo_profile=demo_profile)
    reasons = sub.reasons(demo_profile=demo_profile)
    for name, (old, new) in changes.items():
        why = reasons[name]
        print(f"==> {sub.user}/{sub.name} ({why}): {name} = {new} instead of {old}", flush=True)
    return str(dst)


def _existing() -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """Users, events and (user, submission) pairs already in the demo's database."""
    from ramp_server.config import load_settings
    from ramp_server.db.engine import open_database
    from ramp_server.services import events as event_service
    from ramp_server.services.submission_tables import submissions_table
    from ramp_server.services.users import list_users

    settings = load_settings(None)
    with open_database(settings) as factory, factory() as session:
        users = {u.name for u in list_users(session)}
        events = {e.name: e for e in event_service.list_events(session)}
        subs = set()
        if EVENT in events:
            rows = submissions_table(session, event=events[EVENT])
            subs = {(r["user"], r["submission"]) for r in rows}
    return users, set(events), subs


def print_story(plan: tuple[DemoSubmission, ...]) -> None:
    """Print :func:`story_lines` of the demo event, read through the services."""
    from ramp_server.config import load_settings
    from ramp_server.db.engine import open_database
    from ramp_server.services.events import get_event
    from ramp_server.services.story import event_story

    improvement = next(((s.user, s.improves, s.name) for s in plan if s.improves), None)
    with open_database(load_settings(None)) as factory, factory() as session:
        event = get_event(session, name=EVENT)
        story = event_story(session, event_id=event.id, improvement=improvement)
    print("\n".join(story_lines(story)), flush=True)


def _submit(
    args: argparse.Namespace, subs: list[DemoSubmission], submitted: set[tuple[str, str]]
) -> None:
    for sub in subs:
        if (sub.user, sub.name) in submitted:
            print(f"==> {sub.user}/{sub.name} already submitted", flush=True)
            continue
        _run("submit", "--event", EVENT, "--user", sub.user, "--name", sub.name, _code(args, sub))


def run(args: argparse.Namespace) -> int:
    """Set up (or resume) the demo, then serve it, or train everything and exit."""
    storage = Path(args.storage or os.environ.get("RAMP_STORAGE_DIR") or REPO / "var/demo")
    storage = args.storage = storage.resolve()  # before chdir: relative to the caller's folder
    args.data = Path(args.data).resolve()
    os.chdir(REPO)
    os.environ["RAMP_STORAGE_DIR"] = str(storage)
    if args.workers:
        os.environ["RAMP_LOCAL_WORKERS"] = str(args.workers)
    elif not os.environ.get("RAMP_LOCAL_WORKERS"):  # both cores of a laptop train folds
        os.environ["RAMP_LOCAL_WORKERS"] = str(min(2, os.cpu_count() or 1))
    _ensure_data(args.data, args.n)

    print(f"==> platform storage: {storage}", flush=True)
    _run("init")
    plan = plan_of(None if args.submissions is None else tuple(args.submissions))
    pairs = tuple((sub.user, sub.name) for sub in plan)
    users, events, submitted = _existing()
    if "admin" not in users:
        _run(
            "user",
            "add",
            "admin",
            "--email",
            "admin@example.org",
            "--password",
            PASSWORD,
            "--admin",
        )
    for user in sorted({u for u, _ in pairs} - users):
        _run("user", "add", user, "--email", f"{user}@example.org", "--password", PASSWORD)
    if EVENT not in events:
        kit, data_note = _kit(args, storage)
        _run(
            "event",
            "add",
            "--name",
            EVENT,
            "--kit",
            str(kit),
            "--title",
            "Pollinating insects (SPIPOLL) — platform demo",
            "--description",
            "Classify 64×64 photos of 18 pollinating-insect taxa. " + data_note,
        )
    else:
        print(
            f"==> event {EVENT!r} already exists: resuming it with the data it was made from "
            f"(--profile and --demo-size apply to a new event: use another --storage)",
            flush=True,
        )
    first = [sub for sub in plan if sub.improves is None]
    later = [sub for sub in plan if sub.improves is not None]
    _submit(args, first if args.until_idle else plan, submitted)
    if args.until_idle:
        _run("dispatch", "--until-idle")
        if later:  # the participants saw the leaderboard: improvements come in now
            _submit(args, later, submitted)
            _run("dispatch", "--until-idle")
        _run("leaderboard", "--event", EVENT, "--format", "table")
        print_story(plan)
        return 0
    print(
        f"\n==> open http://{args.host}:{args.port}/ — log in as admin or "
        f"{', '.join(sorted({u for u, _ in pairs}))} (password: {PASSWORD}); submissions "
        "train in the background. Ctrl-C stops; running scripts/demo again resumes.\n",
        flush=True,
    )
    return _run("serve", "--host", args.host, "--port", str(args.port))


def main(argv: list[str] | None = None) -> int:
    """``scripts/demo``: exit status 0, or 130 after Ctrl-C (run it again to resume)."""
    from ramp_server.kit.dataset import DataError

    try:
        return run(parse_args(argv))
    except DataError as exc:
        print(f"scripts/demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\n==> demo stopped; run scripts/demo again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
