"""A scored submission's pictures: the bagged validation confusion matrix as a heat map, each
taxon's accuracy beside its frequency, and the learning curves of its folds.

Inline SVG built here from what :mod:`ramp_server.services.confusion` and
:mod:`ramp_server.services.progress` return (no SQL, no JavaScript). The heat map and the paired
bars are drawn at a size where the taxon names stay readable: the heat map keeps a minimum
width and scrolls inside its own box on a phone, the bars stack each taxon's name over its pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from ramp_server.db.models import Submission, SubmissionState
from ramp_server.services import confusion as confusion_service
from ramp_server.services import progress
from ramp_server.web import charts

if TYPE_CHECKING:
    from ramp_server.config import Settings
    from ramp_server.services.confusion import Confusion
    from ramp_server.services.progress import FoldCurve

#: the heat map's cell side and the width of its row labels (user units)
CELL, LABEL_W = 26, 220
#: colour of a share of 1 in the heat map (0 is white)
HEAT_RGB = (29, 78, 216)


@dataclass(frozen=True)
class Pictures:
    """The submission page's pictures, or for each the sentence saying why there is none."""

    confusion: Markup | None
    accuracy: Markup | None
    curves: Markup | None
    confusion_missing: str
    curves_missing: str


def _heat(value: float) -> str:
    r, g, b = (round(255 + (c - 255) * value) for c in HEAT_RGB)
    return f"rgb({r},{g},{b})"


