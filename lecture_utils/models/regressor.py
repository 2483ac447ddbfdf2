"""The lecture's per-time-step pressure regressor (In[19]): stacked (bi)directional LSTMs and an MLP head.

``StackedLSTMRegressor()`` with the defaults is the lecture's ``Model`` with its bug fixed (its
``forward`` returned nothing): four bidirectional LSTMs of hidden sizes [400, 300, 200, 100], each fed
the ``2 * hidden`` outputs of the one before, then ``Linear(200, 50)``, SELU, ``Linear(50, 1)``.
Smaller ``hidden`` sizes keep the architecture for CPU runs; ``bidirectional=False`` gives the causal
(online) peer. The LSTMs' initialisation is the caller's: notebook 02's students write the Keras-like
one (its exercise 2) and pass it as ``init_lstm``; the package does not ship it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from lecture_utils.checks import expect_tensor
from lecture_utils.training import History, eval_mode, fit

LECTURE_HIDDEN = (400, 300, 200, 100)


class StackedLSTMRegressor(nn.Module):
    """Per-step regression ``(batch, time, input_size) -> (batch, time)``: the lecture's ``Model``, fixed.

    Each LSTM layer reads the previous layer's outputs: ``2 * hidden`` features when bidirectional
    (forward and backward states concatenated), ``hidden`` otherwise. The inputs are standardised
    (``(x - input_mean) / input_scale``) and the output is ``head(x) * target_scale + target_mean``:
    buffers that are identities until :meth:`set_input_scale` and :meth:`set_target_scale`, so the
    network itself works with standardised numbers. ``init_lstm(lstm)`` is called on every
    ``nn.LSTM`` (in place); ``None`` keeps PyTorch's default (every tensor uniform in
    +-1/sqrt(hidden)). The head's linear layers start as in the lecture: Xavier-uniform weights,
    zero biases.
    """

    def __init__(
        self,
        input_size: int,
        hidden: Sequence[int] = LECTURE_HIDDEN,
        *,
        head: int = 50,
        bidirectional: bool = True,
        init_lstm: Callable[[nn.LSTM], object] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(input_size, int) or input_size < 1:
            raise ValueError(f"input_size: expected a positive int, got {input_size!r}")
        if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden: expected a non-empty sequence of positive ints, got {hidden!r}")
        if init_lstm is not None and not callable(init_lstm):
            raise ValueError(f"init_lstm: expected a function of one nn.LSTM or None, got {init_lstm!r}")
        self.input_size, self.hidden, self.bidirectional = input_size, tuple(hidden), bidirectional
        directions = 2 if bidirectional else 1
        sizes = [input_size, *(directions * h for h in hidden)]
        self.lstms = nn.ModuleList(
            nn.LSTM(n_in, h, batch_first=True, bidirectional=bidirectional)
            for n_in, h in zip(sizes[:-1], hidden, strict=True)
        )
        self.fc1 = nn.Linear(sizes[-1], head)
        self.selu = nn.SELU()
        self.fc2 = nn.Linear(head, 1)
        self.register_buffer("input_mean", torch.zeros(input_size))
        self.register_buffer("input_scale", torch.ones(input_size))
        self.register_buffer("target_mean", torch.tensor(0.0))
        self.register_buffer("target_scale", torch.tensor(1.0))
        for linear in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
        if init_lstm is not None:
            for lstm in self.lstms:
                init_lstm(lstm)

    def set_input_scale(self, x: torch.Tensor) -> None:
        """Standardise each input feature to ``x``'s mean and standard deviation over breaths and steps.

        ``x`` is ``(breaths, steps, features)``; a constant feature keeps scale 1.
        """
        flat = x.float().reshape(-1, self.input_size)
        std = flat.std(dim=0)
        self.input_mean.copy_(flat.mean(dim=0))
        self.input_scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def set_target_scale(self, target: torch.Tensor) -> None:
        """Standardise the output to ``target``'s mean and standard deviation (e.g. training pressures)."""
        self.target_mean.fill_(target.float().mean().item())
        self.target_scale.fill_(target.float().std().item())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_tensor(x, "x", (None, None, self.input_size), f"(batch, time, features={self.input_size})")
        x = (x - self.input_mean) / self.input_scale  # standardised features
        for lstm in self.lstms:
            x, _ = lstm(x)  # (batch, time, directions * hidden)
        x = self.fc2(self.selu(self.fc1(x)))  # (batch, time, 1)
        return x.squeeze(-1) * self.target_scale + self.target_mean  # (batch, time): the fix, a return


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def matched_unidirectional_hidden(
    hidden: Sequence[int], input_size: int, *, head: int = 50
) -> tuple[int, ...]:
    """Hidden sizes of a unidirectional stack with about as many parameters as the bidirectional ``hidden``.

    All sizes are scaled by one factor (found by bisection), so the stack keeps its shape.
    """
    target = count_parameters(StackedLSTMRegressor(input_size, hidden, head=head))

    def sizes(scale: float) -> tuple[int, ...]:
        return tuple(max(1, round(h * scale)) for h in hidden)

    low, high = 1.0, 3.0
    for _ in range(30):
        mid = (low + high) / 2
        model = StackedLSTMRegressor(input_size, sizes(mid), head=head, bidirectional=False)
        low, high = (mid, high) if count_parameters(model) < target else (low, mid)
    return sizes((low + high) / 2)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """Predictions ``(breaths, steps)`` on the CPU for inputs ``(breaths, steps, features)``, in eval mode."""
    device = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([model(chunk.to(device)).cpu() for chunk in x.split(batch_size)])


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the ``True`` entries of ``mask`` (all three ``(breaths, steps)``)."""
    if not (prediction.shape == target.shape == mask.shape):
        raise ValueError(
            "prediction, target, mask: expected the same shape (breaths, steps), got "
            f"{tuple(prediction.shape)}, {tuple(target.shape)}, {tuple(mask.shape)}"
        )
    return (prediction - target).abs()[mask].mean()


def train_regressor(
    model: StackedLSTMRegressor,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    clip_norm: float | None = 1.0,
    seed: int = 0,
    stop_after: int | None = None,
    evaluate=None,
    eval_every: int | None = None,
    desc: str = "train",
    progress: bool = True,
) -> History:
    """Adam on the masked L1 loss for ``steps`` random batches, with a one-cycle learning-rate schedule.

    ``x`` is ``(breaths, steps, features)``, ``y`` and ``mask`` ``(breaths, steps)`` (the loss counts
    the ``True`` steps: inspiration). The schedule warms up over the first 10 % of ``steps``, then
    anneals to ~0 (a large rate early moves fast, a small one late averages out the noisy targets).
    ``clip_norm`` clips the gradient norm (an LSTM's gradients can spike). ``stop_after`` trains only
    the first steps of that same schedule (to compare the start of two runs at a fraction of the cost).
    Batches come from ``seed``, so two models see the same batches in the same order.
    """
    expect_tensor(x, "x", (None, None, model.input_size), f"(breaths, steps, features={model.input_size})")
    dims = f"(breaths, steps)={tuple(x.shape[:2])}"
    expect_tensor(y, "y", tuple(x.shape[:2]), dims)
    expect_tensor(mask, "mask", tuple(x.shape[:2]), dims, dtype=torch.bool)
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size: expected positive ints, got {steps}, {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    batches = [torch.randint(len(x), (batch_size,), generator=generator) for _ in range(steps)]
    if stop_after is not None:
        batches = batches[:stop_after]
    device = next(model.parameters()).device
    model.set_input_scale(x)
    model.set_target_scale(y[mask])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)

    def step_loss(index: torch.Tensor) -> torch.Tensor:
        xb, yb, mb = x[index].to(device), y[index].to(device), mask[index].to(device)
        return masked_l1(model(xb), yb, mb)

    model.train()
    return fit(
        step_loss, batches, optimizer, clip_norm=clip_norm, scheduler=scheduler,
        evaluate=evaluate, eval_every=eval_every, desc=desc, progress=progress,
    )
