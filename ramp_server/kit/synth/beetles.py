"""Beetles and the shield bug: Oxythyrea, Graphosoma, Coccinella, Oedemera, Cétoines, Dermestidae."""

from __future__ import annotations

import numpy as np

from .anatomy import (
    BLACK,
    WHITE,
    antennae,
    jitter,
    legs,
    mix,
    mottle,
    part,
    smoothstep,
    spots,
)
from .painter import Frame, stroke


def _beetle(
    fr,
    rng,
    *,
    el_a,
    el_b,
    el_col,
    el_pat,
    pr_col,
    pr_pat=None,
    power=2.3,
    shine=0.3,
    metallic=0.0,
    leg_col=BLACK,
    fur=0.0,
    ant=0.3,
) -> None:
    legs(
        fr,
        rng,
        anchors=[0.3, 0.05, -0.15],
        half_width=el_b * 0.7,
        length=0.55 + el_b * 0.5,
        width=0.035,
        colour=leg_col,
    )
    part(
        fr,
        rng,
        u0=-el_a + 0.1,
        a=el_a,
        b=el_b,
        colour=el_col,
        pattern=el_pat,
        power=power,
        shine=shine,
        metallic=metallic,
        fur=fur,
    )
    stroke(fr, 0.1, 0.0, 0.1 - 2 * el_a, 0.0, 0.012, BLACK, alpha=0.6)  # suture
    pa, pb = 0.22 * el_b / 0.38 + 0.02, el_b * 0.82
    part(
        fr,
        rng,
        u0=0.1 + pa * 0.85,
        a=pa,
        b=pb,
        colour=pr_col,
        pattern=pr_pat,
        power=2.4,
        shine=shine,
        metallic=metallic,
        fur=fur,
    )
    hu = 0.1 + pa * 1.9
    part(fr, rng, u0=hu, a=0.11, b=0.12, colour=pr_col, shine=shine * 0.5, metallic=metallic)
    antennae(fr, rng, root_u=hu + 0.08, length=ant, colour=leg_col, spread=0.7)


def oxythyrea(fr: Frame, rng: np.random.Generator) -> None:
    black = jitter(rng, BLACK, 0.25)
    white = jitter(rng, WHITE, 0.05)
    pts = [(rng.uniform(-0.9, 0.7), rng.uniform(0.2, 0.85)) for _ in range(rng.integers(3, 7))]
    cen = [(s, t) for s, t in pts] + [(s, -t) for s, t in pts]
    r = rng.uniform(0.1, 0.16)
    _beetle(
        fr,
        rng,
        el_a=0.62,
        el_b=0.38,
        el_col=black,
        el_pat=lambda s, t: mix(black, white, spots(s, t, cen, r)),
        pr_col=black,
        pr_pat=lambda s, t: mix(black, white, spots(s, t, [(0.0, 0.75), (0.0, -0.75)], 0.15)),
        fur=0.02,
        shine=0.2,
    )


def graphosoma(fr: Frame, rng: np.random.Generator) -> None:
    red, black = jitter(rng, (0.85, 0.18, 0.08), 0.12), jitter(rng, BLACK, 0.2)
    legs(
        fr, rng, anchors=[0.25, 0.05, -0.15], half_width=0.3, length=0.6, width=0.035, colour=black
    )

    def stripes(n, width):
        return lambda s, t: mix(
            red, black, smoothstep(np.cos(t * np.pi * n), 1.0 - width, 1.0 - width + 0.2)
        )

    part(
        fr,
        rng,
        u0=-0.6,
        a=0.72,
        b=0.45,
        colour=red,
        pattern=stripes(2.5, 0.7),
        power=1.8,
        shine=0.15,
    )
    part(
        fr,
        rng,
        u0=0.22,
        a=0.26,
        b=0.46,
        colour=red,
        pattern=stripes(3.0, 0.8),
        power=2.8,
        shine=0.15,
    )
    part(fr, rng, u0=0.55, a=0.14, b=0.12, colour=black)
    antennae(fr, rng, root_u=0.62, length=0.4, colour=black, spread=0.6)


