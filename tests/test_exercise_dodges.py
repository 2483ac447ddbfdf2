"""The hidden tests of notebooks 01, 02 and 05 fail for the dodges and wrong answers their exercises name, and
pass the reference.

Each exercise's graded test cell (visible and hidden tests) is run in a fresh namespace after a replacement
of the solution cell: the reference answer must pass; an answer that calls autograd in any form (notebook 01,
the RNN step's backward), a copy of the lecture's initialiser (notebook 02, `_reinitialize`'s forget-gate
slice) or a plausible wrong free run (notebook 05: shifted by one step, fed the true values, the package's
network instead of its own loop) must fail.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from lecture_utils.grading import GradingError

ROOT = Path(__file__).resolve().parents[1]
PRELUDE = """
import torch
from torch import nn
from lecture_utils.grading import assert_close, assert_true, call_without_autograd
"""


def _cells(notebook: str, grade_id: str) -> tuple[str, str]:
    """The source of the solution cell ``grade_id`` and of its test cell."""
    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    return by_id[grade_id], by_id[grade_id + "_tests"]


def _grade(
    notebook: str, grade_id: str, answer: str | None, *, unguarded: bool = False, hidden_only: bool = False
) -> None:
    """Run the test cell after the reference solution (``answer=None``) or after ``answer``; ``unguarded``
    replaces the autograd check by a plain call (to show that the check is what a dodge fails on);
    ``hidden_only`` runs the hidden tests alone (to show they catch what the visible ones catch first)."""
    solution, tests = _cells(notebook, grade_id)
    if hidden_only:
        tests = tests.split("### BEGIN HIDDEN TESTS", 1)[1]
    namespace: dict = {}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)
    if unguarded:
        namespace["call_without_autograd"] = lambda function, *args, what: function(*args)
    exec(compile(answer or solution, "<answer>", "exec"), namespace)
    exec(compile(tests, "<tests>", "exec"), namespace)


RNN_AUTOGRAD = """
def rnn_step_backward(dh_next, x, h, h_next, weight_ih, weight_hh):
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, h, weight_ih, weight_hh)]
    b = torch.zeros(weight_hh.shape[0], dtype=x.dtype, requires_grad=True)
    with torch.enable_grad():
        out = torch.tanh(leaves[0] @ leaves[2].T + leaves[1] @ leaves[3].T + b)  # the same step up to the bias
        ENGINE
    return tuple(grads)
