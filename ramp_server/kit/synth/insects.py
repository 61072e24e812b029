"""The 18 procedural taxa: one drawing function per class id, in the taxon's real colours.

Every function draws onto a posed :class:`~.painter.Frame` with its own random variation
(colour morphs, pattern details, wing and leg posture). Sibling taxa share body plans and
overlap in their variation on purpose (the two bumblebee groups, the three hoverflies, the two
crab spiders, the three metallic greens), so that telling them apart needs the fine details.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import beetles, flies, hymenoptera, spiders
from .painter import Frame

#: class id -> (drawing function, relative body size)
DRAWERS: dict[int, tuple[Callable[[Frame, np.random.Generator], None], float]] = {
    0: (lambda fr, rng: hymenoptera.bumblebee(fr, rng, False), 1.05),
    1: (beetles.dermestidae, 0.8),
    2: (flies.episyrphus, 0.95),
    3: (hymenoptera.apis, 1.0),
    4: (flies.myathropa, 1.0),
    5: (beetles.oxythyrea, 0.9),
    6: (beetles.graphosoma, 0.95),
    7: (beetles.coccinella, 0.85),
    8: (hymenoptera.xylocopa, 1.15),
    9: (spiders.synema, 0.95),
    10: (beetles.oedemera, 0.95),
    11: (flies.neomyia, 0.95),
    12: (flies.helophilus, 1.0),
    13: (lambda fr, rng: hymenoptera.bumblebee(fr, rng, True), 1.05),
    14: (beetles.cetonia, 1.05),
    15: (spiders.xysticus, 0.95),
    16: (hymenoptera.polistes, 1.0),
    17: (hymenoptera.crabronidae, 0.9),
}
