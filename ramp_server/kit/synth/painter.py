"""Vectorised drawing primitives: soft-edged shapes on a float RGB canvas.

Everything is drawn with numpy on coordinate grids (no per-pixel Python loops). Shapes are
described in a *local frame* (``u`` along the body axis, head towards ``+u``; ``v`` across), so a
whole insect is posed (rotated, scaled, squashed by tilt, placed) by building one frame.
Coverage masks have a one-pixel soft edge, which anti-aliases the shapes before the final
downsampling to 64×64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: rendering resolution (the final images are downsampled by 2)
SIZE = 128


@dataclass
class Frame:
    """A posed local coordinate frame restricted to a window of the canvas.

    ``u``/``v`` hold the local coordinates (in body units) of the pixels of the window
    ``img[y0:y1, x0:x1]``; ``px`` is the size of one pixel in body units (for soft edges).
    """

    img: np.ndarray
    u: np.ndarray
    v: np.ndarray
    y0: int
    y1: int
    x0: int
    x1: int
    px: float
    #: light direction in local coordinates (for highlights)
    light_u: float
    light_v: float
    #: the pose (centre px, cos/sin of the angle, px per unit, squash), to map points back
    pose: tuple[float, float, float, float, float, float]

    @property
    def view(self) -> np.ndarray:
        return self.img[self.y0 : self.y1, self.x0 : self.x1]

    def sub(self, u0: float, v0: float, u1: float, v1: float, margin: float) -> Frame:
        """The same frame restricted to the box around two local points (+ ``margin`` units).

        Small shapes (legs, eyes, spots) are computed on this box only: that is most of the
        rendering speed.
        """
        cx, cy, c, s, scale, squash = self.pose
        corners = ((u0, v0), (u1, v1), (u0, v1), (u1, v0))
        xs = [cx + scale * (u * c - v * squash * s) for u, v in corners]
        ys = [cy + scale * (u * s + v * squash * c) for u, v in corners]
        m = margin * scale + 1.5
        ya = min(max(int(min(ys) - m), self.y0), self.y1)
        yb = max(min(int(max(ys) + m) + 1, self.y1), ya)
        xa = min(max(int(min(xs) - m), self.x0), self.x1)
        xb = max(min(int(max(xs) + m) + 1, self.x1), xa)
        u = self.u[ya - self.y0 : yb - self.y0, xa - self.x0 : xb - self.x0]
        v = self.v[ya - self.y0 : yb - self.y0, xa - self.x0 : xb - self.x0]
        return Frame(self.img, u, v, ya, yb, xa, xb, self.px, self.light_u, self.light_v, self.pose)


def make_frame(
    img: np.ndarray,
    *,
    cx: float,
    cy: float,
    angle: float,
    scale: float,
    squash: float = 1.0,
    radius: float = 3.0,
    light: float = -2.3,
) -> Frame:
    """Pose a local frame: centre ``(cx, cy)`` px, rotation ``angle`` rad, ``scale`` px per unit.

    ``squash`` < 1 foreshortens the ``v`` axis (an insect seen at a tilt); ``radius`` (units)
    bounds the window that is computed; ``light`` is the image-space angle the light comes from.
    """
    h, w = img.shape[:2]
    r = radius * scale
    y0, y1 = max(0, int(cy - r)), min(h, int(cy + r) + 1)
    x0, x1 = max(0, int(cx - r)), min(w, int(cx + r) + 1)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    c, s = np.cos(angle), np.sin(angle)
    u = (xs * c + ys * s) / scale
    v = (-xs * s + ys * c) / (scale * squash)
    lu, lv = np.cos(light - angle), np.sin(light - angle)
    pose = (cx, cy, float(c), float(s), scale, squash)
    return Frame(img, u, v, y0, y1, x0, x1, 1.0 / scale, float(lu), float(lv), pose)


def ellipse(
    fr: Frame,
    u0: float,
    v0: float,
    a: float,
    b: float,
    *,
    rot: float = 0.0,
    power: float = 2.0,
    fuzz: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A (super)ellipse of half-axes ``a`` (along u) × ``b``; returns ``(mask, d, s, t)``.

    ``d`` is the normalised radius (0 centre, 1 edge), ``s``/``t`` the coordinates in the shape's
    own axes normalised to [-1, 1]; ``fuzz`` perturbs the edge (hairy outlines).
    """
    du, dv = fr.u - u0, fr.v - v0
    if rot:
        c, sn = np.cos(rot), np.sin(rot)
        du, dv = du * c + dv * sn, -du * sn + dv * c
    s, t = du / a, dv / b
    if power == 2.0:
        d = np.sqrt(s * s + t * t)
    else:
        d = (np.abs(s) ** power + np.abs(t) ** power) ** (1.0 / power)
    edge = (1.0 - d + fuzz) * (min(a, b) / fr.px) + 0.5
    return np.clip(edge, 0.0, 1.0), d, s, t


