"""Try demo plans offline: train candidate demo submissions once, blend any plan of them.

The demo (``scripts/demo``) must end with a hybrid model above its best single submission, at
least three submissions credited, and the improved submission's predecessor losing share when
its successor is scored: a matter of which models, on which subset, for how many epochs. Finding
such a plan through the whole demo costs a demo run per try; here each candidate is trained
once through the kit (``ramp-test --save-output`` on the demo profile's subset, one thread per
training and ``--parallel`` trainings at once, as the demo's local workers), its outputs kept,
and every plan is then a few offline blends (``ramp_server.blending.offline``, the blender the
server runs) of those outputs:

    .venv/bin/python bench/demo_trial.py --data data --out /tmp/demo-trial            # DEMO_PLAN
    .venv/bin/python bench/demo_trial.py --out /tmp/demo-trial --candidates more.py   # others

``--candidates FILE`` names a Python file defining ``PLANS = {"name": (DemoSubmission, ...)}``
(variants of ``ramp_server.demo_plan``'s); each plan is trained as needed and its story printed:
the hybrid's test score against the best single's, the shares, the predecessor's share before
and after its improvement, and the training time of the plan (sum and on ``--parallel``
workers). A re-run skips trained candidates whose code is unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import runpy
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO / "data", help="full data folder")
    p.add_argument("--out", type=Path, required=True, help="kit, candidates and their outputs")
    p.add_argument("--demo-size", nargs=2, type=int, default=None, metavar=("N_TRAIN", "N_TEST"))
    p.add_argument("--candidates", type=Path, default=None, help="file defining PLANS")
    p.add_argument("--plans", default="", help="comma-separated plan names (default: all)")
    p.add_argument("--parallel", type=int, default=2, help="trainings at once (demo workers)")
    return p.parse_args(argv)


def _key(sub) -> str:
    return f"{sub.user}__{sub.name}"


def _code_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def prepare_kit(args: argparse.Namespace) -> Path:
    from ramp_server.demo import DEMO_SIZE
    from ramp_server.kit.folder import write_kit_folder
    from ramp_server.kit.subset import write_subset

    kit = args.out / "kit"
    if not (kit / "problem.py").is_file():
        write_kit_folder(kit)
    n_train, n_test = args.demo_size or DEMO_SIZE
    write_subset(args.data, kit / "data", n_train=n_train, n_test=n_test)
    (kit / "submissions").mkdir(exist_ok=True)
    return kit


def write_candidate(kit: Path, sub) -> Path:
    """The candidate's code in the kit's submissions/ (as the demo profile submits it)."""
    dst = kit / "submissions" / _key(sub)
    staging = kit / "staging" / _key(sub)
    staging.parent.mkdir(exist_ok=True)
    sub.write_code(REPO, staging, demo_profile=True)
    if (dst / ".trained").is_file() and (dst / ".trained").read_text().split()[0] == _code_hash(
        staging
    ):
        return dst
    if dst.exists():
        shutil.rmtree(dst)
    staging.rename(dst)
    return dst


def train(kit: Path, sub) -> float:
    """Train the candidate on every fold (ramp-test --save-output); its CPU seconds."""
    folder = kit / "submissions" / _key(sub)
    done = folder / ".trained"
    if done.is_file():
        return float(done.read_text().split()[1])
    env = {**os.environ, "RAMP_N_JOBS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    log = folder / "train.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "ramp-test"), "--ramp-kit-dir", str(kit),
             "--submission", _key(sub), "--save-output"],
            stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=kit,
        )  # fmt: skip
        # CPU time, not wall time: the figure that does not depend on what else runs here
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{_key(sub)}: ramp-test failed (status {status}); see {log}")
    done.write_text(f"{_code_hash(folder)} {cpu:.1f} {wall:.1f}\n")
    print(f"   trained {_key(sub)}: {cpu:.0f} CPU s ({wall:.0f} s wall)", flush=True)
    return cpu


def _blend(kit: Path, names: list[str]):
    from ramp_server.blending.offline import blend_kit

    result, _, _ = blend_kit(
        ramp_kit_dir=kit,
        ramp_data_dir=kit,
        ramp_submission_dir=kit / "submissions",
        submissions=names,
        progress=False,
    )
    return result


def story(kit: Path, plan, walls: dict[str, float], parallel: int) -> dict:
    """The demo's story of ``plan``, offline: printed, and returned as a dict."""
    names = [_key(s) for s in plan]
    singles = {n: _blend(kit, [n]) for n in names}
    final = _blend(kit, names)
    # the platform's best single submission: the best on validation (its test score shown)
    best = max(names, key=lambda n: singles[n].combined_valid)
    shares = dict(zip(final.names, final.contributivity, strict=True))
    out = {
        "hybrid": final.combined_test,
        "best": singles[best].combined_test,
        "best_name": best,
        "credited": sum(1 for v in shares.values() if v > 0),
    }
    print(f"   hybrid {final.combined_test:.4f} vs best single {best} "
          f"{singles[best].combined_test:.4f} ({final.combined_test - singles[best].combined_test:+.4f}); {out['credited']} credited")  # fmt: skip
    for n in names:
        print(f"     {n:<40} {100 * shares[n]:5.1f} %  test {singles[n].combined_test:.4f}  "
              f"train {walls[n]:5.0f} CPU s")  # fmt: skip
    imp = next((s for s in plan if s.improves), None)
    if imp is not None:
        pred = f"{imp.user}__{imp.improves}"
        before = _blend(kit, [n for n in names if n != _key(imp)])
        b = dict(zip(before.names, before.contributivity, strict=True))[pred]
        out["predecessor"] = (b, shares[pred])
        print(f"   predecessor {pred}: {100 * b:.0f} % before, {100 * shares[pred]:.0f} % after; "
              f"hybrid before {before.combined_test:.4f}")  # fmt: skip
    total = sum(walls[n] for n in names)
    print(
        f"   training: {total:.0f} CPU s in all, about {total / parallel:.0f} s on {parallel} workers"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.candidates is not None:
        plans = runpy.run_path(str(args.candidates))["PLANS"]
    else:
        from ramp_server.demo_plan import DEMO_PLAN

        plans = {"DEMO_PLAN": DEMO_PLAN}
    if args.plans:
        plans = {k: plans[k] for k in args.plans.split(",")}
    kit = prepare_kit(args)
    subs = {_key(s): s for plan in plans.values() for s in plan}
    for sub in subs.values():
        write_candidate(kit, sub)
    walls: dict[str, float] = {}
    with ThreadPoolExecutor(args.parallel) as pool:
        for key, wall in zip(subs, pool.map(lambda s: train(kit, s), subs.values()), strict=True):
            walls[key] = wall
    for name, plan in plans.items():
        print(f"== plan {name}", flush=True)
        story(kit, plan, walls, args.parallel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
