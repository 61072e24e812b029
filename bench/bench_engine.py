"""Training engine: platform overhead per submission and throughput on 1 vs 2 workers.

    .venv/bin/python bench/bench_engine.py [--n-images 400] [--n-submissions 20] [--keep DIR]

1. Anchor: ``ramp-test`` of a quick submission on the event's kit (same data, same folds),
   timed as a participant sees it (a subprocess, interpreter start included).
2. Overhead: the same submission uploaded through the submissions service while a dispatcher
   runs (LocalCluster of one worker process, already started): time from the upload to
   ``scored`` in the database, minus the ramp-test time. The issue's target: < 2 s.
3. Throughput: ``--n-submissions`` quick submissions queued at once, trained by a dispatcher on
   a LocalCluster of 1, then 2 worker processes; submissions per minute and the ratio.

Figures are printed, never asserted. Timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "tests" / "engine" / "submissions" / "quick"


def make_kit(root: Path, n_images: int) -> Path:
    from ramp_server.kit import dataset
    from ramp_server.kit.synth import generate

    kit = root / "kit"
    generate(kit / "data", seed=0, n=n_images, n_jobs=1, progress=False)
    for split in dataset.SPLITS:
        dataset.load_split(kit / "data", split, progress=False)
    shutil.copy2(REPO / "problem.py", kit / "problem.py")
    shutil.copytree(QUICK, kit / "submissions" / "quick")
    return kit


def ramp_test_seconds(kit: Path) -> float:
    cmd = [
        str(Path(sys.executable).with_name("ramp-test")),
        "--ramp-kit-dir",
        str(kit),
        "--ramp-data-dir",
        str(kit),
        "--submission",
        "quick",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=kit)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"ramp-test failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


class Platform:
    """A storage dir + SQLite database + event + admin, and a dispatcher on demand."""

    def __init__(self, root: Path, kit: Path) -> None:
        from ramp_server.config import load_settings
        from ramp_server.db.engine import make_engine, make_session_factory
        from ramp_server.db.migrate import upgrade
        from ramp_server.db.models import User
        from ramp_server.services.events import create_event_from_kit
        from ramp_server.services.passwords import hash_password

        self.settings = load_settings(
            storage_dir=root / "storage", database_url=f"sqlite:///{root / 'ramp.sqlite3'}"
        )
        self.engine = make_engine(self.settings)
        upgrade(self.engine)
        self.sessions = make_session_factory(self.engine)
        with self.sessions() as s:
            self.event = create_event_from_kit(
                s, settings=self.settings, slug="bench", kit_dir=kit, fold_time_limit_s=600
            )
            self.user = User(name="bench", email="b@example.org", password_hash=hash_password("x"))
            self.user.is_admin = True
            s.add(self.user)
            s.commit()
        self.files = {p.name: p.read_bytes() for p in QUICK.glob("*.py")}
        self.counter = 0

    def submit(self) -> int:
        from ramp_server.services.submissions import submit

        self.counter += 1
        with self.sessions() as s:
            return submit(
                s,
                settings=self.settings,
                event=self.event,
                user=self.user,
                name=f"quick-{self.counter}",
                files=self.files,
            ).id

    def states(self, ids: list[int]) -> list[str]:
        from sqlalchemy import select

        from ramp_server.db.models import Submission

        with self.sessions() as s:
            rows = s.execute(select(Submission.id, Submission.state).where(Submission.id.in_(ids)))
            return [str(state) for _, state in rows]

    def start(self, n_workers: int):
        from ramp_server.engine.background import local_limits
        from ramp_server.engine.cluster import connect
        from ramp_server.engine.dispatcher import Dispatcher

        client, cluster = connect(self.settings, n_workers=n_workers)
        client.wait_for_workers(n_workers)
        dispatcher = Dispatcher(
            self.settings,
            client=client,
            session_factory=self.sessions,
            limits=local_limits(self.settings, cluster),
            poll_s=0.1,
        )
        stop = threading.Event()
        thread = threading.Thread(target=dispatcher.run, kwargs={"stop": stop}, daemon=True)
        thread.start()

        def shutdown() -> None:
            stop.set()
            thread.join()
            dispatcher.close()
            client.close()
            cluster.close()

        return shutdown

    def wait_scored(self, ids: list[int], timeout: float = 1800) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            states = self.states(ids)
            if all(s in ("scored", "error") for s in states):
                if any(s == "error" for s in states):
                    raise SystemExit(f"a bench submission failed: {states}")
                return time.perf_counter()
            time.sleep(0.02)
        raise SystemExit("timed out waiting for the bench submissions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=400)
    parser.add_argument("--n-submissions", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="overhead measurements")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-engine-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        kit = make_kit(root, args.n_images)
        anchor = min(ramp_test_seconds(kit) for _ in range(args.repeats))
        print(f"ramp-test of the quick submission (3 folds, anchor): {anchor:.2f} s")

        platform = Platform(root, kit)
        shutdown = platform.start(1)
        try:
            platform.wait_scored([platform.submit()])  # warm-up: first task imports on workers
            totals = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                sid = platform.submit()
                totals.append(platform.wait_scored([sid]) - t0)
        finally:
            shutdown()
        best = min(totals)
        print(f"upload → scored, 1 worker: best {best:.2f} s, all {[round(t, 2) for t in totals]}")
        print(f"platform overhead per submission: {best - anchor:+.2f} s (target < 2 s)")

        rates = {}
        for n_workers in (1, 2):
            shutdown = platform.start(n_workers)
            try:
                platform.wait_scored([platform.submit()])  # warm-up
                t0 = time.perf_counter()
                ids = [platform.submit() for _ in range(args.n_submissions)]
                elapsed = platform.wait_scored(ids) - t0
            finally:
                shutdown()
            rates[n_workers] = args.n_submissions / elapsed * 60
            print(
                f"{args.n_submissions} submissions on {n_workers} worker(s): {elapsed:.1f} s "
                f"= {rates[n_workers]:.1f} submissions/min"
            )
        print(f"throughput ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
        platform.engine.dispose()
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
