"""The 18 procedural taxa: one drawing function per class id, in the taxon's real colours.

Every function draws onto a posed :class:`~.painter.Frame` with its own random variation
(colour morphs, pattern details, wing and leg posture). Sibling taxa share body plans and
overlap in their variation on purpose (the two bumblebee groups, the three hoverflies, the two
crab spiders, the three metallic greens), so that telling them apart needs the fine details.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .anatomy import BLACK, antennae, bands, eyes, jitter, legs, mix, part, smoothstep, wings
from .painter import Frame, stroke

YELLOW = (0.95, 0.78, 0.2)
ORANGE = (0.95, 0.58, 0.15)
WHITE = (0.92, 0.9, 0.84)
RED = (0.82, 0.13, 0.07)
GREEN = (0.28, 0.58, 0.22)


def _seg(s: np.ndarray, n: float, lo: float, hi: float) -> np.ndarray:
    """1 where the fractional position inside each of ``n`` segments is within [lo, hi]."""
    f = ((1.0 - s) * 0.5 * n) % 1.0
    return smoothstep(f, lo - 0.05, lo + 0.05) * (1.0 - smoothstep(f, hi - 0.05, hi + 0.05))


def _spots(s, t, centres, r) -> np.ndarray:
    out = np.zeros_like(s)
    for cs, ct in centres:
        out = np.maximum(out, 1.0 - smoothstep(np.hypot(s - cs, (t - ct) * 1.1), r * 0.8, r))
    return out


def _mottle(s, t, rng, freq: float = 8.0) -> np.ndarray:
    p = rng.uniform(0, 6.3, 4)
    return (np.sin(freq * s + p[0]) * np.sin(freq * 1.3 * t + p[1]) + np.sin(freq * 1.7 * (s + t) + p[2])) / 2


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
    legs(fr, rng, anchors=[0.12, -0.05, -0.22], half_width=0.3, length=0.75, width=0.045, colour=black)

    def abdomen(s, t):
        w = smoothstep(-s, -tail_from - 0.05, -tail_from + 0.05)
        if band:
            w2 = bands(s, [(0.25, 0.6)])
            return mix(mix(black, yellow, w2), tail, w)
        return mix(black, tail, w)

    part(fr, rng, u0=ab_u * tl, a=0.62 * tl, b=0.5, colour=black, pattern=abdomen, fur=0.09, shine=0.05)

    def thorax(s, t):
        w = smoothstep(s, 0.25, 0.4) if collar else 0.0
        return mix(black, collar_col, w)

    part(fr, rng, u0=0.0, a=0.42, b=0.42, colour=black, pattern=thorax, fur=0.09, shine=0.05)
    part(fr, rng, u0=0.52, a=0.2, b=0.26, colour=black, fur=0.04)
    antennae(fr, rng, root_u=0.66, length=0.42, colour=black, elbow=True, width=0.022)
    wings(fr, rng, root_u=0.0, root_v=0.2, length=0.95, width=0.22, angle=rng.uniform(0.15, 0.45),
          tint=(0.55, 0.5, 0.45), alpha=0.35)


def apis(fr: Frame, rng: np.random.Generator) -> None:
    dark = rng.random() < 0.3  # dark strains are common in France
    base = jitter(rng, (0.38, 0.26, 0.14) if dark else (0.75, 0.5, 0.2), 0.12)
    band = jitter(rng, (0.18, 0.11, 0.06), 0.15)
    hair = jitter(rng, (0.5, 0.4, 0.27), 0.1)
    legs(fr, rng, anchors=[0.1, -0.05, -0.2], half_width=0.22, length=0.7, width=0.035, colour=band)
    nseg = rng.uniform(4.5, 5.5)
    part(fr, rng, u0=-0.8, a=0.6, b=0.3, colour=base,
         pattern=lambda s, t: mix(base, band, _seg(s, nseg, 0.55, 0.95)), shine=0.12)
    part(fr, rng, u0=0.0, a=0.3, b=0.28, colour=hair, fur=0.06, shine=0.05)
    part(fr, rng, u0=0.42, a=0.17, b=0.21, colour=band)
    eyes(fr, rng, u0=0.45, v_off=0.14, a=0.11, b=0.07, colour=(0.12, 0.1, 0.08))
    antennae(fr, rng, root_u=0.55, length=0.38, colour=band, elbow=True)
    wings(fr, rng, root_u=0.02, root_v=0.15, length=1.0, width=0.2, angle=rng.uniform(0.12, 0.35), pairs=2)


def _hoverfly(fr: Frame, rng: np.random.Generator, *, ab_a, ab_b, thorax_pat, ab_pat, eye_col,
              th_col) -> None:
    legs(fr, rng, anchors=[0.1, -0.05, -0.2], half_width=0.22, length=0.75, width=0.03,
         colour=jitter(rng, (0.55, 0.4, 0.15), 0.2))
    part(fr, rng, u0=-0.3 - ab_a, a=ab_a, b=ab_b, colour=th_col, pattern=ab_pat, power=2.2, shine=0.18)
    part(fr, rng, u0=0.0, a=0.32, b=0.3, colour=th_col, pattern=thorax_pat, shine=0.2)
    eyes(fr, rng, u0=0.45, v_off=0.1, a=0.17, b=0.16, colour=eye_col)
    part(fr, rng, u0=0.56, a=0.08, b=0.1, colour=jitter(rng, YELLOW, 0.15), shine=0.1)
    antennae(fr, rng, root_u=0.6, length=0.12, colour=BLACK, width=0.02)
    wings(fr, rng, root_u=0.05, root_v=0.2, length=1.05, width=0.22, angle=rng.uniform(0.3, 0.75),
          alpha=0.25)


def episyrphus(fr: Frame, rng: np.random.Generator) -> None:
    orange, black = jitter(rng, ORANGE, 0.12), jitter(rng, BLACK, 0.2)
    bronze = jitter(rng, (0.3, 0.27, 0.15), 0.15)
    w_thin = rng.uniform(0.02, 0.06)

    def ab(s, t):  # thick band then a thin "moustache" band on each tergite, black tip
        m = bands(s, [(0.55, 0.7), (0.1, 0.22), (0.2 - w_thin * 3, 0.2), (-0.38, -0.26),
                      (-0.5 - w_thin, -0.45), (-1.0, -0.8)], soft=0.03)
        return mix(orange, black, np.maximum(m, smoothstep(np.abs(t), 0.85, 1.0) * 0.6))

    _hoverfly(fr, rng, ab_a=rng.uniform(0.62, 0.75), ab_b=rng.uniform(0.22, 0.28), thorax_pat=None,
              ab_pat=ab, eye_col=jitter(rng, (0.55, 0.22, 0.12), 0.15), th_col=bronze)


def myathropa(fr: Frame, rng: np.random.Generator) -> None:
    yellow, black = jitter(rng, (0.9, 0.72, 0.3), 0.12), jitter(rng, BLACK, 0.2)
    grey = jitter(rng, (0.35, 0.32, 0.25), 0.15)

    def th(s, t):  # dark thorax with pale sides and the "skull" mark
        return mix(grey, yellow, np.maximum(smoothstep(np.abs(t), 0.65, 0.8), bands(s, [(-0.2, 0.1)]) * 0.5))

    def ab(s, t):
        m = np.maximum(bands(s, [(0.6, 1.0), (0.0, 0.2), (-0.5, -0.35), (-1.0, -0.75)]),
                       (1.0 - smoothstep(np.abs(t), 0.15, 0.3)) * (s < 0.6))
        return mix(yellow, black, m)

    _hoverfly(fr, rng, ab_a=rng.uniform(0.5, 0.62), ab_b=rng.uniform(0.33, 0.4), thorax_pat=th,
              ab_pat=ab, eye_col=jitter(rng, (0.45, 0.25, 0.12), 0.15), th_col=grey)


def helophilus(fr: Frame, rng: np.random.Generator) -> None:
    yellow, black = jitter(rng, (0.92, 0.78, 0.35), 0.12), jitter(rng, BLACK, 0.2)
    grey = jitter(rng, (0.75, 0.72, 0.6), 0.1)

    def th(s, t):  # longitudinal yellow-grey stripes on black
        return mix(black, yellow, smoothstep(np.cos(t * np.pi * 2.0), 0.3, 0.6))

    def ab(s, t):
        patch = smoothstep(np.abs(t), 0.25, 0.4) * bands(s, [(0.15, 0.75), (-0.35, 0.05)])
        pale = bands(s, [(-0.6, -0.5)]) * 0.8
        return mix(mix(black, yellow, patch), grey, pale)

    _hoverfly(fr, rng, ab_a=rng.uniform(0.55, 0.68), ab_b=rng.uniform(0.3, 0.36), thorax_pat=th,
              ab_pat=ab, eye_col=jitter(rng, (0.5, 0.32, 0.15), 0.15), th_col=black)


def _wasp(fr: Frame, rng: np.random.Generator, *, yellow, black, body: float, polistes: bool) -> None:
    leg_col = jitter(rng, (0.9, 0.65, 0.15), 0.12) if polistes else yellow
    legs(fr, rng, anchors=[0.1, -0.05, -0.2], half_width=0.18, length=0.8 * body, width=0.03, colour=leg_col)
    n_bands = rng.uniform(4.2, 5.2)

    def ab(s, t):
        if polistes:  # yellow with black front margins and paired black spots
            m = _seg(s, n_bands, 0.0, 0.4) + _spots(s, t, [(0.1, 0.4), (0.1, -0.4), (-0.3, 0.35), (-0.3, -0.35)], 0.14)
            return mix(yellow, black, np.clip(m, 0.0, 1.0))
        return mix(black, yellow, _seg(s, n_bands, 0.75, 0.95))

    a = 0.6 * body
    part(fr, rng, u0=-0.38 - a, a=a, b=0.24 * body, colour=black, pattern=ab, shine=0.25)
    part(fr, rng, u0=-0.33, a=0.08, b=0.06, colour=black)  # the waist
    part(fr, rng, u0=0.0, a=0.3, b=0.21 * body + 0.02, colour=black,
         pattern=lambda s, t: mix(black, yellow, bands(s, [(-0.9, -0.6)]) * 0.9), shine=0.25)
    part(fr, rng, u0=0.4, a=0.15, b=0.19, colour=black,
                pattern=lambda s, t: mix(black, yellow, smoothstep(s, 0.1, 0.4)))
    antennae(fr, rng, root_u=0.52, length=0.5 if polistes else 0.3, elbow=True,
             colour=leg_col if polistes else black)
    tint = (0.75, 0.6, 0.35) if polistes else (0.82, 0.84, 0.86)
    wings(fr, rng, root_u=0.02, root_v=0.12, length=0.95 * body, width=0.12, angle=rng.uniform(0.05, 0.3),
          tint=tint, alpha=0.35, pairs=2)


def polistes(fr: Frame, rng: np.random.Generator) -> None:
    _wasp(fr, rng, yellow=jitter(rng, (0.96, 0.78, 0.08), 0.1), black=jitter(rng, BLACK, 0.2),
          body=rng.uniform(1.0, 1.15), polistes=True)


def crabronidae(fr: Frame, rng: np.random.Generator) -> None:
    _wasp(fr, rng, yellow=jitter(rng, (0.95, 0.85, 0.2), 0.12), black=jitter(rng, BLACK, 0.2),
          body=rng.uniform(0.8, 0.95), polistes=False)


def xylocopa(fr: Frame, rng: np.random.Generator) -> None:
    black = jitter(rng, (0.05, 0.05, 0.07), 0.2)
    legs(fr, rng, anchors=[0.12, -0.05, -0.22], half_width=0.32, length=0.8, width=0.05, colour=black)
    part(fr, rng, u0=-0.9, a=0.66, b=0.5, colour=black, shine=0.3, metallic=0.3)
    part(fr, rng, u0=0.0, a=0.45, b=0.44, colour=black, fur=0.08, shine=0.05)
    part(fr, rng, u0=0.55, a=0.22, b=0.3, colour=black, shine=0.15)
    antennae(fr, rng, root_u=0.7, length=0.4, colour=black, elbow=True, width=0.025)
    wings(fr, rng, root_u=0.0, root_v=0.22, length=1.2, width=0.26, angle=rng.uniform(0.15, 0.4),
          tint=jitter(rng, (0.25, 0.18, 0.45), 0.15), alpha=rng.uniform(0.5, 0.75))


def _beetle(fr, rng, *, el_a, el_b, el_col, el_pat, pr_col, pr_pat=None, power=2.3, shine=0.3,
            metallic=0.0, leg_col=BLACK, fur=0.0, ant=0.3) -> None:
    legs(fr, rng, anchors=[0.3, 0.05, -0.15], half_width=el_b * 0.7, length=0.55 + el_b * 0.5,
         width=0.035, colour=leg_col)
    part(fr, rng, u0=-el_a + 0.1, a=el_a, b=el_b, colour=el_col, pattern=el_pat, power=power,
         shine=shine, metallic=metallic, fur=fur)
    stroke(fr, 0.1, 0.0, 0.1 - 2 * el_a, 0.0, 0.012, BLACK, alpha=0.6)  # suture
    pa, pb = 0.22 * el_b / 0.38 + 0.02, el_b * 0.82
    part(fr, rng, u0=0.1 + pa * 0.85, a=pa, b=pb, colour=pr_col, pattern=pr_pat, power=2.4, shine=shine,
         metallic=metallic, fur=fur)
    hu = 0.1 + pa * 1.9
    part(fr, rng, u0=hu, a=0.11, b=0.12, colour=pr_col, shine=shine * 0.5, metallic=metallic)
    antennae(fr, rng, root_u=hu + 0.08, length=ant, colour=leg_col, spread=0.7)


def oxythyrea(fr: Frame, rng: np.random.Generator) -> None:
    black = jitter(rng, BLACK, 0.25)
    white = jitter(rng, WHITE, 0.05)
    pts = [(rng.uniform(-0.9, 0.7), rng.uniform(0.2, 0.85)) for _ in range(rng.integers(3, 7))]
    cen = [(s, t) for s, t in pts] + [(s, -t) for s, t in pts]
    r = rng.uniform(0.1, 0.16)
    _beetle(fr, rng, el_a=0.62, el_b=0.38, el_col=black, el_pat=lambda s, t: mix(black, white, _spots(s, t, cen, r)),
            pr_col=black, pr_pat=lambda s, t: mix(black, white, _spots(s, t, [(0.0, 0.75), (0.0, -0.75)], 0.15)),
            fur=0.02, shine=0.2)


def graphosoma(fr: Frame, rng: np.random.Generator) -> None:
    red, black = jitter(rng, (0.85, 0.18, 0.08), 0.12), jitter(rng, BLACK, 0.2)
    legs(fr, rng, anchors=[0.25, 0.05, -0.15], half_width=0.3, length=0.6, width=0.035, colour=black)

    def stripes(n, width):
        return lambda s, t: mix(red, black, smoothstep(np.cos(t * np.pi * n), 1.0 - width, 1.0 - width + 0.2))

    part(fr, rng, u0=-0.6, a=0.72, b=0.45, colour=red, pattern=stripes(2.5, 0.7), power=1.8, shine=0.15)
    part(fr, rng, u0=0.22, a=0.26, b=0.46, colour=red, pattern=stripes(3.0, 0.8), power=2.8, shine=0.15)
    part(fr, rng, u0=0.55, a=0.14, b=0.12, colour=black)
    antennae(fr, rng, root_u=0.62, length=0.4, colour=black, spread=0.6)


def coccinella(fr: Frame, rng: np.random.Generator) -> None:
    red, black = jitter(rng, (0.85, 0.12, 0.05), 0.12), jitter(rng, BLACK, 0.2)
    r = rng.uniform(0.18, 0.24)
    cen = [(0.75, 0.0), (0.35, 0.55), (0.35, -0.55), (-0.2, 0.45), (-0.2, -0.45), (-0.6, 0.3), (-0.6, -0.3)]
    cen = [(s + rng.normal(0, 0.05), t + rng.normal(0, 0.05)) for s, t in cen]
    legs(fr, rng, anchors=[0.2, 0.0, -0.2], half_width=0.3, length=0.45, width=0.035, colour=black)
    part(fr, rng, u0=-0.2, a=0.56, b=0.55, colour=red, pattern=lambda s, t: mix(red, black, _spots(s, t, cen, r)),
         shine=0.45)
    stroke(fr, 0.3, 0.0, -0.76, 0.0, 0.012, black, alpha=0.7)
    part(fr, rng, u0=0.42, a=0.16, b=0.34, colour=black, shine=0.3, power=2.2,
         pattern=lambda s, t: mix(black, WHITE, _spots(s, t, [(0.3, 0.75), (0.3, -0.75)], 0.3)))
    part(fr, rng, u0=0.58, a=0.08, b=0.14, colour=black)


def _crab_spider(fr: Frame, rng: np.random.Generator, *, ab_pat, ceph_col, leg_col) -> None:
    for i, ua in enumerate([0.45, 0.35, 0.25, 0.15]):
        long = i < 2
        for side in (-1.0, 1.0):  # crab posture: two long front pairs held sideways-forward
            ang = (0.5 - 0.25 * i if long else -0.5 - 0.3 * (i - 2)) + rng.normal(0, 0.12)
            ln = rng.uniform(0.9, 1.15) if long else rng.uniform(0.45, 0.6)
            ku, kv = ua + ln * 0.5 * np.sin(ang), side * (0.2 + ln * 0.5 * np.cos(ang))
            fu, fv = ku + ln * 0.5 * np.sin(ang + 0.5 * np.sign(ang)), kv + side * ln * 0.35
            w = 0.04 if long else 0.03
            stroke(fr, ua, side * 0.12, ku, kv, w, leg_col)
            stroke(fr, ku, kv, fu, fv, w * 0.8, leg_col, width1=w * 0.5)
    part(fr, rng, u0=-0.4, a=0.5, b=rng.uniform(0.42, 0.52), colour=ceph_col, pattern=ab_pat, shine=0.15)
    part(fr, rng, u0=0.3, a=0.27, b=0.25, colour=ceph_col, shine=0.12)


def synema(fr: Frame, rng: np.random.Generator) -> None:
    morph = rng.choice(3, p=[0.45, 0.35, 0.2])  # yellow, red, white morphs
    base = jitter(rng, [(0.95, 0.82, 0.25), (0.85, 0.25, 0.1), (0.9, 0.88, 0.78)][morph], 0.1)
    black = jitter(rng, BLACK, 0.25)
    blot = rng.uniform(0.35, 0.55)

    def ab(s, t):  # black central blotch with lobes
        lobes = 0.12 * np.cos(s * np.pi * 3.0)
        m = 1.0 - smoothstep(np.abs(t), blot + lobes - 0.08, blot + lobes + 0.05)
        return mix(base, black, m * (1.0 - smoothstep(s, 0.45, 0.6)) * (s > -0.85))

    brown = jitter(rng, (0.45, 0.32, 0.15), 0.2)
    _crab_spider(fr, rng, ab_pat=ab, ceph_col=brown, leg_col=mix(brown, base, 0.5))


def xysticus(fr: Frame, rng: np.random.Generator) -> None:
    brown = jitter(rng, (0.42, 0.3, 0.18), 0.2)
    dark = jitter(rng, (0.16, 0.1, 0.06), 0.2)
    pale = jitter(rng, (0.7, 0.6, 0.45), 0.15)

    def ab(s, t):  # mottled with dark chevrons and pale edges
        chev = smoothstep(np.cos((s + np.abs(t) * 0.6) * np.pi * 3.0), 0.3, 0.8)
        col = mix(brown, dark, chev * 0.8 + 0.25 * _mottle(s, t, rng, 10.0))
        return mix(col, pale, smoothstep(np.abs(t), 0.75, 0.95) * 0.6)

    _crab_spider(fr, rng, ab_pat=ab, ceph_col=brown, leg_col=mix(brown, pale, 0.3))


def oedemera(fr: Frame, rng: np.random.Generator) -> None:
    green = jitter(rng, (0.3, 0.58, 0.2), 0.15)
    legs(fr, rng, anchors=[0.25, 0.1, -0.05], half_width=0.12, length=0.7, width=0.03, colour=green)
    gap = rng.uniform(0.03, 0.1)
    for side in (-1.0, 1.0):  # narrow elytra gaping towards the tip
        part(fr, rng, u0=-0.65, v0=side * 0.09, a=0.75, b=0.1, rot=side * gap, colour=green, shine=0.3,
             metallic=0.4)
    part(fr, rng, u0=0.22, a=0.17, b=0.13, colour=green, shine=0.3, metallic=0.4)
    part(fr, rng, u0=0.45, a=0.12, b=0.11, colour=green, shine=0.2, metallic=0.4)
    antennae(fr, rng, root_u=0.55, length=0.75, colour=mix(green, BLACK, 0.6), spread=0.4)


def neomyia(fr: Frame, rng: np.random.Generator) -> None:
    met = jitter(rng, (0.15, 0.55, 0.35) if rng.random() < 0.6 else (0.15, 0.35, 0.6), 0.15)
    legs(fr, rng, anchors=[0.1, -0.05, -0.2], half_width=0.22, length=0.7, width=0.03, colour=BLACK)
    part(fr, rng, u0=-0.7, a=0.45, b=0.36, colour=met, shine=0.45, metallic=0.5)
    part(fr, rng, u0=0.0, a=0.32, b=0.3, colour=met, shine=0.4, metallic=0.5)
    eyes(fr, rng, u0=0.42, v_off=0.1, a=0.14, b=0.14, colour=jitter(rng, (0.6, 0.15, 0.08), 0.15))
    wings(fr, rng, root_u=0.05, root_v=0.2, length=0.95, width=0.24, angle=rng.uniform(0.25, 0.6), alpha=0.22)


def cetonia(fr: Frame, rng: np.random.Generator) -> None:
    green = jitter(rng, (0.25, 0.6, 0.2) if rng.random() < 0.8 else (0.55, 0.45, 0.2), 0.15)
    pts = [(rng.uniform(-0.8, 0.0), rng.uniform(0.3, 0.8)) for _ in range(rng.integers(1, 4))]
    cen = pts + [(s, -t) for s, t in pts]
    _beetle(fr, rng, el_a=0.72, el_b=0.46, el_col=green, metallic=0.6, shine=0.5, power=2.6,
            el_pat=lambda s, t: mix(green, WHITE, _spots(s, t, cen, 0.07) * 0.8), pr_col=green,
            leg_col=mix(green, BLACK, 0.5))


def dermestidae(fr: Frame, rng: np.random.Generator) -> None:
    dark = jitter(rng, (0.16, 0.11, 0.07), 0.2)
    pale = jitter(rng, (0.85, 0.8, 0.7), 0.1)
    rust = jitter(rng, (0.65, 0.38, 0.15), 0.15)

    def el(s, t):
        n1, n2 = _mottle(s, t, rng, 9.0), _mottle(s, t, rng, 6.0)
        return mix(mix(dark, pale, smoothstep(n1, 0.2, 0.45)), rust, smoothstep(n2, 0.3, 0.6) * 0.8)

    _beetle(fr, rng, el_a=0.5, el_b=0.38, el_col=dark, el_pat=el, pr_col=dark, power=2.0, shine=0.12,
            leg_col=dark, ant=0.15)


#: class id -> (drawing function, relative body size)
DRAWERS: dict[int, tuple[Callable[[Frame, np.random.Generator], None], float]] = {
    0: (lambda fr, rng: bumblebee(fr, rng, False), 1.05),
    1: (dermestidae, 0.8),
    2: (episyrphus, 0.95),
    3: (apis, 1.0),
    4: (myathropa, 1.0),
    5: (oxythyrea, 0.9),
    6: (graphosoma, 0.95),
    7: (coccinella, 0.85),
    8: (xylocopa, 1.15),
    9: (synema, 0.95),
    10: (oedemera, 0.95),
    11: (neomyia, 0.95),
    12: (helophilus, 1.0),
    13: (lambda fr, rng: bumblebee(fr, rng, True), 1.05),
    14: (cetonia, 1.05),
    15: (xysticus, 0.95),
    16: (polistes, 1.0),
    17: (crabronidae, 0.9),
}


def draw_insect(class_id: int, fr: Frame, rng: np.random.Generator) -> None:
    """Draw the taxon ``class_id`` into the posed frame."""
    DRAWERS[class_id][0](fr, rng)


