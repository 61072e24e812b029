"""The demo's plan: each submission's code is a reference folder with its changes said."""

from __future__ import annotations

from ramp_server.demo_plan import DEMO_PLAN, DemoSubmission

from ramp_test_plugin import REPO_ROOT


def test_every_planned_submission_writes_code_with_its_constants_and_inputs(tmp_path):
    for sub in DEMO_PLAN:
        dst = tmp_path / sub.user / sub.name
        changes = sub.write_code(REPO_ROOT, dst, demo_profile=True)
        constants = sub.constants(demo_profile=True)
        assert set(changes) == set(constants)
        text = "".join(p.read_text() for p in dst.glob("*.py"))
        for name, (_old, new) in changes.items():
            assert float(new) == float(constants[name])
            assert f"{name} = {new}" in text
        for name, other in sub.replaced_files(REPO_ROOT).items():
            assert (dst / name).read_bytes() == other.read_bytes()


def test_the_full_profile_keeps_the_variant_but_not_the_demo_epochs(tmp_path):
    sub = DemoSubmission(
        "carol",
        "crop",
        "centre_crop",
        variant=(("CROP_FRACTION", 0.5),),
        demo=(("N_EPOCHS", 3),),
    )
    full = sub.write_code(REPO_ROOT, tmp_path / "full", demo_profile=False)
    demo = sub.write_code(REPO_ROOT, tmp_path / "demo", demo_profile=True)
    assert set(full) == {"CROP_FRACTION"}
    assert set(demo) == {"CROP_FRACTION", "N_EPOCHS"}
    assert "demo profile" in (tmp_path / "demo" / "batch_classifier.py").read_text()
    assert "carol's variant" in (tmp_path / "demo" / "image_preprocessor.py").read_text()


def test_a_submission_without_changes_has_no_constants_or_files():
    sub = DemoSubmission("alice", "starting_kit", "starting_kit")
    assert sub.constants(demo_profile=True) == {} and sub.replaced_files(REPO_ROOT) == {}


def test_a_variant_wins_over_the_demo_profile_and_its_line_says_so(tmp_path):
    sub = DemoSubmission(
        "dave",
        "longer",
        "centre_crop",
        variant=(("N_EPOCHS", 5),),
        demo=(("N_EPOCHS", 2), ("BATCH_SIZE", 32)),
    )
    assert sub.constants(demo_profile=True) == {"N_EPOCHS": 5, "BATCH_SIZE": 32}
    assert sub.reasons(demo_profile=True) == {"N_EPOCHS": "variant", "BATCH_SIZE": "demo profile"}
    assert sub.reasons(demo_profile=False) == {"N_EPOCHS": "variant"}
    sub.write_code(REPO_ROOT, tmp_path, demo_profile=True)
    line = next(
        line
        for line in (tmp_path / "batch_classifier.py").read_text().splitlines()
        if line.startswith("N_EPOCHS =")
    )
    assert line.startswith("N_EPOCHS = 5") and "dave's variant" in line
