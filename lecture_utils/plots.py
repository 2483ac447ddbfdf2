"""Plot helpers the notebooks share: loss curves and annotated heatmaps.

Every text a helper puts on a figure (title, axis labels, legend, colour bar) is in Russian, like the
notebooks' narrative; a History key reaches an axis only through its Russian name (:func:`metric_label`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import LogFormatter

from lecture_utils.training import History

# Russian axis labels for the keys that ``fit``'s History records (a metric, optionally with its split),
# so that no raw snake_case key such as ``val_mse`` reaches a figure.
_METRIC_LABELS = {
    "loss": "функция потерь",
    "grad_norm": "норма градиента",
    "mse": "ошибка MSE",
    "rmse": "ошибка RMSE",
    "nrmse": "ошибка NRMSE",
    "mae": "ошибка MAE",
    "accuracy": "точность",
    "token_accuracy": "точность по токенам",
    "exact_match": "доля точных ответов",
}
_SPLIT_LABELS = {"train": "на обучении", "val": "на валидации", "dev": "на валидации (dev)", "test": "на тесте"}


def metric_label(key: str) -> str:
    """The Russian axis label of a History key: ``"loss"``, ``"val_mse"``, ``"dev_accuracy"``, ``"test_nrmse"``...

    A key is a known metric (``_METRIC_LABELS``), optionally prefixed by a split (``train_``, ``val_``,
    ``dev_``, ``test_``). Any other key raises ``ValueError``: the caller passes the label (``ylabel=``).
    """
    if key in _METRIC_LABELS:
        return _METRIC_LABELS[key]
    split, _, metric = key.partition("_")
    if split in _SPLIT_LABELS and metric in _METRIC_LABELS:
        return f"{_METRIC_LABELS[metric]} {_SPLIT_LABELS[split]}"
    raise ValueError(
        f"key {key!r} has no Russian axis label: pass ylabel='...' (e.g. ylabel='ошибка на валидации'), "
        f"or record one of the known metrics {sorted(_METRIC_LABELS)}, optionally prefixed by "
        f"{[s + '_' for s in _SPLIT_LABELS]}"
    )


class PlainLogFormatter(LogFormatter):
    """Labels of a log axis written as plain numbers (``0.5``, ``2``, ``30``) instead of ``5×10⁻¹``; which ticks
    get a label is matplotlib's usual choice (decades, and some minor ticks when the axis spans little)."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:g}"


