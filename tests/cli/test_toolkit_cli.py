"""The organiser's toolkit from the command line (issue #14 items 2–6), on SQLite and
PostgreSQL: submissions left, baselines, freeze, re-scoring and re-training, notifications."""

from __future__ import annotations

from ramp_test_plugin import REPO_ROOT

STARTING_KIT = REPO_ROOT / "submissions" / "starting_kit"


def _event_with(cli, event_kit, *rules: str) -> None:  # noqa: ANN001
    assert cli("event", "add", "--name", "spipoll", "--kit", str(event_kit), *rules)[0] == 0
    for name in ("ann", "bob"):
        assert (
            cli("user", "add", name, "--email", f"{name}@x.org", "--password", "s3cret-pass")[0]
            == 0
        )
        assert cli("user", "approve", name, "--event", "spipoll")[0] == 0


def _submit(cli, user: str, name: str):  # noqa: ANN001, ANN202
    return cli("submit", "--event", "spipoll", "--user", user, "--name", name, str(STARTING_KIT))


def test_submit_prints_the_submissions_left_today(cli, event_kit):
    _event_with(cli, event_kit, "--daily-quota", "2")
    rc, out, err = _submit(cli, "ann", "one")
    assert rc == 0, err
    assert "1 of 2 submissions left today; next allowed now" in out
    rc, out, err = _submit(cli, "ann", "two")
    assert rc == 0, err
    assert "0 of 2 submissions left today; next allowed at " in out
    rc, _, err = _submit(cli, "ann", "three")
    assert rc == 2 and "daily quota reached" in err
    rc, out, err = _submit(cli, "bob", "one")  # another team: its own quota
    assert rc == 0 and "1 of 2 submissions left today" in out, err
