"""What the platform demo (``scripts/demo``) submits, and the story it tells at the end.

The plan is a handful of participants submitting the reference models of ``submissions/`` and
variants of them (other inputs, other constants: the changed lines say so in the submitted
code), so that the hybrid model of them beats each one; one participant later submits a slight
improvement of her first submission, whose share of the hybrid model then falls, as the second
best model's did in the 2015 event (37 % → 2 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

USERS = ("alice", "bob", "carol", "dave", "erin", "frank")
#: epochs of the slow CNNs in the demo profile (their code says so on its N_EPOCHS line)
DEMO_EPOCHS = {"small_resnet": 8, "heuritech_cnn": 5, "cnn_no_dropout": 5}


@dataclass(frozen=True)
class DemoSubmission:
    """One submission of the demo: ``user`` submits the folder ``submissions/<folder>`` as
    ``name``, with the image preprocessor of ``submissions/<inputs>`` if given, the module
    constants ``variant`` changed (a participant's variant of it) and, in the demo profile, the
    constants ``demo`` changed too (fewer epochs). A submission that ``improves`` an earlier one
    of the same user is submitted once everything before it is scored (with ``--until-idle``),
    as a participant does after seeing the leaderboard."""

    user: str
    name: str
    folder: str
    inputs: str | None = None
    variant: tuple[tuple[str, int | float], ...] = ()
    demo: tuple[tuple[str, int | float], ...] = ()
    improves: str | None = None

    def constants(self, *, demo_profile: bool) -> dict[str, int | float]:
        """The module constants its copy changes (the demo profile's, then its variant's)."""
        return {**(dict(self.demo) if demo_profile else {}), **dict(self.variant)}

    def reasons(self, *, demo_profile: bool) -> dict[str, str]:
        """Why each changed constant changed: its variant's value wins over the demo profile's."""
        variant = dict(self.variant)
        return {
            name: "variant" if name in variant else "demo profile"
            for name in self.constants(demo_profile=demo_profile)
        }

    def replaced_files(self, repo: Path) -> dict[str, Path]:
        """The files its copy takes from another submission folder of ``repo``."""
        if self.inputs is None:
            return {}
        return {
            "image_preprocessor.py": repo / "submissions" / self.inputs / "image_preprocessor.py"
        }

    def write_code(
        self, repo: Path, dst: Path, *, demo_profile: bool
    ) -> dict[str, tuple[str, str]]:
        """Write the code it submits to ``dst``: ``submissions/<folder>`` of ``repo`` with its
        files and constants changed (each changed line says why); the changed constants."""
        from ramp_server.kit.epochs import variant_copy

        reasons = self.reasons(demo_profile=demo_profile)
        return variant_copy(
            repo / "submissions" / self.folder,
            dst,
            constants=self.constants(demo_profile=demo_profile),
            reason=f"{self.user}'s variant",
            reasons={name: why for name, why in reasons.items() if why == "demo profile"},
            files=self.replaced_files(repo),
        )


#: the demo profile's training of the centre-crop network: a few epochs, so smaller batches
#: and a higher learning rate than the reference's (64, 1e-3), which learns too slowly for them
_FAST = (("BATCH_SIZE", 32), ("LEARNING_RATE", 2e-3))


def _crop(user: str, name: str, *, crop: float, epochs: int, **kw) -> DemoSubmission:
    """The organisers' centre-crop network on another crop (``CROP_FRACTION`` of the side)."""
    return DemoSubmission(
        user,
        name,
        "centre_crop",
        variant=(("CROP_FRACTION", crop),),
        demo=(("N_EPOCHS", epochs), *_FAST),
        **kw,
    )


#: the demo's event, in submission order: the starting kit, hand-made colour features, and the
#: organisers' centre-crop network on three crops of the picture (half its side, 45 %, 40 %) by
#: three participants, so that the blend of those beats each one; then carol's slight
#: improvement of hers (the same network trained three epochs longer), which takes her first
#: version's place in the hybrid model. Chosen with ``bench/demo_trial.py`` (every candidate
#: trained once, plans blended offline): on 2 CPU cores, about 550 CPU seconds of training,
#: the hybrid about 2 points of accuracy above the best single submission, in the first round
#: and at the end.
DEMO_PLAN = (
    DemoSubmission("alice", "starting_kit", "starting_kit"),
    DemoSubmission("bob", "colour_features", "colour_features"),
    _crop("carol", "crop_50", crop=0.5, epochs=5),
    _crop("dave", "crop_45", crop=0.45, epochs=8),
    _crop("erin", "crop_40", crop=0.4, epochs=8),
    _crop("carol", "crop_50_longer", crop=0.5, epochs=8, improves="crop_50"),
)


def plan_of(folders: tuple[str, ...] | None) -> tuple[DemoSubmission, ...]:
    """The demo's plan, or one reference submission per folder, by USERS[0], USERS[1]..."""
    if folders is None:
        return DEMO_PLAN
    return tuple(
        DemoSubmission(
            USERS[i % len(USERS)],
            folder,
            folder,
            demo=(("N_EPOCHS", DEMO_EPOCHS[folder]),) if folder in DEMO_EPOCHS else (),
        )
        for i, folder in enumerate(folders)
    )


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f} %"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def story_lines(story) -> list[str]:
    """The demo's last lines: the hybrid model against the best single submission, each
    submission's share of the hybrid, and the improved submission's predecessor's share before
    and after its successor (a :class:`ramp_server.services.story.Story`)."""
    if story.blend_id is None:
        return ["==> the RAMP story: nothing was blended (no submission scored)"]
    name = story.score_name
    lines = [
        f"==> the RAMP story (from the database, blend {story.blend_id}; {name} on the test set, "
        "validation in brackets)",
        f"    hybrid model of {len(story.shares)} submissions: {_score(story.hybrid_test)} "
        f"({_score(story.hybrid_valid)})",
    ]
    best = story.best
    if best is not None:
        lines.append(
            f"    best single submission, {best.user}/{best.submission}: {_score(best.test)} "
            f"({_score(best.valid)})"
        )
        if story.hybrid_test is not None and best.test is not None:
            gap = story.hybrid_test - best.test
            verdict = "above" if gap > 0 else "not above"
            lines.append(f"    the hybrid model is {verdict} the best single one: {gap:+.3f}")
    nonzero = sum(1 for s in story.shares if s.contributivity > 0)
    lines.append(f"    contributivity ({nonzero} of {len(story.shares)} submissions credited):")
    width = max(len(f"{s.user}/{s.submission}") for s in story.shares)
    for s in story.shares:
        label = f"{s.user}/{s.submission}"
        lines.append(
            f"      {label:<{width}}  {_pct(s.contributivity):>5}  "
            f"{name} {_score(s.test)} ({_score(s.valid)})"
        )
    imp = story.improvement
    if imp is not None:
        lines.append(
            f"    {imp.user}/{imp.predecessor}: {_pct(imp.before)} of the hybrid before its "
            f"improvement {imp.user}/{imp.successor} was scored, {_pct(imp.after)} after"
        )
    return lines
