"""Flies: the three hoverflies (Episyrphus, Myathropa, Helophilus) and the metallic Neomyia."""

from __future__ import annotations

import numpy as np

from .anatomy import (
    BLACK,
    ORANGE,
    YELLOW,
    antennae,
    bands,
    eyes,
    jitter,
    legs,
    mix,
    part,
    smoothstep,
    wings,
)
from .painter import Frame


def _hoverfly(
    fr: Frame, rng: np.random.Generator, *, ab_a, ab_b, thorax_pat, ab_pat, eye_col, th_col
) -> None:
    legs(
        fr,
        rng,
        anchors=[0.1, -0.05, -0.2],
        half_width=0.22,
        length=0.75,
        width=0.03,
        colour=jitter(rng, (0.55, 0.4, 0.15), 0.2),
    )
    part(
        fr,
        rng,
        u0=-0.3 - ab_a,
        a=ab_a,
        b=ab_b,
        colour=th_col,
        pattern=ab_pat,
        power=2.2,
        shine=0.18,
    )
    part(fr, rng, u0=0.0, a=0.32, b=0.3, colour=th_col, pattern=thorax_pat, shine=0.2)
    eyes(fr, rng, u0=0.45, v_off=0.1, a=0.17, b=0.16, colour=eye_col)
    part(fr, rng, u0=0.56, a=0.08, b=0.1, colour=jitter(rng, YELLOW, 0.15), shine=0.1)
    antennae(fr, rng, root_u=0.6, length=0.12, colour=BLACK, width=0.02)
    wings(
        fr,
        rng,
        root_u=0.05,
        root_v=0.2,
        length=1.05,
        width=0.22,
        angle=rng.uniform(0.3, 0.75),
        alpha=0.25,
    )


def episyrphus(fr: Frame, rng: np.random.Generator) -> None:
    orange, black = jitter(rng, ORANGE, 0.12), jitter(rng, BLACK, 0.2)
    bronze = jitter(rng, (0.3, 0.27, 0.15), 0.15)
    w_thin = rng.uniform(0.02, 0.06)

    def ab(s, t):  # thick band then a thin "moustache" band on each tergite, black tip
        m = bands(
            s,
            [
                (0.55, 0.7),
                (0.1, 0.22),
                (0.2 - w_thin * 3, 0.2),
                (-0.38, -0.26),
                (-0.5 - w_thin, -0.45),
                (-1.0, -0.8),
            ],
            soft=0.03,
        )
        return mix(orange, black, np.maximum(m, smoothstep(np.abs(t), 0.85, 1.0) * 0.6))

    _hoverfly(
        fr,
        rng,
        ab_a=rng.uniform(0.62, 0.75),
        ab_b=rng.uniform(0.22, 0.28),
        thorax_pat=None,
        ab_pat=ab,
        eye_col=jitter(rng, (0.55, 0.22, 0.12), 0.15),
        th_col=bronze,
    )


def myathropa(fr: Frame, rng: np.random.Generator) -> None:
    yellow, black = jitter(rng, (0.9, 0.72, 0.3), 0.12), jitter(rng, BLACK, 0.2)
    grey = jitter(rng, (0.35, 0.32, 0.25), 0.15)

    def th(s, t):  # dark thorax with pale sides and the "skull" mark
        return mix(
            grey,
            yellow,
            np.maximum(smoothstep(np.abs(t), 0.65, 0.8), bands(s, [(-0.2, 0.1)]) * 0.5),
        )

    def ab(s, t):
        m = np.maximum(
            bands(s, [(0.6, 1.0), (0.0, 0.2), (-0.5, -0.35), (-1.0, -0.75)]),
            (1.0 - smoothstep(np.abs(t), 0.15, 0.3)) * (s < 0.6),
        )
        return mix(yellow, black, m)

    _hoverfly(
        fr,
        rng,
        ab_a=rng.uniform(0.5, 0.62),
        ab_b=rng.uniform(0.33, 0.4),
        thorax_pat=th,
        ab_pat=ab,
        eye_col=jitter(rng, (0.45, 0.25, 0.12), 0.15),
        th_col=grey,
    )


def helophilus(fr: Frame, rng: np.random.Generator) -> None:
    yellow, black = jitter(rng, (0.92, 0.78, 0.35), 0.12), jitter(rng, BLACK, 0.2)
    grey = jitter(rng, (0.75, 0.72, 0.6), 0.1)

    def th(s, t):  # longitudinal yellow-grey stripes on black
        return mix(black, yellow, smoothstep(np.cos(t * np.pi * 2.0), 0.3, 0.6))

    def ab(s, t):
        patch = smoothstep(np.abs(t), 0.25, 0.4) * bands(s, [(0.15, 0.75), (-0.35, 0.05)])
        pale = bands(s, [(-0.6, -0.5)]) * 0.8
        return mix(mix(black, yellow, patch), grey, pale)

    _hoverfly(
        fr,
        rng,
        ab_a=rng.uniform(0.55, 0.68),
        ab_b=rng.uniform(0.3, 0.36),
        thorax_pat=th,
        ab_pat=ab,
        eye_col=jitter(rng, (0.5, 0.32, 0.15), 0.15),
        th_col=black,
    )


def neomyia(fr: Frame, rng: np.random.Generator) -> None:
    met = jitter(rng, (0.15, 0.55, 0.35) if rng.random() < 0.6 else (0.15, 0.35, 0.6), 0.15)
    legs(fr, rng, anchors=[0.1, -0.05, -0.2], half_width=0.22, length=0.7, width=0.03, colour=BLACK)
    part(fr, rng, u0=-0.7, a=0.45, b=0.36, colour=met, shine=0.45, metallic=0.5)
    part(fr, rng, u0=0.0, a=0.32, b=0.3, colour=met, shine=0.4, metallic=0.5)
    eyes(fr, rng, u0=0.42, v_off=0.1, a=0.14, b=0.14, colour=jitter(rng, (0.6, 0.15, 0.08), 0.15))
    wings(
        fr,
        rng,
        root_u=0.05,
        root_v=0.2,
        length=0.95,
        width=0.24,
        angle=rng.uniform(0.25, 0.6),
        alpha=0.22,
    )
