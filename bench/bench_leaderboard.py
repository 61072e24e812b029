"""Public leaderboard page under load: p50/p95 latency and requests/s against a running server.

Seeds a database with N submissions (default 10,000) from P participants (default 500), scored
with every score type of problem.py, starts ``ramp-server serve`` (uvicorn, no dispatcher) on a
free loopback port and hits ``/events/<event>/leaderboard`` with C concurrent keep-alive clients.
An anchor (``/static/style.css``, no database) is measured in the same run, so the ratio tells
the page's own cost whatever the machine's load. Target: leaderboard p95 < 100 ms.

    .venv/bin/python bench/bench_leaderboard.py                       # SQLite in a temp dir
    .venv/bin/python bench/bench_leaderboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from load import make_kit  # bench/ is sys.path[0] when run as a script
from load.server import free_port

CHUNK = 5000
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def seed_database(*, settings, n_submissions: int, n_participants: int, seed: int) -> str:  # noqa: ANN001
    """Create the event from a tiny synthetic kit, then bulk-insert users, submissions, scores."""
    from sqlalchemy import insert

    from ramp_server.db.engine import make_engine, make_session_factory
    from ramp_server.db.migrate import upgrade
    from ramp_server.db.models import EventParticipant, Score, Submission, SubmissionState, User
    from ramp_server.services import events, passwords

    kit = make_kit(Path(settings.storage_dir) / "bench_kit", n_images=300, seed=seed)

    engine = make_engine(settings)
    upgrade(engine)
    session = make_session_factory(engine)()
    event = events.create_event_from_kit(session, settings=settings, slug="bench", kit_dir=kit)
    session.commit()
    rng = random.Random(seed)
    one_hash = passwords.hash_password("bench-password")  # argon2 is slow: one hash for all
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "name": f"user{i:04d}",
                    "email": f"user{i:04d}@example.org",
                    "full_name": "",
                    "password_hash": one_hash,
                    "is_admin": False,
                    "is_active": True,
                    "created_at": now,
                }
                for i in range(n_participants)
            ],
        )
    users = dict(
        session.execute(User.__table__.select().with_only_columns(User.name, User.id)).all()
    )
    user_ids = [users[f"user{i:04d}"] for i in range(n_participants)]
    with engine.begin() as conn:
        conn.execute(
            insert(EventParticipant),
            [
                {"event_id": event.id, "user_id": uid, "approved": True, "joined_at": now}
                for uid in user_ids
            ],
        )
    weights = [rng.random() ** 8 for _ in range(n_submissions)]
    total = sum(weights)
    subs = []
    for i in range(n_submissions):
        at = now - timedelta(minutes=n_submissions - i)
        subs.append(
            {
                "event_id": event.id,
                "user_id": user_ids[i % n_participants],
                "name": f"sub{i:05d}",
                "state": SubmissionState.SCORED,
                "submitted_at": at,
                "queued_at": at,
                "finished_at": at + timedelta(minutes=3),
                "train_time": rng.uniform(30, 900),
                "valid_time": rng.uniform(1, 20),
                "test_time": rng.uniform(1, 20),
                "contributivity": weights[i] / total,
                "historical_contributivity": weights[i] / total,
                "withdrawn_from_blend": False,
                "selected_for_competition": False,
                "charged_to_quota": True,
            }
        )
    with engine.begin() as conn:
        for k in range(0, len(subs), CHUNK):
            conn.execute(insert(Submission), subs[k : k + CHUNK])
    sub_ids = list(
        session.scalars(
            Submission.__table__.select()
            .with_only_columns(Submission.id)
            .where(Submission.event_id == event.id)
        )
    )
    has_event_id = "event_id" in Score.__table__.c
    has_ci = "ci_low" in Score.__table__.c
    rows = []
    for sid in sub_ids:
        quality = rng.random()
        for st in event.score_types:
            for split in ("valid", "test"):
                value = quality + rng.gauss(0, 0.02)
                if st["is_lower_better"]:
                    value = 3.0 - 2.5 * value
                row = {
                    "submission_id": sid,
                    "fold": None,
                    "split": split,
                    "score_name": st["name"],
                    "value": value,
                }
                if has_event_id:
                    row["event_id"] = event.id
                if has_ci:  # every bagged score has its bootstrap interval, as when scored
                    row["ci_low"], row["ci_high"] = value - 0.01, value + 0.01
                rows.append(row)
    with engine.begin() as conn:
        for k in range(0, len(rows), CHUNK * 4):
            conn.execute(insert(Score), rows[k : k + CHUNK * 4])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    session.close()
    engine.dispose()
    print(
        f"seeded {n_submissions:,} submissions ({len(rows):,} scores) from {n_participants} "
        f"participants in {time.perf_counter() - t0:.1f} s"
    )
    return event.name


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    if workers == 1:  # exactly what operators run
        cmd = [
            sys.executable,
            "-c",
            "import sys; from ramp_server.cli import main; sys.exit(main())",
        ]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-dispatcher"]
    else:  # several uvicorn worker processes (one per core) on the same socket
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "--log-level", "warning"]
        cmd += ["ramp_server.web.app:create_app_from_env", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/static/style.css", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def _client(base: str, paths: list[str], k: int, n: int, start_at: float) -> tuple:
    """One client process: ``n`` sequential keep-alive requests; (latencies, errors, t0, t1)."""
    import httpx

    out, errors = [], []
    with httpx.Client(base_url=base, timeout=30) as http:
        while time.time() < start_at:  # all clients start together
            time.sleep(0.001)
        t0 = time.time()
        for i in range(n):
            path = paths[(i + k) % len(paths)]
            t = time.perf_counter()
            r = http.get(path)
            out.append(time.perf_counter() - t)
            if r.status_code != 200:
                errors.append(f"{path}: {r.status_code}")
        t1 = time.time()
    return out, errors, t0, t1


def load(base: str, paths: list[str], *, clients: int, requests_per_client: int) -> dict:
    """``clients`` processes (no shared GIL with each other or the server), each cycling ``paths``."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    start_at = time.time() + 0.5
    with ctx.Pool(clients) as pool:
        parts = pool.starmap(
            _client, [(base, paths, k, requests_per_client, start_at) for k in range(clients)]
        )
    lat = sorted(x for p in parts for x in p[0])
    errors = [e for p in parts for e in p[1]]
    wall = max(p[3] for p in parts) - min(p[2] for p in parts)
    return {
        "n": len(lat),
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
        "max_ms": 1000 * lat[-1],
        "rps": len(lat) / wall,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--requests", type=int, default=60, help="requests per client per run")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the temp dir")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use a temporary database on postgresql://postgres@127.0.0.1:5432 (dropped after)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="uvicorn worker processes to measure, one run each (default: 1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary storage dir")
    args = parser.parse_args()

    from ramp_server.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="ramp_bench_lb_"))
    pg_db = None
    if args.postgres:
        from sqlalchemy import create_engine, text

        pg_db = f"ramp_bench_lb_{os.getpid()}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_db}"'))
        args.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_db}"
    try:
        overrides = {"storage_dir": tmp}
        if args.database_url:
            overrides["database_url"] = args.database_url
        settings = load_settings(**overrides)
        slug = seed_database(
            settings=settings,
            n_submissions=args.submissions,
            n_participants=args.participants,
            seed=args.seed,
        )
        env = dict(os.environ, RAMP_STORAGE_DIR=str(tmp), RAMP_EMBEDDED_DISPATCHER="false")
        env["RAMP_DATABASE_URL"] = settings.db_url
        board = f"/events/{slug}/leaderboard"
        runs = {
            "anchor /static/style.css": ["/static/style.css"],
            "public leaderboard (default sort)": [board],
            "public leaderboard (every sort)": [
                f"{board}?sort={s}"
                for s in ("acc", "nll", "contributivity", "train_time", "submitted_at")
            ],
            "public leaderboard page 50": [f"{board}?page=50"],
            "JSON API leaderboard": [f"/api/events/{slug}/leaderboard"],
        }
        backend = settings.db_url.split(":")[0]
        for workers in args.workers:
            port = free_port()
            proc = start_server(env, port, workers)
            base = f"http://127.0.0.1:{port}"
            print(
                f"\n== {workers} worker process(es), {args.clients} concurrent clients, {backend}"
            )
            try:
                load(base, [board, "/static/style.css"], clients=2, requests_per_client=10)
                results = {}
                for label, paths in runs.items():
                    results[label] = res = load(
                        base, paths, clients=args.clients, requests_per_client=args.requests
                    )
                    print(
                        f"{label:36s} n={res['n']:4d}  p50 {res['p50_ms']:7.1f} ms  "
                        f"p95 {res['p95_ms']:7.1f} ms  max {res['max_ms']:7.1f} ms  "
                        f"{res['rps']:6.1f} req/s"
                        + (f"  ERRORS {res['errors'][:3]}" if res["errors"] else "")
                    )
                anchor = results["anchor /static/style.css"]
                main_run = results["public leaderboard (default sort)"]
                print(
                    f"leaderboard p95 / anchor p95 = {main_run['p95_ms'] / anchor['p95_ms']:.1f}x; "
                    f"target p95 < 100 ms: {'MET' if main_run['p95_ms'] < 100 else 'NOT MET'}"
                )
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        print(f"\nmachine load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if pg_db is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
