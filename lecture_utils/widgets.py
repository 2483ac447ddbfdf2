"""The notebooks' interactive pieces: the logic lives in plain functions, the widgets only call them.

What a widget draws comes from a function that can be called without a browser (``draw_esn_free_run``,
``draw_radius_gradients``, :func:`lecture_utils.plots.plot_lstm_step`, :func:`lecture_utils.plots.plot_attention`);
like every figure of the course, its texts are in Russian.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def lstm_time_slider(
    trace: dict[str, torch.Tensor],
    inputs: torch.Tensor,
    *,
    sample: int = 0,
    input_labels: list[str] | None = None,
    units: list[int] | None = None,
):
    """A slider over time steps that redraws :func:`lecture_utils.plots.plot_lstm_step` at each step.

    ``trace`` comes from :func:`lecture_utils.cells.lstm_gate_trace` on ``inputs`` ``(batch, time,
    features)``. Moving the slider shows how the forget and input gates rewrite the cell state.
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    from lecture_utils.plots import lstm_step_table, plot_lstm_step

    lstm_step_table(trace, inputs, 0, sample=sample, units=units)  # raises ValueError on bad arguments
    if input_labels is not None and len(input_labels) != inputs.shape[2]:
        expected = f"{inputs.shape[2]} labels (one per feature)"
        raise ValueError(f"input_labels: expected {expected}, got {len(input_labels)}")
    time = int(trace["h"].shape[1])

    def show(t: int) -> None:
        plot_lstm_step(trace, inputs, t, sample=sample, input_labels=input_labels, units=units)
        plt.show()

    slider = ipywidgets.IntSlider(value=0, min=0, max=time - 1, description="t", continuous_update=False)
    return ipywidgets.interactive(show, t=slider)


def tagged_html(pairs: list[tuple[str, str]]) -> str:
    """``[(word, tag), ...]`` as an HTML row of words with their tags underneath (escaped)."""
    import html

    if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise ValueError("pairs: expected a list of (word, tag) tuples")
    if not pairs:
        return "<i>no words</i>"
    cells = "".join(
        '<span style="display:inline-block;margin:2px 6px;text-align:center">'
        f"{html.escape(w)}<br><b style='color:#1f77b4'>{html.escape(t)}</b></span>"
        for w, t in pairs
    )
    return f"<div>{cells}</div>"


def text_tagger(taggers: dict, *, examples: dict | None = None):
    """A language menu and a text box; the sentence typed is shown word by word with its tags.

    ``taggers`` maps a language label to a function ``text -> [(word, tag), ...]`` (e.g.
    :func:`lecture_utils.models.tagger.tag_text` with a trained model); ``examples`` gives each
    language's starting sentence.
    """
    import ipywidgets

    if not taggers or not all(callable(f) for f in taggers.values()):
        raise ValueError("taggers: expected a dict label -> function(text) -> [(word, tag), ...]")
    examples = examples or {}
    first = next(iter(taggers))
    language = ipywidgets.Dropdown(options=list(taggers), value=first, description="Язык:")
    text = ipywidgets.Text(value=examples.get(first, ""), description="Текст:", continuous_update=False,
                           layout=ipywidgets.Layout(width="90%"))
    shown = ipywidgets.HTML()

    def update(_=None) -> None:
        shown.value = tagged_html(taggers[language.value](text.value))

    def switch(change) -> None:
        if change["new"] in examples:
            text.value = examples[change["new"]]  # triggers update
        update()

    language.observe(switch, names="value")
    text.observe(update, names="value")
    update()
    return ipywidgets.VBox([language, text, shown])