def coccinella(fr: Frame, rng: np.random.Generator) -> None:
    red, black = jitter(rng, (0.85, 0.12, 0.05), 0.12), jitter(rng, BLACK, 0.2)
    r = rng.uniform(0.18, 0.24)
    cen = [
        (0.75, 0.0),
        (0.35, 0.55),
        (0.35, -0.55),
        (-0.2, 0.45),
        (-0.2, -0.45),
        (-0.6, 0.3),
        (-0.6, -0.3),
    ]
    cen = [(s + rng.normal(0, 0.05), t + rng.normal(0, 0.05)) for s, t in cen]
    legs(fr, rng, anchors=[0.2, 0.0, -0.2], half_width=0.3, length=0.45, width=0.035, colour=black)
    part(
        fr,
        rng,
        u0=-0.2,
        a=0.56,
        b=0.55,
        colour=red,
        pattern=lambda s, t: mix(red, black, spots(s, t, cen, r)),
        shine=0.45,
    )
    stroke(fr, 0.3, 0.0, -0.76, 0.0, 0.012, black, alpha=0.7)
    part(
        fr,
        rng,
        u0=0.42,
        a=0.16,
        b=0.34,
        colour=black,
        shine=0.3,
        power=2.2,
        pattern=lambda s, t: mix(black, WHITE, spots(s, t, [(0.3, 0.75), (0.3, -0.75)], 0.3)),
    )
    part(fr, rng, u0=0.58, a=0.08, b=0.14, colour=black)


def oedemera(fr: Frame, rng: np.random.Generator) -> None:
    green = jitter(rng, (0.3, 0.58, 0.2), 0.15)
    legs(fr, rng, anchors=[0.25, 0.1, -0.05], half_width=0.12, length=0.7, width=0.03, colour=green)
    gap = rng.uniform(0.03, 0.1)
    for side in (-1.0, 1.0):  # narrow elytra gaping towards the tip
        part(
            fr,
            rng,
            u0=-0.65,
            v0=side * 0.09,
            a=0.75,
            b=0.1,
            rot=side * gap,
            colour=green,
            shine=0.3,
            metallic=0.4,
        )
    part(fr, rng, u0=0.22, a=0.17, b=0.13, colour=green, shine=0.3, metallic=0.4)
    part(fr, rng, u0=0.45, a=0.12, b=0.11, colour=green, shine=0.2, metallic=0.4)
    antennae(fr, rng, root_u=0.55, length=0.75, colour=mix(green, BLACK, 0.6), spread=0.4)


def cetonia(fr: Frame, rng: np.random.Generator) -> None:
    green = jitter(rng, (0.25, 0.6, 0.2) if rng.random() < 0.8 else (0.55, 0.45, 0.2), 0.15)
    pts = [(rng.uniform(-0.8, 0.0), rng.uniform(0.3, 0.8)) for _ in range(rng.integers(1, 4))]
    cen = pts + [(s, -t) for s, t in pts]
    _beetle(
        fr,
        rng,
        el_a=0.72,
        el_b=0.46,
        el_col=green,
        metallic=0.6,
        shine=0.5,
        power=2.6,
        el_pat=lambda s, t: mix(green, WHITE, spots(s, t, cen, 0.07) * 0.8),
        pr_col=green,
        leg_col=mix(green, BLACK, 0.5),
    )


def dermestidae(fr: Frame, rng: np.random.Generator) -> None:
    dark = jitter(rng, (0.16, 0.11, 0.07), 0.2)
    pale = jitter(rng, (0.85, 0.8, 0.7), 0.1)
    rust = jitter(rng, (0.65, 0.38, 0.15), 0.15)

    def el(s, t):
        n1, n2 = mottle(s, t, rng, 9.0), mottle(s, t, rng, 6.0)
        return mix(mix(dark, pale, smoothstep(n1, 0.2, 0.45)), rust, smoothstep(n2, 0.3, 0.6) * 0.8)

    _beetle(
        fr,
        rng,
        el_a=0.5,
        el_b=0.38,
        el_col=dark,
        el_pat=el,
        pr_col=dark,
        power=2.0,
        shine=0.12,
        leg_col=dark,
        ant=0.15,
    )
