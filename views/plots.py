"""Pictures of the frequency views, as PNG (matplotlib, no display needed).

Keyness is a bar per keyword, G² to the right for lemmas more frequent in the
subset and to the left for less frequent ones, each labelled with its log ratio
and counts. Frequencies are bars of the top lemmas' rates per 10,000 content
words, or, grouped, a heatmap of those rates (lemmas by group).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plansok.errors import PlansokError

if TYPE_CHECKING:
    from plansok.views.frequencies import Frequencies, Keyness

PLUS = "#2b6cb0"
MINUS = "#c05621"


def _pyplot():  # -> matplotlib.pyplot, without a display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise PlansokError(f"{path}: a chart is written as .png")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    _pyplot().close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
    except OSError as exc:
        raise PlansokError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path


def keyness_png(result: Keyness, path: str | Path, n: int = 20) -> Path:
    plt = _pyplot()
    over = result.keywords[:n]
    under = result.negative[: max(0, min(n // 2, len(result.negative)))]
    items = [(k, 1) for k in over] + [(k, -1) for k in under]
    if not items:
        raise PlansokError("no keywords to draw (lower --min-freq, or choose a larger subset)")
    labels = [k.lemma for k, _ in items]
    values = np.array([sign * k.g2 for k, sign in items])
    fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(items) + 1.6), dpi=110)
    y = np.arange(len(items))
    ax.barh(y, values, color=[PLUS if v > 0 else MINUS for v in values])
    ax.set_yticks(y, labels=labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#444", linewidth=0.8)
    span = float(np.abs(values).max()) or 1.0
    for yi, (k, sign) in zip(y, items):
        note = f"LR {k.log_ratio:+.1f}  ({k.count} vs {k.count_ref})"
        ax.text(sign * (abs(sign * k.g2) + span * 0.01), yi, note, va="center", ha="left" if sign > 0 else "right",
                fontsize=7, color="#333")  # fmt: skip
    ax.set_xlim(-span * 1.6 if under else 0, span * 1.6)
    subset, ref = result.describe()
    ax.set_title(f"Keyness of {subset} against {ref}", fontsize=10)
    ax.set_xlabel(
        "G² (log-likelihood); right: more frequent in the subset, left: less frequent; "
        "LR: log2 ratio of rates (counts subset vs reference)",
        fontsize=7,
    )
    fig.tight_layout()
    return _save(fig, path)


def frequencies_png(result: Frequencies, path: str | Path, n: int = 20) -> Path:
    plt = _pyplot()
    if not result.groups:
        raise PlansokError("no frequencies to draw (no passage passes the filters)")
    if len(result.groups) == 1:
        g = result.groups[0]
        rows = g.lemmas[:n]
        fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(rows) + 1.4), dpi=110)
        y = np.arange(len(rows))
        ax.barh(y, [x.per_10k for x in rows], color=PLUS)
        ax.set_yticks(y, labels=[x.lemma for x in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("per 10,000 content words", fontsize=8)
        ax.set_title(f"Most frequent lemmas: {g.label} ({g.words} content words)", fontsize=10)
        fig.tight_layout()
        return _save(fig, path)
    # Lemmas by their overall rate, so the heatmap reads from the commonest down.
    words = np.array([g.words for g in result.groups], dtype=float)
    lemmas = sorted(result.across, key=lambda lem: -sum(result.across[lem]))[:n]
    counts = np.array([result.across[lem] for lem in lemmas], dtype=float)
    rates = counts / np.maximum(words, 1) * 10_000
    fig, ax = plt.subplots(
        figsize=(min(14, 0.55 * len(result.groups) + 3.5), min(30, 0.3 * len(lemmas) + 2.2)), dpi=110
    )
    im = ax.imshow(rates, aspect="auto", cmap="Blues", vmin=0)
    ax.set_xticks(range(len(result.groups)), labels=[g.key[:28] for g in result.groups], rotation=50, ha="right",
                  fontsize=8)  # fmt: skip
    ax.set_yticks(range(len(lemmas)), labels=lemmas, fontsize=8)
    top = rates.max() or 1.0
    for i in range(rates.shape[0]):
        for j in range(rates.shape[1]):
            if rates[i, j]:
                ax.text(j, i, f"{rates[i, j]:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if rates[i, j] > top * 0.6 else "black")  # fmt: skip
    ax.set_title(f"Lemmas per 10,000 content words, by {result.by}", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    return _save(fig, path)
