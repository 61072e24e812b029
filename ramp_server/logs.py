"""How every ``ramp-server`` process logs (the CLI verbs, web workers, the public mirror)."""

from __future__ import annotations

import logging
import os


def setup_logging() -> None:
    """INFO logs of the platform on stderr; Dask's own chatter only from WARNING up."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # the local cluster's worker processes configure their logging from the environment
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