def draw_esn_free_run(
    series: torch.Tensor,
    *,
    train: int,
    horizon: int,
    units: int,
    spectral_radius: float,
    leak_rate: float,
    input_scaling: float,
    ax: Axes | None = None,
    **esn_kwargs,
) -> Axes:
    """Fit an echo-state network on ``series[:train + 1]`` ``(time, 1)`` and plot its free run of ``horizon``
    steps against the truth (:func:`lecture_utils.plots.plot_free_run`), its NRMSE in the title.

    What :func:`esn_free_run_explorer` draws at each move of a slider.
    """
    from lecture_utils.models.esn import fit_and_free_run, nrmse
    from lecture_utils.plots import plot_free_run

    if not 0 < horizon <= series.shape[0] - train - 1:
        raise ValueError(f"horizon: expected 0 < horizon <= {series.shape[0] - train - 1}, got {horizon!r}")
    truth = series[train + 1 : train + 1 + horizon]  # (horizon, 1)
    knobs = {"spectral_radius": spectral_radius, "leak_rate": leak_rate, "input_scaling": input_scaling}
    free = fit_and_free_run(series, train=train, horizon=horizon, units=units, **knobs, **esn_kwargs)
    error = nrmse(free, truth) if bool(torch.isfinite(free).all()) else float("inf")
    return plot_free_run(truth, free, ax=ax, title=f"свободный прогон: NRMSE на {horizon} шагах = {error:.3g}")


def esn_free_run_explorer(
    series: torch.Tensor, *, train: int, horizon: int = 300, units: int = 300, **esn_kwargs
):
    """Sliders for the spectral radius, leak rate and input scaling; each change refits an echo-state
    network on ``series[:train + 1]`` ``(time, 1)`` and plots its free run against the truth.

    The work is :func:`lecture_utils.models.esn.fit_and_free_run` (a fraction of a second for a few
    hundred units); ``esn_kwargs`` fixes the other hyperparameters (bias, ridge, seed...).
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    if not 0 < horizon <= series.shape[0] - train - 1:
        raise ValueError(f"horizon: expected 0 < horizon <= {series.shape[0] - train - 1}, got {horizon!r}")

    def show(spectral_radius: float, leak_rate: float, input_scaling: float) -> None:
        draw_esn_free_run(series, train=train, horizon=horizon, units=units, spectral_radius=spectral_radius,
                          leak_rate=leak_rate, input_scaling=input_scaling, **esn_kwargs)
        plt.show()

    def slider(value: float, low: float, high: float, step: float, name: str):
        return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step, description=name,
                                      continuous_update=False, style={"description_width": "initial"})

    return ipywidgets.interactive(
        show,
        spectral_radius=slider(1.1, 0.1, 2.0, 0.05, "спектральный радиус"),
        leak_rate=slider(1.0, 0.05, 1.0, 0.05, "утечка"),
        input_scaling=slider(0.5, 0.05, 2.0, 0.05, "масштаб входа"),
    )


def draw_radius_gradients(
    inputs: torch.Tensor, radius: float, *, hidden_size: int = 64, seed: int = 0, ax: Axes | None = None
) -> Axes:
    """Build a tanh ``nn.RNN`` with ``W_hh = radius * Q`` (``Q`` orthogonal, from ``seed``) and plot the gradient
    norms through time for ``inputs`` ``(batch, time, features)`` (:func:`lecture_utils.plots.plot_gradient_norms`).

    What :func:`spectral_radius_slider` draws at each move of its slider.
    """
    from torch import nn

    from lecture_utils.checks import expect_tensor
    from lecture_utils.gradients import gradient_norms_through_time
    from lecture_utils.plots import plot_gradient_norms

    expect_tensor(inputs, "inputs", (None, None, None), "(batch, time, features)")
    torch.manual_seed(seed)
    layer = nn.RNN(inputs.shape[2], hidden_size, batch_first=True)
    with torch.no_grad():
        nn.init.orthogonal_(layer.weight_hh_l0)
        layer.weight_hh_l0.mul_(radius)
    norms = gradient_norms_through_time(layer, inputs, lambda h: h.sum(-1).mean())
    return plot_gradient_norms({f"спектральный радиус r = {radius:.2f}": norms}, ax=ax,
                               title=r"RNN с tanh: $W_{hh} = r \cdot Q$, Q ортогональная")


def spectral_radius_slider(inputs: torch.Tensor, *, hidden_size: int = 64, seed: int = 0):
    """A slider over the spectral radius ``r`` of a tanh RNN's recurrent matrix (orthogonal, scaled by ``r``).

    Each move rebuilds ``nn.RNN`` with ``W_hh = r * Q`` and redraws
    :func:`lecture_utils.plots.plot_gradient_norms` for ``inputs`` ``(batch, time, features)``: below
    about 1 the error signal fades towards the first step, above it grows.
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    from lecture_utils.checks import expect_tensor

    expect_tensor(inputs, "inputs", (None, None, None), "(batch, time, features)")

    def show(radius: float) -> None:
        draw_radius_gradients(inputs, radius, hidden_size=hidden_size, seed=seed)
        plt.show()

    slider = ipywidgets.FloatSlider(value=1.0, min=0.5, max=2.0, step=0.05, description="r",
                                    continuous_update=False)
    return ipywidgets.interactive(show, radius=slider)


