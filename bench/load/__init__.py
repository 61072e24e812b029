"""The load driver of ``bench/load_participants.py``: N participants at once against a real server.

``seed`` builds the kit and the database, ``server`` starts ``ramp-server serve``,
``participant`` is one simulated participant, ``report`` measures and checks, ``run`` ties them
together. ``tests/web/test_load.py`` runs :func:`run_load` briefly and asserts the checks.
"""

from .participant import PAGES
from .report import LoadReport
from .run import run_load
from .seed import make_kit

__all__ = ["PAGES", "LoadReport", "make_kit", "run_load"]
