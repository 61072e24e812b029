"""Body parts shared by the procedural insects: segments, legs, wings, antennae, eyes.

Units: a typical insect is about 2 units long, head towards ``+u``. Colours are RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .painter import Frame, dome, ellipse, highlight, paint, stroke

Colour = tuple[float, float, float]
#: a pattern maps the part's normalised coordinates ``(s, t)`` (s: -1 tail end … +1 head end)
#: to a per-pixel colour array
Pattern = Callable[[np.ndarray, np.ndarray], np.ndarray]

BLACK: Colour = (0.06, 0.055, 0.05)
YELLOW: Colour = (0.95, 0.78, 0.2)
ORANGE: Colour = (0.95, 0.58, 0.15)
WHITE: Colour = (0.92, 0.9, 0.84)


def jitter(rng: np.random.Generator, colour: Colour, amount: float = 0.08) -> np.ndarray:
    """A colour with per-channel multiplicative and brightness noise (individual variation)."""
    c = np.asarray(colour, dtype=np.float32)
    c = c * (1.0 + rng.normal(0.0, amount, 3)) * (1.0 + rng.normal(0.0, amount))
    return np.clip(c, 0.0, 1.0).astype(np.float32)


def mix(a: np.ndarray | Colour, b: np.ndarray | Colour, w: np.ndarray | float) -> np.ndarray:
    """Per-pixel blend ``a*(1-w) + b*w`` (``w`` broadcast over the channels)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    w = np.asarray(w, dtype=np.float32)
    if w.ndim:
        w = w[..., None]
    return a * (1.0 - w) + b * w


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo + 1e-6), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def bands(s: np.ndarray, edges: list[tuple[float, float]], soft: float = 0.04) -> np.ndarray:
    """1 inside any of the ``(start, end)`` intervals of ``s``, soft-edged."""
    out = np.zeros_like(s)
    for a, b in edges:
        out = np.maximum(
            out, smoothstep(s, a - soft, a + soft) * (1.0 - smoothstep(s, b - soft, b + soft))
        )
    return out


def part(
    fr: Frame,
    rng: np.random.Generator,
    *,
    u0: float,
    a: float,
    b: float,
    colour: Colour | np.ndarray,
    pattern: Pattern | None = None,
    v0: float = 0.0,
    power: float = 2.0,
    fur: float = 0.0,
    shine: float = 0.15,
    metallic: float = 0.0,
    rot: float = 0.0,
) -> np.ndarray:
    """Draw one shaded body segment (head, thorax, abdomen, elytra…); returns its mask.

    ``fur`` roughens the outline and the texture (bees); ``shine`` is the specular strength;
    ``metallic`` adds an iridescent hue shift towards blue in the shadowed parts.
    """
    r = max(a, b) * (1.0 + 2.0 * fur)
    fr = fr.sub(u0 - r, v0 - r, u0 + r, v0 + r, 0.05)
    fuzz = rng.normal(0.0, fur, fr.u.shape).astype(np.float32) if fur else 0.0
    mask, d, s, t = ellipse(fr, u0, v0, a, b, rot=rot, power=power, fuzz=fuzz)
    if not mask.any():
        return mask
    col = pattern(s, t) if pattern is not None else np.asarray(colour, dtype=np.float32)
    light = dome(np.minimum(d, 1.0), 0.35 if metallic else 0.5)
    if fur:
        light = light * (1.0 + rng.normal(0.0, fur * 1.5, light.shape).astype(np.float32))
    col = col * light[..., None] if np.ndim(col) == 3 else np.asarray(col) * light[..., None]
    if metallic:
        shadow = (1.0 - light)[..., None]
        col = col + metallic * shadow * np.array([-0.1, -0.05, 0.25], dtype=np.float32)
    if shine:
        hl = highlight(fr, u0, v0, max(a, b), sharp=2.0 if metallic else 1.0)
        col = col + shine * hl[..., None]
    paint(fr, mask, np.clip(col, 0.0, 1.0))
    return mask


def legs(
    fr: Frame,
    rng: np.random.Generator,
    *,
    anchors: list[float],
    half_width: float,
    length: float,
    width: float,
    colour: Colour | np.ndarray,
    forward: float = 0.4,
    spread: float = 0.5,
) -> None:
    """Pairs of two-segment legs anchored at ``u`` positions on both sides of the body."""
    n = len(anchors)
    for i, ua in enumerate(anchors):
        # front legs point forward, hind legs backward
        base = forward * (1.0 - 2.0 * i / max(n - 1, 1))
        for side in (-1.0, 1.0):
            ang = base + rng.normal(0.0, 0.18)
            l1 = length * rng.uniform(0.42, 0.55)
            l2 = length - l1
            ku = ua + l1 * np.sin(ang) * 0.6
            kv = side * (half_width + l1 * np.cos(ang) * (0.7 + spread * 0.5))
            bend = ang + rng.normal(0.0, 0.25) + 0.5 * np.sign(base + 1e-3)
            fu = ku + l2 * np.sin(bend)
            fv = kv + side * l2 * abs(np.cos(bend)) * spread
            stroke(fr, ua, side * half_width * 0.6, ku, kv, width, colour)
            stroke(fr, ku, kv, fu, fv, width * 0.85, colour, width1=width * 0.5)


