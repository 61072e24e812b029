"""The driver of ``bench/event_day.py``: a compressed event day on the deployed shape.

``plan`` (who submits what, when), ``stack`` (the processes), ``crowd`` (the participants),
``observer`` (what the API shows, when), ``checks`` (the database read back and checked),
``figures`` (latencies, staleness, utilisation, capacity), ``reblend_curve`` (full re-blends
against N), ``run`` (one day, tying them together). ``tests/bench/test_event_day.py`` runs a
tiny day and asserts the checks.
"""

from .run import DayConfig, DayReport, run_day

__all__ = ["DayConfig", "DayReport", "run_day"]
