"""Every text a plot helper puts on a figure is Russian, and no raw snake_case key reaches a figure.

Each public helper of ``lecture_utils.plots`` (and each figure a widget of ``lecture_utils.widgets`` draws)
is rendered on small synthetic data with the Agg backend; then every visible Axes is walked: the title
(where the helper sets one), both axis labels, the legend entries and the colour-bar labels must be
non-empty, contain Cyrillic and hold no ``snake_case`` token such as ``val_mse``.
"""

import re

import matplotlib

matplotlib.use("Agg")  # this module only: no display, and no MPLBACKEND set for the other tests

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from lecture_utils import plots, widgets
from lecture_utils.training import History

RAW_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b")
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
MATHTEXT = re.compile(r"\$[^$]*\$")  # $h_t$ is rendered as a formula with a subscript, not as a raw key


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_russian(where: str, text: str) -> None:
    """``text`` is non-empty, has Cyrillic and no raw snake_case key (outside $...$ formulas)."""
    assert text.strip(), f"{where}: empty"
    assert CYRILLIC.search(text), f"{where}: no Cyrillic in {text!r}"
    raw = RAW_KEY.search(MATHTEXT.sub("", text))
    assert raw is None, f"{where}: raw key {raw.group()!r} in {text!r}"


def figure_texts(fig: Figure, *, titled: bool) -> list[tuple[str, str]]:
    """``(where, text)`` for every title, axis label, legend entry and colour-bar label of ``fig``.

    Every visible plotting Axes must have both axis labels (and a title or a suptitle if ``titled``);
    every colour bar must have its label.
    """
    fig.canvas.draw()  # lays the figure out and parses every $...$ formula: a broken label fails here
    texts = []
    suptitle = fig.get_suptitle()
    if suptitle:
        texts.append(("suptitle", suptitle))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert axes, "the figure has no visible Axes"
    for n, ax in enumerate(axes):
        if ax.get_label() == "<colorbar>":
            texts.append((f"axes[{n}] colour bar", ax.get_ylabel() or ax.get_xlabel()))
            continue
        if titled:
            assert ax.get_title() or suptitle, f"axes[{n}]: no title"
        if ax.get_title():
            texts.append((f"axes[{n}] title", ax.get_title()))
        texts.append((f"axes[{n}] x label", ax.get_xlabel()))
        texts.append((f"axes[{n}] y label", ax.get_ylabel()))
        legend = ax.get_legend()
        if legend is not None:
            texts += [(f"axes[{n}] legend", t.get_text()) for t in legend.get_texts()]
    return texts


def assert_figure_russian(drawn, *, titled: bool) -> Figure:
    """Check a helper's result (an Axes or a Figure) and return its figure."""
    fig = drawn if isinstance(drawn, Figure) else drawn.figure
    for where, text in figure_texts(fig, titled=titled):
        assert_russian(where, text)
    return fig


def history(n: int = 12) -> History:
    """A History with step rows (loss, grad_norm) and evaluation rows (val_mse, dev_accuracy, test_nrmse and
    my_metric, a key with no Russian name)."""
    steps = [{"step": i, "epoch": 1, "loss": 1.0 / i, "grad_norm": 2.0 / i} for i in range(1, n + 1)]
    evals = [{"step": i, "epoch": 1, "val_mse": 0.5 / i, "dev_accuracy": 1 - 0.5 / i, "test_nrmse": 0.1 / i,
              "my_metric": float(i)}
             for i in range(3, n + 1, 3)]
    return History(steps=steps, evals=evals)


def gate_trace(batch: int = 2, time: int = 6, hidden: int = 4) -> dict[str, torch.Tensor]:
    """A synthetic LSTM trace: gates in (0, 1), g and h in (-1, 1), c unbounded; each (batch, time, hidden)."""
    g = torch.Generator().manual_seed(0)
    gates = {k: torch.rand(batch, time, hidden, generator=g) for k in "ifo"}
    signed = {k: torch.rand(batch, time, hidden, generator=g) * 2 - 1 for k in "gh"}
    return {**gates, **signed, "c": torch.randn(batch, time, hidden, generator=g) * 2}


