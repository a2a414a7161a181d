"""The PNG plots of a run: confusion matrix, reliability diagram, coverage-vs-accuracy curve.

Figures are drawn with matplotlib's object API on the Agg canvas — no pyplot, no global state,
no display needed, safe in a thread.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evals.scoring import RunMetrics

CONFUSION_PNG = "confusion_matrix.png"
RELIABILITY_PNG = "reliability.png"
COVERAGE_PNG = "coverage.png"


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    return path


def confusion_png(metrics: RunMetrics, path: Path) -> Path:
    """Rows: true category; columns: predicted (last: no prediction). Diagonal = right."""
    rows, cols = metrics.confusion_labels, metrics.confusion_columns
    size = max(5.0, 0.42 * len(cols) + 2.5)
    fig = Figure(figsize=(size, size * 0.85))
    ax = fig.add_subplot()
    matrix = metrics.confusion
    image = ax.imshow(matrix or [[0]], cmap="Blues", aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.04)
    ax.set_xticks(range(len(cols)), cols, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    peak = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > peak / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"Confusion matrix ({metrics.cases} cases)")
    return _save(fig, path)


def reliability_png(metrics: RunMetrics, path: Path) -> Path:
    """Accuracy per confidence bin against the diagonal of perfect calibration; bar labels = cases."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    bins = [b for b in metrics.reliability if b["count"]]
    centers = [(float(b["lower"] or 0) + float(b["upper"] or 0)) / 2 for b in bins]
    bars = ax.bar(centers, [float(b["accuracy"] or 0) for b in bins], width=0.09, color="#4c72b0",
                  edgecolor="black", label="accuracy in bin")
    ax.plot([float(b["mean_confidence"] or 0) for b in bins], [float(b["accuracy"] or 0) for b in bins], "o",
            color="#dd8452", label="mean confidence")
    for bar, b in zip(bars, bins):
        ax.annotate(str(b["count"]), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ece = "n/a" if metrics.ece is None else f"{metrics.ece:.3f}"
    ax.set_title(f"Reliability (ECE {ece}, 10 bins)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def coverage_png(metrics: RunMetrics, path: Path) -> Path:
    """Accuracy of the cases kept when only those above a confidence threshold are kept."""
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_subplot()
    points = metrics.coverage
    ax.plot([float(p["coverage"]) for p in points], [float(p["accuracy"]) for p in points], "-o", markersize=3)
    threshold = metrics.threshold
    ax.axhline(threshold.target_precision, linestyle="--", color="grey",
               label=f"target precision {threshold.target_precision:.2f}")
    current = [p for p in points if float(p["threshold"]) >= threshold.current_threshold]
    if current:
        last = current[-1]
        ax.plot([float(last["coverage"])], [float(last["accuracy"])], "s", color="#c44e52",
                label=f"configured threshold {threshold.current_threshold:.2f}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coverage (share of cases kept)")
    ax.set_ylabel("category accuracy of kept cases")
    ax.set_title("Coverage vs accuracy")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def write_plots(metrics: RunMetrics, folder: Path) -> list[Path]:
    """Every plot of the run into `folder`."""
    return [confusion_png(metrics, folder / CONFUSION_PNG), reliability_png(metrics, folder / RELIABILITY_PNG),
            coverage_png(metrics, folder / COVERAGE_PNG)]