"""
ENGINES = {
    "autograd.grad": "grads = torch.autograd.grad(out, [*leaves, b], dh_next)",
    "backward": "out.backward(dh_next); grads = [t.grad for t in [*leaves, b]]",
    "functional.vjp": "grads = torch.autograd.functional.vjp("
                      "lambda *a: torch.tanh(a[0] @ a[2].T + a[1] @ a[3].T + a[4]), (*leaves, b), dh_next)[1]",
    "func.vjp": "grads = torch.func.vjp("
                "lambda *a: torch.tanh(a[0] @ a[2].T + a[1] @ a[3].T + a[4]), *leaves, b)[1](dh_next)",
}
# h_next carries the bias: recover it, so that a dodge gets every gradient right
RNN_AUTOGRAD = RNN_AUTOGRAD.replace(
    "b = torch.zeros(weight_hh.shape[0], dtype=x.dtype, requires_grad=True)",
    "b = (torch.atanh(h_next) - x @ weight_ih.T - h @ weight_hh.T)[0].detach().requires_grad_(True)",
)


def test_rnn_step_backward_tests_pass_the_reference():
    _grade("01_rnn_lstm_basics.ipynb", "nb01_rnn_backward", None)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_rnn_step_backward_tests_reject_autograd(engine: str):
    dodge = RNN_AUTOGRAD.replace("ENGINE", ENGINES[engine].replace("; ", "\n        "))
    if engine == "func.vjp":  # works with autograd off (inference_mode): only the check stops it
        _grade("01_rnn_lstm_basics.ipynb", "nb01_rnn_backward", dodge, unguarded=True)
    with pytest.raises(GradingError, match="used autograd"):
        _grade("01_rnn_lstm_basics.ipynb", "nb01_rnn_backward", dodge)


LECTURE_COPY = """
def keras_init_lstm_(lstm, gate_order="ifgo"):
    for name, p in lstm.named_parameters():  # the lecture's _reinitialize, for one nn.LSTM
        if 'weight_ih' in name:
            nn.init.xavier_uniform_(p.data)
        elif 'weight_hh' in name:
            nn.init.orthogonal_(p.data)
        elif 'bias_ih' in name:
            p.data.fill_(0)
            n = p.size(0)
            p.data[(n // 4):(n // 2)].fill_(1)
        elif 'bias_hh' in name:
            p.data.fill_(0)
"""


def test_keras_init_tests_pass_the_reference():
    _grade("02_bidirectional_regressor.ipynb", "nb02_keras_init", None)


def test_keras_init_tests_reject_a_copy_of_the_lectures_initialiser():
    with pytest.raises(GradingError, match="total bias of gate"):
        _grade("02_bidirectional_regressor.ipynb", "nb02_keras_init", LECTURE_COPY)


FREE_RUN = """
def free_run(w, w_in, b, leak, w_out, b_out, series, start, warmup, steps):
    x = torch.zeros(w.shape[0], dtype=w.dtype)
    for u in series[WARM]:
        x = (1 - leak) * x + leak * torch.tanh(w @ x + w_in @ u + b)
    outputs = []
    for k in range(steps):
        y = w_out @ x + b_out
        outputs.append(y)
        x = (1 - leak) * x + leak * torch.tanh(w @ x + w_in @ FED + b)
    return torch.stack(outputs)
"""
WRONG_FREE_RUNS = {  # what each gets wrong, and a phrase of the test message it must fail on
    "warm-up one step short": (FREE_RUN.replace("WARM", "start - warmup : start").replace("FED", "y"),
                               "no one-step shift"),
    "warm-up one step too far": (FREE_RUN.replace("WARM", "start - warmup + 1 : start + 2").replace("FED", "y"),
                                 "reads series\\[start - warmup\\]"),
    "fed the true values": (FREE_RUN.replace("WARM", "start - warmup : start + 1")
                            .replace("FED", "series[start + 1 + k]"), "never reads the true values"),
    "no leak": (FREE_RUN.replace("WARM", "start - warmup : start + 1").replace("FED", "y")
                .replace("(1 - leak) * x + leak * ", ""), "leaky"),
    "the package's network": ("""
from lecture_utils.models.esn import EchoStateNetwork


def free_run(w, w_in, b, leak, w_out, b_out, series, start, warmup, steps):
    units = w.shape[0]
    net = EchoStateNetwork(1, units, leak_rate=leak, dtype=w.dtype,
                           weights=(w, w_in, b, torch.zeros(units, 1, dtype=w.dtype)))
    net.w_out, net.b_out = w_out, b_out
    net.run(series[start - warmup : start])
    return net.generate(steps, first_input=series[start])
""", "its own loop"),
}


def test_free_run_tests_pass_the_reference():
    _grade("05_echo_state_networks.ipynb", "nb05_free_run", None)


def test_free_run_tests_pass_the_template_answer():
    _grade("05_echo_state_networks.ipynb", "nb05_free_run",
           FREE_RUN.replace("WARM", "start - warmup : start + 1").replace("FED", "y"))


@pytest.mark.parametrize("wrong", sorted(WRONG_FREE_RUNS))
def test_free_run_tests_reject_plausible_wrong_answers(wrong: str):
    answer, message = WRONG_FREE_RUNS[wrong]
    with pytest.raises(AssertionError):
        _grade("05_echo_state_networks.ipynb", "nb05_free_run", answer)
    with pytest.raises(AssertionError, match=message):  # the hidden tests alone name the mistake
        _grade("05_echo_state_networks.ipynb", "nb05_free_run", answer, hidden_only=True)