def with_legend(ax):
    ax.legend()
    return ax


SERIES = torch.sin(0.3 * torch.arange(400, dtype=torch.float64)).unsqueeze(1)  # (400, 1)

# (helper, case id, drawing function, whether the helper itself must set a title)
CASES = [
    ("plot_history", "default key, one history", lambda: plots.plot_history(history()), False),
    ("plot_history", "one history, caller adds a legend",
     lambda: with_legend(plots.plot_history(history(), "test_nrmse", title="ошибка LSTM на тесте")), True),
    ("plot_history", "several histories, val_mse",
     lambda: plots.plot_history({"модель А": history(), "модель Б": history()}, key="val_mse", smooth=2), False),
    ("plot_history", "dev_accuracy, linear", lambda: plots.plot_history(history(), "dev_accuracy", logy=False), False),
    ("plot_history", "grad_norm", lambda: plots.plot_history(history(), "grad_norm"), False),
    ("plot_history", "unknown key with ylabel",
     lambda: with_legend(plots.plot_history(history(), "my_metric", ylabel="своя метрика, доли")), False),
    ("heatmap", "defaults", lambda: plots.heatmap(np.eye(3), title="единичная матрица"), True),
    ("heatmap", "labels and annotations",
     lambda: plots.heatmap(torch.rand(2, 3), xlabels=list("abc"), ylabels=["x", "y"], annotate=True,
                           xlabel="буквы", ylabel="строки", colorbar_label="доля"), False),
    ("heatmap", "no colour bar", lambda: plots.heatmap(np.eye(2), colorbar=False), False),
    ("plot_gate_trace", "all gates", lambda: plots.plot_gate_trace(gate_trace(), marks=[2]), True),
    ("plot_gate_trace", "a subset", lambda: plots.plot_gate_trace(gate_trace(), keys=("f", "c")), True),
    ("plot_lstm_step", "default input labels", lambda: plots.plot_lstm_step(gate_trace(), torch.randn(2, 6, 2), 3),
     True),
    ("plot_lstm_step", "named inputs and units",
     lambda: plots.plot_lstm_step(gate_trace(), torch.randn(2, 6, 2), 0, input_labels=["значение", "метка"],
                                  units=[1, 3]), True),
    ("plot_breath", "measured, true and inspiration",
     lambda: with_legend(plots.plot_breath(torch.linspace(0, 3, 30),
                                           {"измеренное давление": torch.rand(30), "истинное давление": torch.rand(30)},
                                           inspiration=torch.arange(30) < 10)), False),
    ("plot_error_by_step", "two models and the floor",
     lambda: plots.plot_error_by_step({"двунаправленная": torch.rand(30) + 0.5, "однонаправленная": torch.rand(30) + 1},
                                      floor=0.4), False),
    ("plot_free_run", "with a mark",
     lambda: plots.plot_free_run(SERIES[:50], SERIES[1:51] + 0.05, mark=10), False),
    ("plot_gradient_norms", "two lines",
     lambda: plots.plot_gradient_norms({"затухает": torch.logspace(-3, 0, 20), "растёт": torch.logspace(2, 0, 20)}),
     False),
    ("plot_eigenvalues", "a rotation",
     lambda: plots.plot_eigenvalues({"поворот": torch.tensor([[0.0, -1.5], [1.5, 0.0]])}), False),
    ("plot_attention", "words, <eos> and digits",
     lambda: plots.plot_attention(["двадцать", "шесть"], torch.rand(3, 4).softmax(-1), "2026"), True),
    ("draw_esn_free_run", "the explorer's figure",
     lambda: widgets.draw_esn_free_run(SERIES, train=200, horizon=40, units=30, spectral_radius=0.9, leak_rate=1.0,
                                       input_scaling=0.5, seed=0, dtype=torch.float64), True),
    ("draw_radius_gradients", "the radius slider's figure",
     lambda: widgets.draw_radius_gradients(torch.randn(2, 8, 2), 1.3, hidden_size=4), True),
]


