"""The 18 SPIPOLL taxa of the 2015 RAMP: the single source of truth for class ids and names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Taxon:
    """One class of the challenge."""

    id: int
    name: str
    #: training-set count in the 2015 event's data (class frequencies of the synthetic generator)
    train_count: int


TAXA: tuple[Taxon, ...] = (
    Taxon(0, "Bourdons noirs à bande jaune", 2525),
    Taxon(1, "Dermestidae", 382),
    Taxon(2, "Episyrphus balteatus", 1463),
    Taxon(3, "Apis mellifera", 4824),
    Taxon(4, "Myathropa florea", 424),
    Taxon(5, "Oxythyrea funesta", 658),
    Taxon(6, "Graphosoma lineatum", 339),
    Taxon(7, "Coccinella 7-points", 680),
    Taxon(8, "Xylocopa", 376),
    Taxon(9, "Synema globosum", 584),
    Taxon(10, "Oedemera", 914),
    Taxon(11, "Neomyia", 804),
    Taxon(12, "Helophilus", 455),
    Taxon(13, "Bourdons noirs (second group)", 606),
    Taxon(14, "Cétoines", 373),
    Taxon(15, "Xysticus (dark crab spiders)", 206),
    Taxon(16, "Polistes", 793),
    Taxon(17, "Crabronidae", 398),
)

N_CLASSES = len(TAXA)
CLASS_NAMES: list[str] = [t.name for t in TAXA]
TRAIN_COUNTS: list[int] = [t.train_count for t in TAXA]