def segment(
    fr: Frame, u0: float, v0: float, u1: float, v1: float, width: float, width1: float | None = None
) -> np.ndarray:
    """Coverage of a capsule from ``(u0, v0)`` to ``(u1, v1)`` (legs, antennae, veins)."""
    du, dv = u1 - u0, v1 - v0
    ll = du * du + dv * dv + 1e-9
    pu, pv = fr.u - u0, fr.v - v0
    h = np.clip((pu * du + pv * dv) / ll, 0.0, 1.0)
    dist = np.sqrt((pu - h * du) ** 2 + (pv - h * dv) ** 2)
    w = width if width1 is None else width + (width1 - width) * h
    # keep hairlines visible: never thinner than ~0.6 px
    w = np.maximum(w, 0.3 * fr.px)
    return np.clip((w - dist) / fr.px + 0.5, 0.0, 1.0)


def stroke(
    fr: Frame,
    u0: float,
    v0: float,
    u1: float,
    v1: float,
    width: float,
    colour: np.ndarray | tuple,
    *,
    width1: float | None = None,
    alpha: float = 1.0,
) -> None:
    """Paint a capsule (leg segment, antenna, vein), computed on its bounding box only."""
    sf = fr.sub(u0, v0, u1, v1, max(width, width1 or 0.0))
    if sf.u.size:
        paint(sf, segment(sf, u0, v0, u1, v1, width, width1), colour, alpha)


def paint(fr: Frame, mask: np.ndarray, colour: np.ndarray | tuple, alpha: float = 1.0) -> None:
    """Composite ``colour`` (RGB triple or per-pixel array) over the frame with ``mask``."""
    view = fr.view
    m = (mask * alpha)[..., None]
    col = np.asarray(colour, dtype=np.float32)
    view *= 1.0 - m
    view += m * col


def dome(d: np.ndarray, lo: float = 0.45) -> np.ndarray:
    """Lambert-like shading of a rounded body from its normalised radius (``lo`` at the rim)."""
    return lo + (1.0 - lo) * np.sqrt(np.clip(1.0 - d * d, 0.0, 1.0))


def highlight(fr: Frame, u0: float, v0: float, size: float, sharp: float = 1.0) -> np.ndarray:
    """A specular spot on a part centred at ``(u0, v0)`` of radius ``size``, towards the light."""
    hu = u0 + fr.light_u * size * 0.45
    hv = v0 + fr.light_v * size * 0.45
    r2 = ((fr.u - hu) ** 2 + (fr.v - hv) ** 2) / (size * size * 0.12 / sharp)
    return np.exp(-r2)


def shade(colour: np.ndarray | tuple, light: np.ndarray) -> np.ndarray:
    """Per-pixel colour: a base colour (triple or array) times a light map."""
    col = np.asarray(colour, dtype=np.float32)
    return col * light[..., None] if col.ndim == 1 else col * light[..., None]


def noise_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth random field in [-1, 1]: bilinear upsampling of a ``cells``×``cells`` lattice."""
    h, w = shape
    lat = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    yi = np.linspace(0, cells, h, dtype=np.float32)
    xi = np.linspace(0, cells, w, dtype=np.float32)
    y0 = np.minimum(yi.astype(np.int32), cells - 1)
    x0 = np.minimum(xi.astype(np.int32), cells - 1)
    fy = (yi - y0)[:, None]
    fx = (xi - x0)[None, :]
    a = lat[y0][:, x0]
    b = lat[y0][:, x0 + 1]
    c = lat[y0 + 1][:, x0]
    d = lat[y0 + 1][:, x0 + 1]
    top = a + (b - a) * fx
    bot = c + (d - c) * fx
    return top + (bot - top) * fy
