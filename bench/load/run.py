"""One load run: seed, serve, let the participants work at once, check the database."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ramp_server.kit.folder import REPO_ROOT

from .participant import Participant
from .report import LoadReport, check_database, machine
from .seed import seed_database
from .server import free_port, server_tracebacks, start_server, stop_server

if TYPE_CHECKING:
    from ramp_server.config import Settings


def run_load(
    settings: Settings,
    *,
    kit_dir: Path,
    participants: int = 50,
    duration_s: float = 60.0,
    think_s: float = 0.5,
    scored: int = 10,
    cheap_password_hashing: bool = False,
    seed: int = 0,
    log: Any = print,
) -> LoadReport:
    """Seed ``settings``' database, serve it, run the participants, check; the report.

    The database must be migrated or empty and hold no event named ``load``.
    """
    t0 = time.perf_counter()
    seeded = seed_database(
        settings,
        kit_dir=kit_dir,
        participants=participants,
        scored=scored,
        cheap_password_hashing=cheap_password_hashing,
    )
    log(
        f"seeded {participants} participants and {len(seeded.seeded_ids)} scored submissions "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    base = REPO_ROOT / "submissions" / "starting_kit"
    files = {f: (base / f).read_bytes() for f in ("image_preprocessor.py", "batch_classifier.py")}
    log_path = Path(settings.storage_dir) / "load_server.log"
    port = free_port()
    proc = start_server(
        settings, port=port, log_path=log_path, cheap_password_hashing=cheap_password_hashing
    )
    report = LoadReport(
        backend=settings.db_url.split(":")[0].split("+")[0],
        participants=participants,
        duration_s=duration_s,
        think_s=think_s,
    )
    try:
        crowd = [
            Participant(
                f"http://127.0.0.1:{port}",
                name=name,
                token=token,
                event=seeded.event,
                files=files,
                think_s=think_s,
                index=i,
                seed=seed,
            )
            for i, (name, token) in enumerate(seeded.participants)
        ]
        start, logged_in = threading.Barrier(len(crowd) + 1), threading.Barrier(len(crowd) + 1)
        kwargs = {"start": start, "logged_in": logged_in, "duration_s": duration_s}
        threads = [threading.Thread(target=p.run, kwargs=kwargs, daemon=True) for p in crowd]
        for t in threads:
            t.start()
        start.wait()
        t_start = time.monotonic()
        logged_in.wait()
        t_browse = time.monotonic()
        for t in threads:
            t.join()
        report.login_s = t_browse - t_start
        report.wall_s = time.monotonic() - t_browse
    finally:
        stop_server(proc)
    for p in crowd:
        report.samples += p.samples
        report.problems += p.problems
        report.uploads += p.uploads
        report.pages_by_participant[p.name] = {s.page for s in p.samples}
    report.db_problems = check_database(settings, seeded, report)
    report.tracebacks = server_tracebacks(log_path)
    report.machine = machine()
    return report