@pytest.mark.parametrize(("draw", "titled"), [(draw, titled) for _, _, draw, titled in CASES],
                         ids=[f"{helper}: {case}" for helper, case, _, _ in CASES])
def test_every_text_on_the_figure_is_russian(draw, titled):
    assert_figure_russian(draw(), titled=titled)


def test_every_figure_helper_has_a_case():
    drawn = {helper for helper, _, _, _ in CASES}
    helpers = {n for n in dir(plots) if n.startswith("plot_") or n == "heatmap"}
    helpers |= {n for n in dir(widgets) if n.startswith("draw_")}
    assert helpers - drawn == set(), "a figure helper without a case in CASES"


def test_lstm_step_rows_are_russian():
    fig = plots.plot_lstm_step(gate_trace(), torch.randn(2, 6, 2), 2)
    for tick in fig.axes[1].get_yticklabels():
        assert_russian("plot_lstm_step row", tick.get_text())


def test_known_keys_have_russian_labels():
    for key in ["loss", "val_loss", "mse", "val_mse", "mae", "val_mae", "accuracy", "val_accuracy", "dev_accuracy",
                "test_nrmse", "test_exact_match", "train_loss", "grad_norm"]:
        assert_russian(f"metric_label({key!r})", plots.metric_label(key))
    assert plots.metric_label("val_mse") == "ошибка MSE на валидации"


def test_an_unknown_key_needs_a_label():
    recorded = History(steps=[{"step": 1, "epoch": 1, "loss": 1.0, "my_metric": 2.0}])
    with pytest.raises(ValueError, match=r"'my_metric' has no Russian axis label: pass ylabel="):
        plots.plot_history(recorded, "my_metric")
    ax = plots.plot_history(recorded, "my_metric", ylabel="моя метрика, доли")
    assert ax.get_ylabel() == "моя метрика, доли"


def test_heatmap_keeps_the_labels_already_on_the_axes():
    _, ax = plt.subplots()
    ax.set_xlabel("цифры")
    plots.heatmap(np.eye(2), ax=ax)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("цифры", "строка")


def test_numeral_translator_draws_its_attention_image():
    box = widgets.numeral_translator(lambda text: (["два"], torch.full((2, len(text)), 1 / len(text)), text),
                                     initial="12")
    image = box.children[2]
    assert image.value[:4] == b"\x89PNG" and image.layout.display is None


def _tick_labels(ax, minor: bool) -> list[str]:
    ax.figure.canvas.draw()
    return [label.get_text() for label in ax.get_yticklabels(minor=minor) if label.get_text()]


def test_loss_axes_read_plain_numbers_not_powers_of_ten():
    history = History(steps=[{"step": s, "loss": 8.5 - 0.03 * s} for s in range(1, 201)])  # 8.5 down to 2.5
    ax = plots.plot_history(history)
    labels = _tick_labels(ax, minor=True)  # the minor ticks inside 2.5-8.5 (and the margins), as numbers
    assert {"3", "4", "6"} <= set(labels) and all(label.isdigit() for label in labels), labels
    ax = plots.plot_error_by_step({"модель": np.array([0.45, 0.5, 0.62])})
    labels = _tick_labels(ax, minor=False) + _tick_labels(ax, minor=True)
    assert "0.5" in labels and all(re.fullmatch(r"\d+(\.\d+)?", label) for label in labels), labels
    _, wide = plt.subplots()
    wide.semilogy([0, 1], [1e-17, 1.0])
    plots.plain_log_ticks(wide)  # 17 decades: powers of ten stay
    labels = _tick_labels(wide, minor=False)
    assert labels and all("10^" in label for label in labels), labels
    with pytest.raises(ValueError, match="not 'log'"):
        plots.plain_log_ticks(plt.subplots()[1])
