"""The dispatcher's terminal line for a progress report, which participant code writes."""

from __future__ import annotations

from ramp_server.engine.progress_relay import clean_progress, _describe_progress


def test_progress_line_shows_epoch_and_float_metrics():
    progress = clean_progress({"epoch": 3, "n_epochs": 15, "loss": 1.23456, "valid_acc": 0.4})
    assert _describe_progress(progress) == "epoch 3/15, loss 1.235, valid_acc 0.400"


def test_progress_line_cannot_forge_log_lines():
    forged = "1\n2026-11-28 INFO ramp_server: submission 9 scored\x1b[2J"
    assert _describe_progress(clean_progress({"epoch": forged, "n_epochs": 2})) is None
    line = _describe_progress(
        clean_progress({"epoch": 1, "n_epochs": forged, "bad\nkey": 0.5, "ok": 0.25})
    )
    assert line == "epoch 1/?, ok 0.250"
    assert _describe_progress(clean_progress({"epoch": True})) is None
