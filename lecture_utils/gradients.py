"""Tools for looking at and taming gradients in recurrent networks.

- :func:`truncated_bptt`: train on a long stream in chunks of ``k`` steps, carrying the hidden state
  forward but detaching it between chunks (truncated backpropagation through time);
- :func:`gradient_norms_through_time`: ``||dL/dh_t||`` for every step ``t`` of a recurrent layer;
- :func:`hessian_vector_product`: curvature by double backprop (the optimisers that use it, and the
  Hessian's extreme eigenvalues, are in ``lecture_utils.second_order``).

Clipping by norm is ``lecture_utils.fit(..., clip_norm=...)`` (``torch.nn.utils.clip_grad_norm_``); the
spectral radius of a recurrent matrix is ``lecture_utils.linalg.spectral_radius``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.training import History, fit


def detach_state(state: Any) -> Any:
    """A copy of a recurrent state (a tensor, ``None``, or nested tuples/lists of them) cut from the graph."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detach_state(s) for s in state)
    raise ValueError(f"state: expected a tensor, None or tuples/lists of tensors, got {type(state).__name__}")


def truncated_bptt(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    k: int,
    *,
    epochs: int = 1,
    clip_norm: float | None = None,
    desc: str = "truncated BPTT",
    progress: bool = True,
) -> History:
    """Train ``model`` on the stream ``x`` ``(batch, time, ...)`` with targets ``y`` ``(batch, time, ...)``.

    The stream is cut into consecutive chunks of ``k`` steps (the last may be shorter). For each chunk:
    ``out, state = model(x_chunk, state)``, ``loss_fn(out, y_chunk)``, backward and one optimiser step
    (via :func:`lecture_utils.fit`, so clipping, the progress bar and the history are the same). The
    state is carried into the next chunk but detached, so gradients flow back at most ``k`` steps and
    the memory of the graph is ``O(k)``. Each epoch starts again from a zero state (``None``).
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError(f"x: expected a tensor of shape (batch, time, ...), got {getattr(x, 'shape', x)}")
    if not isinstance(y, torch.Tensor) or y.dim() < 2 or y.shape[:2] != x.shape[:2]:
        raise ValueError(f"y: expected shape (batch={x.shape[0]}, time={x.shape[1]}, ...), "
                         f"got {tuple(getattr(y, 'shape', ()))}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive int (steps per truncated chunk), got {k!r}")
    chunks = list(zip(x.split(k, dim=1), y.split(k, dim=1), strict=True))
    carry: dict[str, Any] = {"state": None, "index": 0}

    def step_loss(chunk: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        if carry["index"] % len(chunks) == 0:
            carry["state"] = None  # a new epoch starts from the zero state
        carry["index"] += 1
        out, state = model(chunk[0], detach_state(carry["state"]))  # the cut: no gradient into earlier chunks
        carry["state"] = state
        return loss_fn(out, chunk[1])

    return fit(step_loss, chunks, optimizer, epochs=epochs, clip_norm=clip_norm, desc=desc, progress=progress)


def gradient_norms_through_time(
    layer: nn.RNNBase, x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``||dL/dh_t||`` (batch mean) for each step ``t`` when ``L = loss_fn(h_T)`` uses the last state only.

    ``layer`` is a one-layer ``nn.RNN``/``nn.GRU``/``nn.LSTM`` with ``batch_first=True``; it is run one step
    at a time so that every intermediate state is a node of the graph. For an LSTM the state is
    ``(h_t, c_t)`` and the norm is that of both gradients together. Returns a ``(time,)`` tensor: how much
    of the error signal reaches each step, the quantity that vanishes or explodes.
    """
    if not isinstance(layer, nn.RNNBase) or layer.num_layers != 1 or not layer.batch_first:
        raise ValueError("layer: expected a one-layer nn.RNN, nn.GRU or nn.LSTM with batch_first=True")
    expect_tensor(x, "x", (None, None, layer.input_size), f"(batch, time, input_size={layer.input_size})")
    states, state = [], None
    for x_t in x.unbind(1):  # x_t: (batch, input_size)
        _, state = layer(x_t.unsqueeze(1), state)
        states.append(state)
    last = states[-1][0] if isinstance(states[-1], tuple) else states[-1]  # (1, batch, hidden)
    flat = [t for s in states for t in (s if isinstance(s, tuple) else (s,))]
    grads = torch.autograd.grad(loss_fn(last[0]), flat, allow_unused=True)
    per_tensor = len(flat) // len(states)
    norms = []
    for t in range(len(states)):
        step = grads[t * per_tensor : (t + 1) * per_tensor]
        parts = [g if g is not None else torch.zeros_like(flat[0]) for g in step]
        norms.append(torch.cat(parts, dim=-1).squeeze(0).norm(dim=-1).mean())  # mean over the batch
    return torch.stack(norms).detach()


def hessian_vector_product(
    loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], vector: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """``H v`` for the Hessian ``H`` of ``loss_fn()`` with respect to ``params``, by double backprop.

    ``g = dL/dθ`` is computed with ``create_graph=True``; then ``d(g · v)/dθ = H v``. Costs about two
    backward passes and never forms ``H`` (which has ``n_params**2`` entries).
    """
    params, vector = list(params), list(vector)
    if len(params) != len(vector) or any(p.shape != v.shape for p, v in zip(params, vector, strict=False)):
        raise ValueError("vector: expected one tensor per parameter with the same shapes, got "
                         f"{[tuple(v.shape) for v in vector]} for {[tuple(p.shape) for p in params]}")
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vector, strict=True))
    return [h.detach() for h in torch.autograd.grad(dot, params)]
