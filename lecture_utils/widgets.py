"""The notebooks' interactive pieces: the logic lives in plain functions, the widgets only call them."""

from __future__ import annotations

import torch


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
    language = ipywidgets.Dropdown(options=list(taggers), value=first, description="language")
    text = ipywidgets.Text(value=examples.get(first, ""), description="text", continuous_update=False,
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