def wings(
    fr: Frame,
    rng: np.random.Generator,
    *,
    root_u: float,
    root_v: float,
    length: float,
    width: float,
    angle: float,
    tint: Colour | np.ndarray = (0.85, 0.88, 0.9),
    alpha: float = 0.35,
    vein: Colour = (0.2, 0.17, 0.12),
    pairs: int = 1,
) -> None:
    """Translucent wings swept back by ``angle`` (rad) from the body axis, with a dark margin."""
    for side in (-1.0, 1.0):
        for k in range(pairs):
            ang = angle + rng.normal(0.0, 0.08) - 0.12 * k
            du, dv = -np.cos(ang), side * np.sin(ang)
            cu = root_u + du * length * 0.5
            cv = side * root_v + dv * length * 0.5
            rot = float(np.arctan2(dv, du))
            ln = length * (1.0 - 0.25 * k)
            h = ln * 0.5
            wf = fr.sub(cu - h, cv - h, cu + h, cv + h, 0.05)
            mask, d, s, t = ellipse(wf, cu, cv, h, width * (1.0 - 0.25 * k), rot=rot)
            sheen = 1.0 + 0.25 * np.exp(-((s - 0.2) ** 2 + (t + 0.3) ** 2) * 4.0)
            col = np.asarray(tint, dtype=np.float32) * sheen[..., None]
            paint(wf, mask, np.clip(col, 0.0, 1.0), alpha)
            paint(wf, mask * smoothstep(d, 0.8, 1.0), vein, alpha * 0.8)
            stroke(
                fr,
                root_u,
                side * root_v,
                cu + du * ln * 0.3,
                cv + dv * ln * 0.3,
                0.012,
                vein,
                alpha=0.5,
            )


def antennae(
    fr: Frame,
    rng: np.random.Generator,
    *,
    root_u: float,
    length: float,
    colour: Colour | np.ndarray,
    spread: float = 0.5,
    width: float = 0.018,
    elbow: bool = False,
) -> None:
    """Two antennae from the head; ``elbow`` bends them (bees, wasps)."""
    for side in (-1.0, 1.0):
        ang = spread + rng.normal(0.0, 0.12)
        if elbow:
            l1 = length * 0.4
            mu, mv = root_u + l1 * np.cos(ang), side * (0.03 + l1 * np.sin(ang))
            ang2 = ang + rng.uniform(0.3, 0.9)
            eu, ev = mu + (length - l1) * np.cos(ang2), mv + side * (length - l1) * np.sin(ang2)
            stroke(fr, root_u, side * 0.03, mu, mv, width, colour)
            stroke(fr, mu, mv, eu, ev, width, colour)
        else:
            eu, ev = root_u + length * np.cos(ang), side * (0.03 + length * np.sin(ang))
            stroke(fr, root_u, side * 0.03, eu, ev, width, colour)


def eyes(
    fr: Frame,
    rng: np.random.Generator,
    *,
    u0: float,
    v_off: float,
    a: float,
    b: float,
    colour: Colour | np.ndarray,
) -> None:
    """Two compound eyes on the sides of the head."""
    for side in (-1.0, 1.0):
        r = max(a, b)
        ef = fr.sub(u0 - r, side * v_off - r, u0 + r, side * v_off + r, 0.02)
        m, d, _, _ = ellipse(ef, u0, side * v_off, a, b)
        col = np.asarray(colour, dtype=np.float32) * dome(d, 0.5)[..., None]
        col = col + 0.35 * highlight(ef, u0, side * v_off, r, sharp=3.0)[..., None]
        paint(ef, m, np.clip(col, 0.0, 1.0))


def seg(s: np.ndarray, n: float, lo: float, hi: float) -> np.ndarray:
    """1 where the fractional position inside each of ``n`` segments is within [lo, hi]."""
    f = ((1.0 - s) * 0.5 * n) % 1.0
    return smoothstep(f, lo - 0.05, lo + 0.05) * (1.0 - smoothstep(f, hi - 0.05, hi + 0.05))


def spots(s, t, centres, r) -> np.ndarray:
    """1 inside round spots of radius ``r`` at ``(s, t)`` centres."""
    out = np.zeros_like(s)
    for cs, ct in centres:
        out = np.maximum(out, 1.0 - smoothstep(np.hypot(s - cs, (t - ct) * 1.1), r * 0.8, r))
    return out


def mottle(s, t, rng, freq: float = 8.0) -> np.ndarray:
    """A random interference pattern in [-1, 1] (mottled scales, speckles)."""
    p = rng.uniform(0, 6.3, 4)
    return (
        np.sin(freq * s + p[0]) * np.sin(freq * 1.3 * t + p[1])
        + np.sin(freq * 1.7 * (s + t) + p[2])
    ) / 2