def _svg_head(cls: str, width: float, height: float, title: str) -> str:
    return (
        f'<svg class="chart {cls}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


def confusion_heatmap(conf: Confusion) -> Markup:
    """The row-normalised confusion matrix: true taxa down (named, numbered), predicted taxa
    across (numbered), each cell's share as a shade of blue and, from 1 %, in figures."""
    n = len(conf.labels)
    top, right, bottom = 58, 8, 8
    width, height = LABEL_W + n * CELL + right, top + n * CELL + bottom
    title = f"Confusion matrix of the bagged validation predictions ({conf.n_rows} images)"
    parts = [_svg_head("heatmap", width, height, title)]
    parts.append(
        f'<text x="{LABEL_W}" y="16" class="axis-label">predicted taxon (number) →</text>'
        f'<text x="{LABEL_W - 8}" y="{top - 8}" text-anchor="end" class="axis-label">'
        "true taxon ↓</text>"
    )
    for j in range(n):
        x = LABEL_W + j * CELL + CELL / 2
        parts.append(
            f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" class="tick">{j + 1}'
            f"<title>{escape(conf.labels[j])}</title></text>"
        )
    for i, name in enumerate(conf.labels):
        y = top + i * CELL
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + CELL * 0.66:.1f}" text-anchor="end" class="lbl">'
            f"{escape(name)} {i + 1}</text>"
        )
        for j, share in enumerate(conf.matrix[i]):
            x = LABEL_W + j * CELL
            tip = (
                f"true {conf.labels[i]}, predicted {conf.labels[j]}: {share:.1%} "
                f"({conf.counts[i][j]} of {conf.support[i]})"
            )
            stroke = ' stroke="#111827" stroke-width="1.2"' if i == j else ""
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" '
                f'fill="{_heat(share)}"{stroke}><title>{escape(tip)}</title></rect>'
            )
            if share >= 0.01:
                ink = "#ffffff" if share > 0.5 else "#1f2937"
                parts.append(
                    f'<text x="{x + (CELL - 1) / 2:.1f}" y="{y + CELL * 0.64:.1f}" '
                    f'text-anchor="middle" class="cell" fill="{ink}">{round(share * 100)}</text>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))


def accuracy_bars(conf: Confusion) -> Markup:
    """Per taxon, its name over a pair of bars: its accuracy (the share of its images predicted
    right, on a 0-100 % scale) and its frequency (its share of the validation images, the most
    frequent taxon's bar the longest). Narrow enough to read on a phone without scrolling."""
    row_h, top, bar_w, width = 46, 50, 300, 400
    height = top + len(conf.labels) * row_h
    fmax = max(conf.frequency, default=0.0) or 1.0
    title = "Accuracy of each taxon beside its frequency in the validation images"
    parts = [_svg_head("paired", width, height, title)]
    parts.append(
        f'<rect x="0" y="6" width="12" height="12" rx="2" fill="{charts.PALETTE[0]}"/>'
        '<text x="18" y="16" class="legend">accuracy: share of its images predicted right</text>'
        f'<rect x="0" y="26" width="12" height="12" rx="2" fill="{charts.PALETTE[1]}"/>'
        f'<text x="18" y="36" class="legend">frequency: share of the images (longest: '
        f"{fmax:.1%})</text>"
    )
    for i, name in enumerate(conf.labels):
        y = top + i * row_h
        acc, freq = conf.accuracy[i], conf.frequency[i]
        acc_text = "no image" if acc is None else f"{acc:.0%}"
        acc_w, freq_w = (acc or 0.0) * bar_w, freq / fmax * bar_w
        parts.append(
            f'<text x="0" y="{y + 12}" class="lbl">{escape(name)}</text>'
            f'<rect x="0" y="{y + 17}" width="{bar_w}" height="10" class="track"/>'
            f'<rect x="0" y="{y + 17}" width="{acc_w:.1f}" height="10" rx="2" '
            f'fill="{charts.PALETTE[0]}" class="bar-acc">'
            f"<title>{escape(name)}: accuracy {acc_text}</title></rect>"
            f'<text x="{bar_w + 6}" y="{y + 26}" class="val">{acc_text}</text>'
            f'<rect x="0" y="{y + 30}" width="{freq_w:.1f}" height="10" rx="2" '
            f'fill="{charts.PALETTE[1]}" class="bar-freq">'
            f"<title>{escape(name)}: {freq:.1%} of the images ({conf.support[i]})</title></rect>"
            f'<text x="{bar_w + 6}" y="{y + 39}" class="val">{freq:.1%}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def learning_curves_chart(curves: list[FoldCurve]) -> Markup:
    """Validation accuracy per epoch, one line per fold."""
    series = [
        charts.Series(
            f"fold {c.fold + 1}",
            [(float(e), acc) for e, acc in c.points],
            "line",
            charts.PALETTE[k % len(charts.PALETTE)],
            [f"fold {c.fold + 1}, epoch {e}: {acc:.4f}" for e, acc in c.points],
        )
        for k, c in enumerate(curves)
    ]
    return charts.xy_chart(
        series,
        y_label="validation accuracy",
        x_is_time=False,
        x_label="epoch",
        x_integer=True,
        title="Learning curves: validation accuracy per epoch of each fold",
        width=440,
        height=280,
    )


def _confusion_missing(sub: Submission) -> str:
    if sub.state in (SubmissionState.ERROR, SubmissionState.CANCELLED):
        return (
            f"This submission ended in {sub.state.value} before every fold was scored: there are "
            "no bagged validation predictions to draw a confusion matrix from."
        )
    if sub.state != SubmissionState.SCORED:
        return "The confusion matrix and the per-taxon accuracy appear once every fold is scored."
    return "The stored validation predictions of this submission could not be found."


NO_CURVES = (
    "No fold reported a validation accuracy per epoch, so there are no learning curves. A "
    "submission draws them by calling gen_builder.report(epoch=..., n_epochs=..., "
    "valid_acc=...) at the end of each epoch of its fit."
)


def submission_pictures(db: Session, *, settings: Settings, sub: Submission) -> Pictures:
    """The pictures of ``sub``'s page (computed through the services, memoized there)."""
    conf = confusion_service.bagged_confusion(settings=settings, submission=sub)
    curves = progress.learning_curves(db, submission_id=sub.id)
    return Pictures(
        confusion=confusion_heatmap(conf) if conf else None,
        accuracy=accuracy_bars(conf) if conf else None,
        curves=learning_curves_chart(curves) if curves else None,
        confusion_missing="" if conf else _confusion_missing(sub),
        curves_missing="" if curves else NO_CURVES,
    )
