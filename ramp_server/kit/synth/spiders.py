"""Crab spiders: Synema globosum and the dark Xysticus."""

from __future__ import annotations

import numpy as np

from .anatomy import (
    BLACK,
    jitter,
    mix,
    mottle,
    part,
    smoothstep,
)
from .painter import Frame, stroke


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
    part(
        fr,
        rng,
        u0=-0.4,
        a=0.5,
        b=rng.uniform(0.42, 0.52),
        colour=ceph_col,
        pattern=ab_pat,
        shine=0.15,
    )
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
        col = mix(brown, dark, chev * 0.8 + 0.25 * mottle(s, t, rng, 10.0))
        return mix(col, pale, smoothstep(np.abs(t), 0.75, 0.95) * 0.6)

    _crab_spider(fr, rng, ab_pat=ab, ceph_col=brown, leg_col=mix(brown, pale, 0.3))