def plain_log_ticks(ax: Axes, axis: str = "y", *, max_decades: float = 4) -> Axes:
    """Label ``ax``'s log ``axis`` (``"x"`` or ``"y"``) with plain numbers when it spans at most ``max_decades``
    decades (a loss axis from 2 to 8 reads "2, 3, 4, 6", not "2×10⁰"); a wider axis keeps powers of ten.
    Call it after the data are drawn: the span is the axis's view interval then."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis: expected 'x' or 'y', got {axis!r}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    if target.get_scale() != "log":
        raise ValueError(f"ax: its {axis} axis is {target.get_scale()!r}, not 'log'")
    low, high = target.get_view_interval()
    if low > 0 and high / low <= 10**max_decades:
        target.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
        target.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    return ax


def plot_history(
    histories: Mapping[str, History] | History,
    key: str = "loss",
    *,
    ax: Axes | None = None,
    smooth: int = 1,
    logy: bool = True,
    title: str | None = None,
    ylabel: str | None = None,
    label: str | None = None,
) -> Axes:
    """Plot ``key`` against the step for one history or several labelled ones (same axes).

    ``smooth`` > 1 applies a trailing moving average of that many points. The y axis is labelled
    ``ylabel``, by default the Russian name of ``key`` (:func:`metric_label`; an unknown key without
    ``ylabel`` raises ``ValueError``). A single History's line is labelled ``label`` (default: the
    y label), which shows when the caller adds a legend.
    """
    if smooth < 1:
        raise ValueError(f"smooth: expected a positive int, got {smooth!r}")
    ylabel = metric_label(key) if ylabel is None else ylabel
    if isinstance(histories, History):
        histories = {ylabel if label is None else label: histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for line_label, history in histories.items():
        rows = history.steps if history.steps and key in history.steps[0] else history.evals
        steps = np.array([row["step"] for row in rows])
        values = np.asarray(history.series(key), dtype=float)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            steps = steps[smooth - 1 :]
        ax.plot(steps, values, label=line_label)
    ax.set_xlabel("шаг обучения")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
        plain_log_ticks(ax)
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
    xlabel: str | None = None,
    ylabel: str | None = None,
    colorbar_label: str = "значение",
) -> Axes:
    """Draw a 2-D array (rows x columns) as an image with optional labels and per-cell numbers.

    ``xlabel``/``ylabel`` name the columns and rows (default: a label already on ``ax``, else the generic
    «столбец»/«строка»); ``colorbar_label`` names the colour scale.
    """
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
    ax.set_xlabel(xlabel if xlabel is not None else ax.get_xlabel() or "столбец")
    ax.set_ylabel(ylabel if ylabel is not None else ax.get_ylabel() or "строка")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    if title:
        ax.set_title(title)
    return ax


_GATE_TITLES = {
    "i": "i: входной вентиль (input gate)\nзапись в ячейку",
    "f": "f: вентиль забывания (forget gate)\nсохранение ячейки",
    "g": "g: обновление ячейки (cell update)\nчто записать",
    "o": "o: выходной вентиль (output gate)\nпоказ ячейки",
    "c": "c: состояние ячейки (cell state)\nпамять",
    "h": "h: скрытое состояние (hidden state)\nвыход",
}
# What the colour of each panel of plot_gate_trace means: gates are sigmoids, g and h tanh outputs.
_GATE_COLORBARS = {
    "i": "открытость вентиля, 0…1",
    "f": "открытость вентиля, 0…1",
    "g": "значение, −1…1",
    "o": "открытость вентиля, 0…1",
    "c": "значение",
    "h": "значение, −1…1",
}
_TIME_LABEL = "время t, шаги"
_UNITS_LABEL = "нейроны"


def _trace_sample(trace: Mapping[str, torch.Tensor], sample: int) -> dict[str, np.ndarray]:
    """One sequence of an LSTM trace as ``{key: (hidden, time) array}``, validated."""
    missing = [key for key in _GATE_TITLES if key not in trace]
    if missing:
        raise ValueError(f"trace: expected the keys {list(_GATE_TITLES)}, missing {missing}")
    shape = tuple(trace["h"].shape)
    if len(shape) != 3 or any(tuple(trace[key].shape) != shape for key in _GATE_TITLES):
        raise ValueError(f"trace: expected every entry of shape (batch, time, hidden), got {shape} for 'h'")
    if not 0 <= sample < shape[0]:
        raise ValueError(f"sample: expected 0 <= sample < batch={shape[0]}, got {sample}")
    return {key: trace[key][sample].detach().cpu().numpy().T for key in _GATE_TITLES}


def plot_gate_trace(
    trace: Mapping[str, torch.Tensor],
    *,
    sample: int = 0,
    keys: Sequence[str] = ("i", "f", "g", "o", "c", "h"),
    marks: Sequence[int] = (),
) -> plt.Figure:
    """Heatmaps (units x time) of an LSTM's gates and states over one sequence of ``trace``.

    ``trace`` is what :func:`lecture_utils.cells.lstm_gate_trace` returns; ``marks`` are time steps
    to outline with a dashed line (for example where the input carries a marker).
    """
    arrays = _trace_sample(trace, sample)
    unknown = [key for key in keys if key not in _GATE_TITLES]
    if unknown or not keys:
        raise ValueError(f"keys: expected a non-empty subset of {list(_GATE_TITLES)}, got {list(keys)}")
    columns = min(3, len(keys))
    rows = -(-len(keys) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        signed = key in {"g", "c", "h"}  # tanh-range values get a diverging map centred at zero
        limit = max(float(np.abs(arrays[key]).max()), 1e-6) if signed else 1.0
        heatmap(arrays[key], ax=ax, title=_GATE_TITLES[key], cmap="RdBu_r" if signed else "viridis",
                vmin=-limit if signed else 0.0, vmax=limit, xlabel=_TIME_LABEL, ylabel=_UNITS_LABEL,
                colorbar_label=_GATE_COLORBARS[key])
        ax.title.set_fontsize(10)
        for t in marks:
            ax.axvline(t, color="black" if signed else "white", linestyle="--", linewidth=1)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


_STEP_ROWS = ("f (сохранение)", "c прежнее", "i (запись)", "g (содержимое)", "c новое", "o (показ)", "h (выход)")


def lstm_step_table(
    trace: Mapping[str, torch.Tensor],
    inputs: torch.Tensor,
    t: int,
    *,
    sample: int = 0,
    units: Sequence[int] | None = None,
) -> np.ndarray:
    """The numbers of one LSTM step: a ``(7, units)`` array with rows ``f``, old ``c``, ``i``, ``g``, new
    ``c``, ``o``, ``h`` at step ``t`` (row names in ``_STEP_ROWS``), validating every argument.

    ``trace`` comes from :func:`lecture_utils.cells.lstm_gate_trace` on ``inputs`` ``(batch, time,
    features)``; ``units`` selects hidden units (all by default). The old ``c`` at ``t = 0`` is zero.
    """
    arrays = _trace_sample(trace, sample)
    hidden, time = arrays["h"].shape
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3 or tuple(inputs.shape[:2]) != (
        trace["h"].shape[0], time
    ):
        got = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        expected = f"(batch={trace['h'].shape[0]}, time={time}, features)"
        raise ValueError(f"inputs: expected a tensor of shape {expected}, got {got}")
    if not 0 <= t < time:
        raise ValueError(f"t: expected 0 <= t < time={time}, got {t}")
    units = list(range(hidden)) if units is None else list(units)
    if not units or any(not 0 <= u < hidden for u in units):
        raise ValueError(f"units: expected unit indices in [0, {hidden}), got {units}")
    c_old = arrays["c"][:, t - 1] if t > 0 else np.zeros_like(arrays["c"][:, 0])
    table = np.stack([arrays["f"][:, t], c_old, arrays["i"][:, t], arrays["g"][:, t],
                      arrays["c"][:, t], arrays["o"][:, t], arrays["h"][:, t]])  # (7, hidden)
    return table[:, units]


def plot_lstm_step(
    trace: Mapping[str, torch.Tensor],
    inputs: torch.Tensor,
    t: int,
    *,
    sample: int = 0,
    input_labels: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
) -> plt.Figure:
    """One LSTM step in numbers: the input sequence with step ``t`` marked, and :func:`lstm_step_table`.

    The lower panel lists, per unit (columns), ``f``, the old cell state, ``i``, ``g``, the new cell
    state ``c = f * c_old + i * g``, ``o`` and ``h = o * tanh(c)``.
    """
    table = lstm_step_table(trace, inputs, t, sample=sample, units=units)  # (7, units)
    units = list(range(trace["h"].shape[2])) if units is None else list(units)
    series = inputs[sample].detach().cpu().numpy()  # (time, features)
    if input_labels is not None and len(input_labels) != series.shape[1]:
        expected = f"{series.shape[1]} labels (one per feature)"
        raise ValueError(f"input_labels: expected {expected}, got {len(input_labels)}")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 0.6 * len(units) + 2), 6.5),
                                      gridspec_kw={"height_ratios": [1, 2]})
    for k in range(series.shape[1]):
        top.plot(series[:, k], marker=".", label=input_labels[k] if input_labels else f"признак x[{k}]")
    top.axvline(t, color="red", linewidth=2)
    top.set_xlabel(_TIME_LABEL)
    top.set_ylabel("вход")
    top.set_title(f"вход; шаг t = {t} отмечен красным", fontsize=10)
    top.legend(loc="upper right", fontsize=8)
    heatmap(table, ax=bottom, cmap="RdBu_r", vmin=-1, vmax=1, colorbar=False,
            xlabels=[str(u) for u in units], ylabels=list(_STEP_ROWS), xlabel=_UNITS_LABEL,
            ylabel="вентили и состояния",
            title=f"шаг t = {t} по нейронам\nc новое = f · c прежнее + i · g,   h = o · tanh(c новое)")
    bottom.title.set_fontsize(10)
    for (row, column), value in np.ndenumerate(table):  # dark text on the pale middle of the colour map
        bottom.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(value) > 0.6 else "black")
    fig.tight_layout()
    return fig


def plot_breath(
    time: torch.Tensor | np.ndarray,
    traces: Mapping[str, torch.Tensor | np.ndarray],
    *,
    inspiration: torch.Tensor | np.ndarray | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "давление, см вод. ст.",
) -> Axes:
    """Plot one breath: each labelled per-step trace against ``time`` (all 1-D, one value per step).

    A label starting with ``"measured"`` or ``"измерен"`` is drawn as dots (a noisy sensor), the others
    as lines; ``inspiration`` (a boolean mask per step) is shaded.
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
        if label.startswith(("measured", "измерен", "Измерен")):
            ax.plot(t, v, ".", ms=3, color="gray", label=label)
        else:
            ax.plot(t, v, label=label)
    if inspiration is not None:
        mask = as_array(inspiration).astype(bool)
        if mask.any():
            ax.axvspan(t[mask].min(), t[mask].max(), color="tab:blue", alpha=0.07, label="вдох")
    ax.set_xlabel("время, с")
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
        ax.axhline(floor, color="black", ls="--", lw=1, label="предел: шум датчика (noise floor)")
    ax.set_xlabel("шаг вдоха, номер")
    ax.set_ylabel("ошибка MAE, см вод. ст.")
    ax.set_yscale("log")
    plain_log_ticks(ax)
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_free_run(
    truth: torch.Tensor | np.ndarray,
    prediction: torch.Tensor | np.ndarray,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    mark: int | None = None,
    ylabel: str = "значение ряда",
) -> Axes:
    """A generated (free-running) series against the true continuation, both of shape ``(time,)`` or
    ``(time, 1)``, with their difference underneath in light red; ``mark`` draws a vertical line there."""
    arrays = []
    for name, values in (("truth", truth), ("prediction", prediction)):
        array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(f"{name}: expected shape (time,) or (time, 1), got {array.shape}")
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        shapes = f"{arrays[0].shape} and {arrays[1].shape}"
        raise ValueError(f"truth and prediction: expected the same length, got {shapes}")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3))
    steps = np.arange(1, len(arrays[0]) + 1)
    ax.plot(steps, arrays[0], color="black", linewidth=1.5, label="истинное продолжение")
    ax.plot(steps, arrays[1], color="tab:orange", linewidth=1.2, linestyle="--", label="свободный прогон (free run)")
    ax.fill_between(steps, arrays[0], arrays[1], color="tab:red", alpha=0.2, label="ошибка")
    if mark is not None:
        ax.axvline(mark, color="gray", linestyle=":", linewidth=1)
    ax.set_xlabel("шаги после конца подачи истинного ряда")
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_gradient_norms(
    norms: Mapping[str, torch.Tensor], *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """``||dL/dh_t||`` against the step ``t`` on a log scale, one line per label (each a ``(time,)`` tensor).

    The loss sits at the last step, so the right end is where the error signal starts and the left end
    is how much of it reaches the first step: a falling line is a vanishing gradient, a rising one explodes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in norms.items():
        if not isinstance(values, torch.Tensor) or values.dim() != 1:
            got = getattr(values, "shape", values)
            raise ValueError(f"norms[{label!r}]: expected a 1-D tensor (time,), got {got}")
        ax.plot(values.detach().cpu().clamp_min(1e-30).numpy(), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("шаг t (функция потерь — на последнем шаге)")
    ax.set_ylabel(r"норма градиента $\Vert\partial L / \partial h_t\Vert$")
    ax.grid(alpha=0.3)
    if len(norms) > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_eigenvalues(
    matrices: Mapping[str, torch.Tensor], *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """The eigenvalues of square matrices in the complex plane, with the unit circle (spectral radius 1)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="black", lw=0.8, label="единичная окружность |λ| = 1")
    for label, matrix in matrices.items():
        if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrices[{label!r}]: expected a square tensor (n, n), got "
                             f"{tuple(getattr(matrix, 'shape', ()))}")
        eig = torch.linalg.eigvals(matrix.detach().cpu().double()).numpy()
        ax.scatter(eig.real, eig.imag, s=8, alpha=0.7, label=label)
    ax.set_aspect("equal")
    ax.set_xlabel("действительная часть Re λ")
    ax.set_ylabel("мнимая часть Im λ")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title)
    return ax


def plot_attention(
    words: Sequence[str],
    attention: torch.Tensor | np.ndarray,
    digits: Sequence[str],
    *,
    ax: Axes | None = None,
    title: str | None = "веса внимания (attention)",
    colorbar: bool = True,
) -> Axes:
    """The attention of a numeral translator: rows are the output words (then ``<eos>``), columns the
    input digits, as :func:`lecture_utils.models.seq2seq.translate` returns them (``attention`` is
    ``(steps, digits)``; rows beyond the words are ``<eos>``, the extra labels are cut off)."""
    rows = len(attention)
    labels = [*words, "<eos>"][:rows]
    if len(labels) != rows:
        raise ValueError(f"words: expected at least {rows - 1} words for {rows} attention rows, got {len(words)}")
    return heatmap(attention, xlabels=list(digits), ylabels=labels, ax=ax, title=title, vmin=0, vmax=1,
                   colorbar=colorbar, xlabel="цифры входа", ylabel="слова выхода", colorbar_label="вес внимания")
