"""Long-range memory tasks with the lag as a knob: the adding problem and a delayed-recall stream.

Adding problem (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015): each sequence
has ``lag`` steps of two features, a random value ``u ~ U(0, 1)`` and a marker that is 1 at exactly two
steps, one in the first half and one in the second half; the target is the sum of the two marked
values. Predicting the mean (1.0) gives the chance-level mean squared error 1/6; the information needed
is on average about ``lag / 2`` steps before the end.

Delayed recall: one long stream of random symbols; the target at step ``t`` is the symbol seen at step
``t - delay``. The dependency length is exactly ``delay``, which makes it the task for truncated BPTT.
"""

from __future__ import annotations

import torch

ADDING_CHANCE_MSE = 1 / 6  # Var(u1 + u2) for two independent U(0, 1) values


def _generator(seed: int) -> torch.Generator:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def adding_problem(n: int, lag: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` adding-problem sequences of length ``lag``: ``x`` ``(n, lag, 2)`` and ``y`` ``(n,)``.

    ``x[..., 0]`` holds the values, ``x[..., 1]`` the two markers (one in ``[0, lag // 2)``, one in
    ``[lag // 2, lag)``); ``y`` is the sum of the two marked values. Deterministic from ``seed``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if not isinstance(lag, int) or lag < 2:
        raise ValueError(f"lag: expected an int >= 2 (one marker in each half), got {lag!r}")
    g = _generator(seed)
    values = torch.rand(n, lag, generator=g)  # (n, lag)
    half = lag // 2
    first = torch.randint(0, half, (n,), generator=g)  # (n,)
    second = torch.randint(half, lag, (n,), generator=g)  # (n,)
    markers = torch.zeros(n, lag)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=2)  # (n, lag, 2)
    y = values[rows, first] + values[rows, second]  # (n,)
    return x, y


def delayed_recall(
    batch: int, length: int, delay: int, *, symbols: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` parallel streams of ``length`` random symbols; the target is the input ``delay`` steps ago.

    Returns ``x`` one-hot ``(batch, length, symbols)`` and ``y`` ``(batch, length)`` int64 with
    ``y[:, t] = argmax x[:, t - delay]``; the first ``delay`` targets are ``-100`` (``ignore_index`` of
    ``cross_entropy``: there is nothing to recall yet). Chance accuracy is ``1 / symbols``.
    """
    sizes = (("batch", batch, 1), ("length", length, 2), ("delay", delay, 0), ("symbols", symbols, 2))
    for name, value, low in sizes:
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    if delay >= length:
        raise ValueError(f"delay: expected less than length={length}, got {delay}")
    g = _generator(seed)
    tokens = torch.randint(0, symbols, (batch, length), generator=g)  # (batch, length)
    x = torch.nn.functional.one_hot(tokens, symbols).float()  # (batch, length, symbols)
    y = torch.full_like(tokens, -100)
    y[:, delay:] = tokens[:, : length - delay]
    return x, y