def numeral_translator(
    translate,
    *,
    initial: str = "2026",
    regimes: dict[str, str] | None = None,
    reference=None,
    max_inject: int = 0,
):
    """A text box: type digits, see the model's Russian words and its attention over the digits.

    ``translate(text)`` returns ``(words, attention (steps, digits), digits)`` like
    :func:`lecture_utils.models.seq2seq.translate`; a ``ValueError`` it raises (empty input, letters,
    too many digits) is shown as a message instead of a plot. The words and the heatmap are widget
    values (an HTML label and a PNG image), so nothing is printed into the cell's own output.

    Optional controls: ``regimes`` (shown label -> value) adds a selector and calls
    ``translate(text, regime=value)``; ``max_inject`` > 0 adds a slider "wrong word at position j"
    (0: none) and calls ``translate(..., inject_at=j - 1)`` (0-based; ``None`` for none);
    ``reference(text)`` (the correct words) is shown beside the model's words, and the model's first
    wrong word is highlighted. Children: ``[controls, words, image]``.
    """
    import html
    import io

    import ipywidgets
    import matplotlib.pyplot as plt

    from lecture_utils.plots import plot_attention

    box = ipywidgets.Text(value=initial, description="Число:", continuous_update=False)
    controls = [box]
    selector = inject = None
    if regimes:
        selector = ipywidgets.Dropdown(options=list(regimes.items()), description="Режим:")
        controls.append(selector)
    if max_inject > 0:
        inject = ipywidgets.IntSlider(
            value=0, min=0, max=max_inject, description="Ошибка на слове:", continuous_update=False,
            style={"description_width": "initial"},
        )
        controls.append(inject)
    label = ipywidgets.HTML()
    image = ipywidgets.Image(format="png")

    def words_html(words: list[str], truth: list[str] | None) -> str:
        if truth is None:
            return html.escape(" ".join(words))
        pairs = enumerate(zip(words, truth, strict=False))
        first = next((i for i, (a, b) in pairs if a != b), min(len(words), len(truth)))
        shown = [html.escape(w) for w in words]
        if first < len(words):
            shown[first] = f'<span style="color:#c00;text-decoration:underline">{shown[first]}</span>'
        elif len(words) < len(truth):
            shown.append('<span style="color:#c00">[не хватает слов]</span>')
        return " ".join(shown)

    def redraw(_=None) -> None:
        kwargs = {}
        if selector is not None:
            kwargs["regime"] = selector.value
        if inject is not None:
            kwargs["inject_at"] = inject.value - 1 if inject.value > 0 else None
        try:
            words, attention, digits = translate(box.value, **kwargs)
            truth = list(reference(box.value)) if reference is not None else None
        except ValueError as error:
            label.value = f"<b>Ошибка ввода:</b> {html.escape(str(error))}"
            image.layout.display = "none"
            return
        text = f"<b>модель:</b> {words_html(list(words), truth)}"
        if truth is not None:
            verdict = "верно" if list(words) == truth else "с ошибкой"
            text += f"<br><b>правильно:</b> {html.escape(' '.join(truth))} ({verdict})"
        if kwargs.get("inject_at") is not None:
            text += f"<br>на вход вместо слова {kwargs['inject_at'] + 1} подано неверное слово"
        label.value = text
        fig, ax = plt.subplots(figsize=(2.5 + 0.45 * len(digits), 1.8 + 0.35 * attention.shape[0]))
        plot_attention(words, attention, digits, ax=ax)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight", dpi=80)
        plt.close(fig)
        image.value = buffer.getvalue()
        image.layout.display = None

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    head = ipywidgets.HBox(controls) if len(controls) > 1 else box
    return ipywidgets.VBox([head, label, image])
