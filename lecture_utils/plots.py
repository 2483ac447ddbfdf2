"""Plot helpers the notebooks share: loss curves and annotated heatmaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from lecture_utils.training import History


def plot_history(
    histories: Mapping[str, History] | History,
    key: str = "loss",
    *,
    ax: Axes | None = None,
    smooth: int = 1,
    logy: bool = True,
    title: str | None = None,
) -> Axes:
    """Plot ``key`` against the step for one history or several labelled ones (same axes).

    ``smooth`` > 1 applies a trailing moving average of that many points.
    """
    if smooth < 1:
        raise ValueError(f"smooth: expected a positive int, got {smooth!r}")
    if isinstance(histories, History):
        histories = {key: histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, history in histories.items():
        rows = history.steps if history.steps and key in history.steps[0] else history.evals
        steps = np.array([row["step"] for row in rows])
        values = np.asarray(history.series(key), dtype=float)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            steps = steps[smooth - 1 :]
        ax.plot(steps, values, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    if logy:
        ax.set_yscale("log")
    if len(histories) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def heatmap(
    values: torch.Tensor | np.ndarray,
    *,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    annotate: bool = False,
    fmt: str = "{:.2f}",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Axes:
    """Draw a 2-D array (rows x columns) as an image with optional labels and per-cell numbers."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"values: expected a 2-D array (rows, columns), got shape {array.shape}")
    if xlabels is not None and len(xlabels) != array.shape[1]:
        raise ValueError(f"xlabels: expected {array.shape[1]} labels (one per column), got {len(xlabels)}")
    if ylabels is not None and len(ylabels) != array.shape[0]:
        raise ValueError(f"ylabels: expected {array.shape[0]} labels (one per row), got {len(ylabels)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1 + 0.45 * array.shape[1], 12), min(1 + 0.4 * array.shape[0], 8)))
    image = ax.imshow(array, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    if xlabels is not None:
        ax.set_xticks(range(array.shape[1]), xlabels, rotation=90 if max(map(len, xlabels)) > 3 else 0)
    if ylabels is not None:
        ax.set_yticks(range(array.shape[0]), ylabels)
    if annotate:
        middle = np.nanmean(array)
        for (i, j), v in np.ndenumerate(array):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="white" if v < middle else "black")
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    if title:
        ax.set_title(title)
    return ax


def plot_breath(
    time: torch.Tensor | np.ndarray,
    traces: Mapping[str, torch.Tensor | np.ndarray],
    *,
    inspiration: torch.Tensor | np.ndarray | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "pressure, cmH2O",
) -> Axes:
    """Plot one breath: each labelled per-step trace against ``time`` (all 1-D, one value per step).

    A label starting with ``"measured"`` is drawn as dots (a noisy sensor), the others as lines;
    ``inspiration`` (a boolean mask per step) is shaded.
    """
    as_array = lambda v: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
    t = as_array(time)
    if t.ndim != 1:
        raise ValueError(f"time: expected a 1-D array (steps,), got shape {t.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in traces.items():
        v = as_array(values)
        if v.shape != t.shape:
            raise ValueError(f"traces[{label!r}]: expected shape (steps,)={t.shape}, got {v.shape}")
        if label.startswith("measured"):
            ax.plot(t, v, ".", ms=3, color="gray", label=label)
        else:
            ax.plot(t, v, label=label)
    if inspiration is not None:
        mask = as_array(inspiration).astype(bool)
        if mask.any():
            ax.axvspan(t[mask].min(), t[mask].max(), color="tab:blue", alpha=0.07, label="inspiration")
    ax.set_xlabel("time, s")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def plot_error_by_step(
    errors: Mapping[str, torch.Tensor | np.ndarray],
    *,
    floor: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Plot each model's mean absolute error per time step (1-D arrays), with the noise floor as a line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in errors.items():
        v = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        if v.ndim != 1:
            raise ValueError(f"errors[{label!r}]: expected a 1-D array (steps,), got shape {v.shape}")
        ax.plot(np.arange(len(v)), v, marker=".", label=label)
    if floor is not None:
        ax.axhline(floor, color="black", ls="--", lw=1, label="noise floor")
    ax.set_xlabel("step of the breath")
    ax.set_ylabel("MAE, cmH2O")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax
