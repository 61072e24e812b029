"""Bees and wasps: the two bumblebee groups, the honey bee, Xylocopa, Polistes, Crabronidae."""

from __future__ import annotations

import numpy as np

from .anatomy import (
    BLACK,
    WHITE,
    YELLOW,
    antennae,
    bands,
    eyes,
    jitter,
    legs,
    mix,
    part,
    seg,
    smoothstep,
    spots,
    wings,
)
from .painter import Frame


def bumblebee(fr: Frame, rng: np.random.Generator, second_group: bool) -> None:
    black, yellow = jitter(rng, BLACK, 0.2), jitter(rng, YELLOW, 0.1)
    if second_group:  # mostly red-tailed (B. lapidarius-like); some pale-tailed with a faint collar
        red_tail = rng.random() < 0.72
        tail = jitter(rng, (0.8, 0.32, 0.1) if red_tail else WHITE, 0.12)
        tail_from = rng.uniform(-0.45, -0.1) if red_tail else rng.uniform(-0.6, -0.35)
        collar = rng.random() < (0.15 if red_tail else 0.6)
        band = rng.random() < 0.12
        collar_col = mix(yellow, black, rng.uniform(0.2, 0.55))
    else:  # yellow collar and band(s), white or buff tail
        tail = jitter(rng, WHITE if rng.random() < 0.7 else (0.88, 0.7, 0.45), 0.1)
        tail_from = rng.uniform(-0.6, -0.35)
        collar, band = rng.random() < 0.9, rng.random() < 0.78
        collar_col = yellow
    ab_u, tl = -0.85, rng.uniform(0.9, 1.1)
    legs(
        fr,
        rng,
        anchors=[0.12, -0.05, -0.22],
        half_width=0.3,
        length=0.75,
        width=0.045,
        colour=black,
    )

    def abdomen(s, t):
        w = smoothstep(-s, -tail_from - 0.05, -tail_from + 0.05)
        if band:
            w2 = bands(s, [(0.25, 0.6)])
            return mix(mix(black, yellow, w2), tail, w)
        return mix(black, tail, w)

    part(
        fr,
        rng,
        u0=ab_u * tl,
        a=0.62 * tl,
        b=0.5,
        colour=black,
        pattern=abdomen,
        fur=0.09,
        shine=0.05,
    )

    def thorax(s, t):
        w = smoothstep(s, 0.25, 0.4) if collar else 0.0
        return mix(black, collar_col, w)

    part(fr, rng, u0=0.0, a=0.42, b=0.42, colour=black, pattern=thorax, fur=0.09, shine=0.05)
    part(fr, rng, u0=0.52, a=0.2, b=0.26, colour=black, fur=0.04)
    antennae(fr, rng, root_u=0.66, length=0.42, colour=black, elbow=True, width=0.022)
    wings(
        fr,
        rng,
        root_u=0.0,
        root_v=0.2,
        length=0.95,
        width=0.22,
        angle=rng.uniform(0.15, 0.45),
        tint=(0.55, 0.5, 0.45),
        alpha=0.35,
    )


def apis(fr: Frame, rng: np.random.Generator) -> None:
    dark = rng.random() < 0.3  # dark strains are common in France
    base = jitter(rng, (0.38, 0.26, 0.14) if dark else (0.75, 0.5, 0.2), 0.12)
    band = jitter(rng, (0.18, 0.11, 0.06), 0.15)
    hair = jitter(rng, (0.5, 0.4, 0.27), 0.1)
    legs(fr, rng, anchors=[0.1, -0.05, -0.2], half_width=0.22, length=0.7, width=0.035, colour=band)
    nseg = rng.uniform(4.5, 5.5)
    part(
        fr,
        rng,
        u0=-0.8,
        a=0.6,
        b=0.3,
        colour=base,
        pattern=lambda s, t: mix(base, band, seg(s, nseg, 0.55, 0.95)),
        shine=0.12,
    )
    part(fr, rng, u0=0.0, a=0.3, b=0.28, colour=hair, fur=0.06, shine=0.05)
    part(fr, rng, u0=0.42, a=0.17, b=0.21, colour=band)
    eyes(fr, rng, u0=0.45, v_off=0.14, a=0.11, b=0.07, colour=(0.12, 0.1, 0.08))
    antennae(fr, rng, root_u=0.55, length=0.38, colour=band, elbow=True)
    wings(
        fr,
        rng,
        root_u=0.02,
        root_v=0.15,
        length=1.0,
        width=0.2,
        angle=rng.uniform(0.12, 0.35),
        pairs=2,
    )


def _wasp(
    fr: Frame, rng: np.random.Generator, *, yellow, black, body: float, polistes: bool
) -> None:
    leg_col = jitter(rng, (0.9, 0.65, 0.15), 0.12) if polistes else yellow
    legs(
        fr,
        rng,
        anchors=[0.1, -0.05, -0.2],
        half_width=0.18,
        length=0.8 * body,
        width=0.03,
        colour=leg_col,
    )
    n_bands = rng.uniform(4.2, 5.2)

    def ab(s, t):
        if polistes:  # yellow with black front margins and paired black spots
            m = seg(s, n_bands, 0.0, 0.4) + spots(
                s, t, [(0.1, 0.4), (0.1, -0.4), (-0.3, 0.35), (-0.3, -0.35)], 0.14
            )
            return mix(yellow, black, np.clip(m, 0.0, 1.0))
        return mix(black, yellow, seg(s, n_bands, 0.75, 0.95))

    a = 0.6 * body
    part(fr, rng, u0=-0.38 - a, a=a, b=0.24 * body, colour=black, pattern=ab, shine=0.25)
    part(fr, rng, u0=-0.33, a=0.08, b=0.06, colour=black)  # the waist
    part(
        fr,
        rng,
        u0=0.0,
        a=0.3,
        b=0.21 * body + 0.02,
        colour=black,
        pattern=lambda s, t: mix(black, yellow, bands(s, [(-0.9, -0.6)]) * 0.9),
        shine=0.25,
    )
    part(
        fr,
        rng,
        u0=0.4,
        a=0.15,
        b=0.19,
        colour=black,
        pattern=lambda s, t: mix(black, yellow, smoothstep(s, 0.1, 0.4)),
    )
    antennae(
        fr,
        rng,
        root_u=0.52,
        length=0.5 if polistes else 0.3,
        elbow=True,
        colour=leg_col if polistes else black,
    )
    tint = (0.75, 0.6, 0.35) if polistes else (0.82, 0.84, 0.86)
    wings(
        fr,
        rng,
        root_u=0.02,
        root_v=0.12,
        length=0.95 * body,
        width=0.12,
        angle=rng.uniform(0.05, 0.3),
        tint=tint,
        alpha=0.35,
        pairs=2,
    )


def polistes(fr: Frame, rng: np.random.Generator) -> None:
    _wasp(
        fr,
        rng,
        yellow=jitter(rng, (0.96, 0.78, 0.08), 0.1),
        black=jitter(rng, BLACK, 0.2),
        body=rng.uniform(1.0, 1.15),
        polistes=True,
    )


def crabronidae(fr: Frame, rng: np.random.Generator) -> None:
    _wasp(
        fr,
        rng,
        yellow=jitter(rng, (0.95, 0.85, 0.2), 0.12),
        black=jitter(rng, BLACK, 0.2),
        body=rng.uniform(0.8, 0.95),
        polistes=False,
    )


def xylocopa(fr: Frame, rng: np.random.Generator) -> None:
    black = jitter(rng, (0.05, 0.05, 0.07), 0.2)
    legs(
        fr, rng, anchors=[0.12, -0.05, -0.22], half_width=0.32, length=0.8, width=0.05, colour=black
    )
    part(fr, rng, u0=-0.9, a=0.66, b=0.5, colour=black, shine=0.3, metallic=0.3)
    part(fr, rng, u0=0.0, a=0.45, b=0.44, colour=black, fur=0.08, shine=0.05)
    part(fr, rng, u0=0.55, a=0.22, b=0.3, colour=black, shine=0.15)
    antennae(fr, rng, root_u=0.7, length=0.4, colour=black, elbow=True, width=0.025)
    wings(
        fr,
        rng,
        root_u=0.0,
        root_v=0.22,
        length=1.2,
        width=0.26,
        angle=rng.uniform(0.15, 0.4),
        tint=jitter(rng, (0.25, 0.18, 0.45), 0.15),
        alpha=rng.uniform(0.5, 0.75),
    )
