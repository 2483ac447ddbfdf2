"""An echo-state network (Jaeger 2001) in PyTorch: a fixed random reservoir and a trained linear readout.

Only the readout is learned, in closed form (ridge regression); the reservoir weights ``W``, the input
weights ``W_in``, the bias and the optional feedback weights ``W_fb`` are drawn once from the seed and
never change. The state update of a leaky-integrator reservoir is::

    x(t) = (1 - a) x(t-1) + a tanh(W x(t-1) + W_in u(t) + b + W_fb y(t-1) + noise(t)),
    y(t) = W_out x(t) + b_out,

with leak rate ``a`` in (0, 1]. ``W`` is sparse (each entry non-zero with probability
``connectivity``, normal values) and is scaled so that its spectral radius, computed from all its
eigenvalues in float64, is exactly ``spectral_radius``. The input (and feedback) weights are
+-``input_scaling`` (+-``feedback_scaling``) on a random ``input_connectivity`` fraction of the units
(at least one) for each input, with random signs. The bias ``b`` sits inside the ``tanh``, on every unit:
+-``bias_scaling`` with random signs (the default 0 means no bias); the readout's own ``b_out`` is trained.

Speed (one CPU thread): the input, bias, teacher-feedback and noise terms of all steps are computed in
one matrix product before the loop; each step is then three in-place operations on a preallocated
state buffer. Up to ``DENSE_UP_TO`` units ``W`` is dense and the loop runs in NumPy (a BLAS ``gemv``,
``tanh`` and the leaky mix; NumPy's per-call overhead is about half of torch's, which dominates at
this size); above it ``W`` is sparse CSR with int32 indices and the loop runs in torch (``addmv``,
``tanh_``, ``lerp``). States are float32 by default; the ridge solve (Gram matrix and Cholesky) runs
in float64, where it matters. Non-finite inputs or targets are rejected with an error naming the first
bad step (a NaN would otherwise spread silently through every state and the whole readout).

Shapes: inputs ``(time, input_size)``, targets and outputs ``(time, output_size)``, states
``(time, units)``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from lecture_utils.checks import expect_tensor
from lecture_utils.linalg import spectral_radius as _spectral_radius  # a keyword below has the same name

DENSE_UP_TO = 400  # one-thread CPU crossover: the NumPy loop with a dense W is faster up to ~500 units, CSR above

# The free-run settings for Mackey-Glass (1000 units) that notebook 05 chooses on its validation part [3000, 5000)
# with the tuning reservoirs 0-2: a random search of 48 of the 768 settings of its grid (spectral radius, leak
# rate, input scaling, bias, input connectivity), each with six ridge penalties, on reservoir 0, the best 4 also
# on reservoirs 1-2. The notebook re-runs the search and checks that it finds these; benchmarks/bench_esn.py
# uses them for its free runs on the held-out reservoirs. float64 is fixed beforehand, not searched.
MACKEY_GLASS_FREE_RUN = {
    "spectral_radius": 1.1,
    "leak_rate": 0.7,
    "input_scaling": 0.25,
    "bias_scaling": 0.25,
    "input_connectivity": 1.0,
    "ridge": 1e-10,
    "dtype": torch.float64,
}


def ridge_readout(states: torch.Tensor, targets: torch.Tensor, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form ridge regression with an unpenalised bias, solved in float64.

    Minimises ``||targets - states @ W_out.T - b_out||^2 + ridge * ||W_out||^2`` over ``W_out``
    ``(outputs, features)`` and ``b_out`` ``(outputs,)``: the data are centred, then
    ``W_out.T = (X_c^T X_c + ridge I)^{-1} X_c^T Y_c`` and ``b_out = mean(Y) - mean(X) @ W_out.T``.
    ``states`` is ``(samples, features)``, ``targets`` ``(samples, outputs)``; returns float64 tensors.
    """
    return ridge_readouts(states, targets, [ridge])[0]


def ridge_readouts(
    states: torch.Tensor, targets: torch.Tensor, ridges: list[float]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`ridge_readout` for each penalty of ``ridges``, sharing one centring and one Gram matrix.

    Choosing the penalty on validation data needs one readout per candidate from the same states: the
    Gram matrix ``X_c^T X_c`` (the expensive part) is computed once. Returns ``[(W_out, b_out), ...]``.
    """
    expect_tensor(states, "states", (None, None), "(samples, features)")
    expect_tensor(targets, "targets", (states.shape[0], None), f"(samples={states.shape[0]}, outputs)")
    if not ridges or min(ridges) < 0:
        raise ValueError(f"ridge: expected non-negative floats, got {ridges!r}")
    x = states.detach().cpu().numpy().astype(np.float64)
    y = targets.detach().cpu().numpy().astype(np.float64)
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    # a NaN or an infinity anywhere makes its column's mean non-finite: a free test, the slow search only then
    if not (np.isfinite(x_mean).all() and np.isfinite(y_mean).all()):
        _expect_finite(states, "states")
        _expect_finite(targets, "targets")
    x -= x_mean
    y -= y_mean
    gram = x.T @ x  # (features, features); NumPy uses a symmetric rank-k update here
    rhs = x.T @ y  # (features, outputs)
    diagonal = np.diag_indices_from(gram)
    readouts = []
    for ridge in ridges:
        penalised = gram.copy()
        penalised[diagonal] += ridge
        factor, info = torch.linalg.cholesky_ex(torch.from_numpy(penalised))  # half the work of an LU solve
        if int(info) == 0:
            w_t = torch.cholesky_solve(torch.from_numpy(rhs), factor).numpy()
        else:  # not positive definite (ridge 0 and collinear states): least squares instead
            w_t = np.linalg.lstsq(penalised, rhs, rcond=None)[0]
        readouts.append((torch.from_numpy(np.ascontiguousarray(w_t.T)), torch.from_numpy(y_mean - x_mean @ w_t)))
    return readouts


def _expect_finite(values: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming the first time step (row) of ``values`` that holds a NaN or an infinity."""
    finite = torch.isfinite(values.detach())
    if not bool(finite.all()):
        row = int((~finite).reshape(finite.shape[0], -1).any(1).nonzero()[0, 0]) if finite.dim() else 0
        raise ValueError(
            f"{name}: expected finite values, found NaN or infinity at step {row} "
            f"({int((~finite).sum())} non-finite entries); clean or drop them before fitting"
        )


def _run_dense(drive: np.ndarray, w: np.ndarray, x: np.ndarray, leak_rate: float, states: np.ndarray) -> np.ndarray:
    """The state loop in NumPy for a dense ``W``: ``states[t] = (1-a) x(t-1) + a tanh(W x(t-1) + drive[t])``.

    ``drive`` and ``states`` are ``(time, units)``, ``x`` the state before the first step; returns the last state.
    """
    pre = np.empty_like(x)
    keep = 1.0 - leak_rate
    for drive_t, out in zip(drive, states, strict=True):
        np.dot(w, x, out=pre)  # W x(t-1): one BLAS gemv
        pre += drive_t  # + W_in u(t) + b (+ W_fb y(t-1) + noise)
        if leak_rate == 1.0:
            np.tanh(pre, out=out)
        else:
            np.tanh(pre, out=pre)
            np.multiply(x, keep, out=out)
            pre *= leak_rate
            out += pre
        x = out
    return x


def nrmse(prediction: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> float:
    """Normalised root-mean-square error: RMSE divided by the target's standard deviation.

    0 is perfect; 1 is what always predicting the target's mean scores.
    """
    p = np.asarray(prediction.detach().cpu() if isinstance(prediction, torch.Tensor) else prediction, np.float64)
    t = np.asarray(target.detach().cpu() if isinstance(target, torch.Tensor) else target, np.float64)
    if p.shape != t.shape:
        raise ValueError(f"prediction and target: expected the same shape, got {p.shape} and {t.shape}")
    std = t.std()
    if not std > 0:
        raise ValueError("target: expected a non-constant array (its standard deviation divides the RMSE)")
    return float(np.sqrt(np.mean((p - t) ** 2)) / std)


def _signs(generator: torch.Generator, rows: int, cols: int, fraction: float, scale: float) -> torch.Tensor:
    """+-scale on a random ``fraction`` of the entries of each column (at least one), zeros elsewhere."""
    per_col = max(1, round(fraction * rows))
    out = torch.zeros(rows, cols, dtype=torch.float64)
    for j in range(cols):
        idx = torch.randperm(rows, generator=generator)[:per_col]
        sign = torch.randint(0, 2, (per_col,), generator=generator).double() * 2 - 1
        out[idx, j] = sign * scale
    return out


@functools.lru_cache(maxsize=4)
def _unscaled_reservoir(units: int, connectivity: float, seed: int) -> tuple[torch.Tensor, float, torch.Tensor]:
    """``W`` ``(units, units)`` as drawn from ``seed``, before scaling, its spectral radius, and the
    generator's state after the draw.

    The eigenvalues of a 1000-unit ``W`` take about half a second; a search that draws the same seed
    again with another spectral radius or other input and bias scalings reuses them (the last four draws
    are kept). Callers must not modify the returned tensor.
    """
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(units, units, generator=g, dtype=torch.float64)
    w *= torch.rand(units, units, generator=g, dtype=torch.float64) < connectivity
    return w, _spectral_radius(w), g.get_state()  # all eigenvalues: exact, unlike ARPACK's


class EchoStateNetwork:
    """Leaky echo-state network with a ridge readout, teacher-forced fit and free-running generation.

    It is stateful like reservoirpy: :meth:`fit`, :meth:`predict` and :meth:`generate` start from
    :attr:`state` (zeros after construction or :meth:`reset`) and leave the last state there, so a test
    series that continues the training series is predicted without a new washout.

    ``weights=(W, W_in, bias, W_fb)`` (shapes ``(units, units)``, ``(units, input_size)``, ``(units,)``,
    ``(units, output_size)``) replaces the random draw, for example by reservoirpy's arrays for a
    like-for-like comparison; the spectral radius, scalings, connectivities and seed then play no part.

    Three lines::

        esn = EchoStateNetwork(1, 300, spectral_radius=0.99, leak_rate=0.3, seed=0)
        esn.fit(u_train, y_train, washout=100)  # (time, 1) each
        y_free = esn.generate(500)  # (500, 1): the outputs fed back as the next inputs
    """

    def __init__(
        self,
        input_size: int,
        units: int,
        *,
        output_size: int | None = None,
        spectral_radius: float = 0.99,
        leak_rate: float = 0.3,
        input_scaling: float = 1.0,
        bias_scaling: float = 0.0,
        feedback_scaling: float = 0.0,
        connectivity: float = 0.1,
        input_connectivity: float = 0.1,
        ridge: float = 1e-6,
        noise: float = 0.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        weights: tuple[torch.Tensor | np.ndarray, ...] | None = None,
    ) -> None:
        if input_size < 1 or units < 1:
            raise ValueError(f"input_size and units: expected positive ints, got {input_size!r}, {units!r}")
        output_size = input_size if output_size is None else output_size
        if output_size < 1:
            raise ValueError(f"output_size: expected a positive int, got {output_size!r}")
        if not spectral_radius > 0:
            raise ValueError(f"spectral_radius: expected a positive float, got {spectral_radius!r}")
        if not 0 < leak_rate <= 1:
            raise ValueError(f"leak_rate: expected a float in (0, 1], got {leak_rate!r}")
        if not 0 < connectivity <= 1 or not 0 < input_connectivity <= 1:
            raise ValueError(
                f"connectivity, input_connectivity: expected floats in (0, 1], got {connectivity!r}, "
                f"{input_connectivity!r}"
            )
        if min(input_scaling, bias_scaling, feedback_scaling, ridge, noise) < 0:
            raise ValueError("input_scaling, bias_scaling, feedback_scaling, ridge and noise must be >= 0")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.input_size, self.units, self.output_size = input_size, units, output_size
        self.leak_rate, self.ridge, self.noise, self.dtype = leak_rate, ridge, noise, dtype
        if weights is None:
            weights = self.random_weights(
                input_size,
                units,
                output_size,
                spectral_radius=spectral_radius,
                input_scaling=input_scaling,
                bias_scaling=bias_scaling,
                feedback_scaling=feedback_scaling,
                connectivity=connectivity,
                input_connectivity=input_connectivity,
                seed=seed,
            )
        w, w_in, bias, w_fb = (
            a.detach().double().clone() if isinstance(a, torch.Tensor) else torch.tensor(np.asarray(a, np.float64))
            for a in weights
        )
        expect_tensor(w, "weights[0] (W)", (units, units), f"(units={units}, units={units})")
        expect_tensor(w_in, "weights[1] (W_in)", (units, input_size), f"(units={units}, input_size={input_size})")
        expect_tensor(bias, "weights[2] (bias)", (units,), f"(units={units},)")
        expect_tensor(w_fb, "weights[3] (W_fb)", (units, output_size), f"(units={units}, output_size={output_size})")
        self.w_dense = w  # (units, units), float64: kept to check the spectral radius
        # (units, units): dense up to DENSE_UP_TO units (NumPy loop, faster there), else sparse CSR with int32 indices
        self.dense = units <= DENSE_UP_TO
        self.w = w.to(dtype).contiguous() if self.dense else self._csr(w.to(dtype))
        self.w_in, self.bias, self.w_fb = w_in.to(dtype), bias.to(dtype), w_fb.to(dtype)
        self.has_feedback = bool(w_fb.abs().max() > 0)
        self._noise_gen = torch.Generator().manual_seed(seed + 1)
        self.w_out: torch.Tensor | None = None  # (outputs, units), set by fit
        self.b_out: torch.Tensor | None = None  # (outputs,)
        self.reset()

    @staticmethod
    def random_weights(
        input_size: int,
        units: int,
        output_size: int,
        *,
        spectral_radius: float,
        input_scaling: float,
        bias_scaling: float,
        feedback_scaling: float,
        connectivity: float,
        input_connectivity: float,
        seed: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw ``(W, W_in, bias, W_fb)`` in float64 from ``seed``; ``W`` gets exactly ``spectral_radius``."""
        w, radius, after_w = _unscaled_reservoir(units, connectivity, seed)
        if radius == 0:
            raise ValueError("the random reservoir is nilpotent (spectral radius 0): raise connectivity or units")
        w = w * (spectral_radius / radius)  # a new tensor: the cached draw stays as it was
        g = torch.Generator()
        g.set_state(after_w)  # the input, bias and feedback weights follow W in the seed's stream
        w_in = _signs(g, units, input_size, input_connectivity, input_scaling)
        bias = _signs(g, units, 1, 1.0, bias_scaling).squeeze(1)
        w_fb = _signs(g, units, output_size, input_connectivity, feedback_scaling)
        return w, w_in, bias, w_fb

    @staticmethod
    def _csr(dense: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            csr = dense.to_sparse_csr()
            return torch.sparse_csr_tensor(
                csr.crow_indices().to(torch.int32),
                csr.col_indices().to(torch.int32),
                csr.values(),
                size=dense.shape,
                check_invariants=True,
            )

    def reset(self, state: torch.Tensor | None = None) -> None:
        """Set the reservoir state (zeros by default) and forget the last output."""
        if state is None:
            state = torch.zeros(self.units, dtype=self.dtype)
        expect_tensor(state, "state", (self.units,), f"(units={self.units},)")
        self.state = state.to(self.dtype).clone()
        self.last_output = torch.zeros(self.output_size, dtype=self.dtype)

    @property
    def is_fitted(self) -> bool:
        return self.w_out is not None

    def _check_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        expect_tensor(inputs, "inputs", (None, self.input_size), f"(time, input_size={self.input_size})")
        _expect_finite(inputs, "inputs")
        return inputs.to(self.dtype)

    def run(self, inputs: torch.Tensor, *, feedback: torch.Tensor | None = None, noise: float = 0.0) -> torch.Tensor:
        """Drive the reservoir with ``inputs`` ``(time, input_size)`` from :attr:`state`: ``(time, units)``.

        ``feedback`` ``(time, output_size)`` is the output fed back at each step (the teacher's
        previous value during a fit); ``noise`` adds uniform noise of that amplitude to each pre-activation.
        """
        inputs = self._check_inputs(inputs)
        steps = inputs.shape[0]
        drive = torch.addmm(self.bias, inputs, self.w_in.T)  # (time, units): input + bias, all steps at once
        if self.has_feedback:
            if feedback is None:
                raise ValueError("feedback: this network has output feedback; pass (time, output_size) values")
            expect_tensor(feedback, "feedback", (steps, self.output_size), f"(time={steps}, output_size)")
            drive.addmm_(feedback.to(self.dtype), self.w_fb.T)
        if noise > 0:
            drive += noise * (2 * torch.rand(steps, self.units, generator=self._noise_gen, dtype=self.dtype) - 1)
        states = torch.empty(steps, self.units, dtype=self.dtype)  # (time, units), preallocated
        if not steps:
            return states
        if self.dense:
            _run_dense(drive.numpy(), self.w.numpy(), self.state.numpy(), self.leak_rate, states.numpy())
            self.state = states[-1].clone()
            return states
        pre = torch.empty(self.units, dtype=self.dtype)
        x = self.state
        # unbind makes all the row views in one call, cheaper than indexing drive[t] and states[t]
        for drive_t, out in zip(drive.unbind(0), states.unbind(0), strict=True):
            torch.addmv(drive_t, self.w, x, out=pre)  # W x(t-1) + W_in u(t) + b (+ W_fb y(t-1))
            pre.tanh_()
            torch.lerp(x, pre, self.leak_rate, out=out)  # (1 - a) x(t-1) + a tanh(...)
            x = out
        self.state = x.clone()
        return states

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        """Outputs ``(time, output_size)`` of the trained readout for states ``(time, units)``."""
        if not self.is_fitted:
            raise ValueError("the readout is not trained yet: call fit(inputs, targets) first")
        expect_tensor(states, "states", (None, self.units), f"(time, units={self.units})")
        return torch.addmm(self.b_out, states.to(self.dtype), self.w_out.T)

    def fit(self, inputs: torch.Tensor, targets: torch.Tensor, *, washout: int = 100) -> EchoStateNetwork:
        """Teacher-forced fit: run the reservoir on ``inputs``, drop ``washout`` steps, solve the readout.

        ``targets`` ``(time, output_size)`` is what the readout should output at each step; with output
        feedback, the teacher's previous target is fed back (zero before the first step).
        """
        inputs = self._check_inputs(inputs)
        expect_tensor(
            targets,
            "targets",
            (inputs.shape[0], self.output_size),
            f"(time={inputs.shape[0]}, output_size={self.output_size})",
        )
        _expect_finite(targets, "targets")
        if not 0 <= washout < inputs.shape[0]:
            raise ValueError(f"washout: expected an int in [0, {inputs.shape[0]}), got {washout!r}")
        targets = targets.to(self.dtype)
        feedback = torch.cat([self.last_output[None], targets[:-1]]) if self.has_feedback else None
        states = self.run(inputs, feedback=feedback, noise=self.noise)
        w_out, b_out = ridge_readout(states[washout:], targets[washout:], self.ridge)
        self.w_out, self.b_out = w_out.to(self.dtype), b_out.to(self.dtype)
        self.last_output = targets[-1].clone()
        return self

    def predict(self, inputs: torch.Tensor, *, teacher: torch.Tensor | None = None) -> torch.Tensor:
        """One-step-ahead outputs ``(time, output_size)`` for given ``inputs`` (teacher forcing).

        With output feedback, pass ``teacher`` ``(time, output_size)``: the true outputs fed back.
        """
        if not self.is_fitted:
            raise ValueError("the readout is not trained yet: call fit(inputs, targets) first")
        feedback = None
        if self.has_feedback:
            if teacher is None:
                raise ValueError("teacher: this network has output feedback; pass the true outputs (time, output_size)")
            feedback = torch.cat([self.last_output[None], teacher.to(self.dtype)[:-1]])
        outputs = self.readout(self.run(inputs, feedback=feedback))
        if outputs.shape[0]:
            self.last_output = (outputs[-1] if teacher is None else teacher[-1].to(self.dtype)).clone()
        return outputs

    def generate(self, steps: int, *, first_input: torch.Tensor | None = None) -> torch.Tensor:
        """Free run: each output becomes the next input (and feedback); returns ``(steps, output_size)``.

        Needs ``input_size == output_size``. The first input is ``first_input`` ``(input_size,)`` or, by
        default, the last teacher value (after :meth:`fit`) or last output seen.
        """
        if not self.is_fitted:
            raise ValueError("the readout is not trained yet: call fit(inputs, targets) before a free run")
        if self.input_size != self.output_size:
            raise ValueError(
                f"a free run feeds outputs back as inputs: needs input_size == output_size, got "
                f"{self.input_size} and {self.output_size}"
            )
        if steps < 0:
            raise ValueError(f"steps: expected a non-negative int, got {steps!r}")
        u = self.last_output if first_input is None else first_input.to(self.dtype)
        expect_tensor(u, "first_input", (self.input_size,), f"(input_size={self.input_size},)")
        outputs = torch.empty(steps, self.output_size, dtype=self.dtype)
        pre = torch.empty(self.units, dtype=self.dtype)
        x = self.state.clone()
        y_prev = self.last_output
        for t in range(steps):
            torch.addmv(self.bias, self.w, x, out=pre)
            pre.addmv_(self.w_in, u)
            if self.has_feedback:
                pre.addmv_(self.w_fb, y_prev)
            pre.tanh_()
            x.lerp_(pre, self.leak_rate)
            torch.addmv(self.b_out, self.w_out, x, out=outputs[t])
            u = y_prev = outputs[t]
        self.state = x
        if steps:
            self.last_output = outputs[-1].clone()
        return outputs


def free_run_errors(
    esn: EchoStateNetwork,
    series: torch.Tensor,
    starts: list[int],
    *,
    horizon: int = 84,
    warmup: int = 100,
    readouts: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> np.ndarray:
    """Normalised free-run errors ``(len(starts), horizon)`` of a fitted one-dimensional predictor.

    For each start ``s``: from the zero state, feed the true ``series[s - warmup : s]`` to the reservoir
    (teacher forcing, to synchronise it), then let it run free from ``series[s]`` for ``horizon`` steps.
    Entry ``[i, k]`` is ``|prediction - series[s + k + 1]| / std(series)``: column 83 is the error at
    step 84 of Jaeger & Haas (2004). ``series`` is ``(time, 1)``.

    ``readouts``, a list of ``(W_out, b_out)`` pairs (for example one per ridge penalty from
    :func:`ridge_readouts`), scores each of them from the same synchronised states, which do not depend
    on the readout: the result is then ``(len(readouts), len(starts), horizon)``, the network need not be
    fitted, and its state and readout are left as they were.

    All runs go at once, as the rows of one state matrix ``(readouts * starts, units)``: each step is one
    sparse-times-dense product instead of one matrix-vector product per run. The arithmetic of a row is
    that of :meth:`EchoStateNetwork.generate`, summed in another order.
    """
    expect_tensor(series, "series", (None, esn.input_size), f"(time, input_size={esn.input_size})")
    if esn.input_size != 1 or esn.output_size != 1:
        raise ValueError("free_run_errors: expected a network with one input and one output")
    if horizon < 1 or warmup < 1:
        raise ValueError(f"horizon and warmup: expected positive ints, got {horizon!r}, {warmup!r}")
    if not starts or min(starts) < warmup or max(starts) + horizon >= series.shape[0]:
        raise ValueError(f"starts: expected a non-empty list in [{warmup}, {series.shape[0] - horizon - 1}]")
    if readouts is None and not esn.is_fitted:
        raise ValueError("the readout is not trained yet: call fit(inputs, targets) before a free run")
    candidates = [(esn.w_out, esn.b_out)] if readouts is None else readouts
    if not candidates:
        raise ValueError("readouts: expected a non-empty list of (W_out, b_out) pairs")
    values = series.to(esn.dtype)[:, 0]  # (time,)
    scale = float(series.double().std())
    first = torch.as_tensor(starts)[:, None]  # (starts, 1)
    warm_inputs = values[first + torch.arange(-warmup, 0)]  # (starts, warmup): series[s - warmup], ..., series[s - 1]
    truth = series.double()[:, 0][first + torch.arange(1, horizon + 1)]  # (starts, horizon): series[s + 1], ...

    def step(x: torch.Tensor, u: torch.Tensor, y_prev: torch.Tensor) -> torch.Tensor:
        """One leaky update of the rows of x (runs, units) for inputs u and fed-back outputs y_prev (runs,)."""
        pre = (esn.w @ x.T).T if not esn.dense else x @ esn.w.T  # (runs, units): W x(t-1) for every run
        pre += torch.outer(u, esn.w_in[:, 0]) + esn.bias
        if esn.has_feedback:
            pre += torch.outer(y_prev, esn.w_fb[:, 0])
        return torch.lerp(x, pre.tanh_(), esn.leak_rate)

    x = torch.zeros(len(starts), esn.units, dtype=esn.dtype)  # every warm-up starts from the zero state
    y_prev = torch.zeros(len(starts), dtype=esn.dtype)  # and the zero last output
    for t in range(warmup):  # teacher forcing: the true inputs, the true previous outputs fed back
        x = step(x, warm_inputs[:, t], y_prev)
        y_prev = values[first[:, 0] - warmup + t + 1]
    runs = len(candidates)
    x = x.repeat(runs, 1)  # (runs * starts, units): each readout continues from the same synchronised states
    w_out = torch.stack([w.to(esn.dtype).reshape(-1) for w, _ in candidates])  # (runs, units)
    b_out = torch.stack([b.to(esn.dtype).reshape(()) for _, b in candidates])  # (runs,)
    u = values[first[:, 0]].repeat(runs)  # (runs * starts,): series[s], the last true value
    free = torch.empty(runs, len(starts), horizon, dtype=esn.dtype)
    for k in range(horizon):
        x = step(x, u, u)  # the prediction fed back is the next input too
        y = torch.einsum("rsu,ru->rs", x.view(runs, len(starts), esn.units), w_out) + b_out[:, None]
        free[:, :, k] = y
        u = y.reshape(-1)
    errors = ((free.double() - truth).abs() / scale).numpy()  # (runs, starts, horizon)
    return errors[0] if readouts is None else errors


def fit_and_free_run(
    series: torch.Tensor, *, train: int, horizon: int, units: int, washout: int = 100, **esn_kwargs
) -> torch.Tensor:
    """Fit a one-step predictor on ``series[:train + 1]`` ``(time, 1)``, then run free for ``horizon`` steps.

    Returns the free run ``(horizon, 1)``, to compare with ``series[train + 1 : train + 1 + horizon]``.
    ``esn_kwargs`` go to :class:`EchoStateNetwork` (spectral radius, leak rate, input scaling, seed...).
    """
    expect_tensor(series, "series", (None, 1), "(time, 1)")
    if not washout < train < series.shape[0] - 1:
        raise ValueError(f"train: expected washout={washout} < train < {series.shape[0] - 1}, got {train!r}")
    esn = EchoStateNetwork(1, units, **esn_kwargs)
    esn.fit(series[:train], series[1 : train + 1], washout=washout)
    return esn.generate(horizon)


def memory_capacity(
    esn: EchoStateNetwork, *, max_delay: int, steps: int = 4000, washout: int = 200, seed: int = 0
) -> np.ndarray:
    """Short-term memory capacity per delay (Jaeger 2002): ``(max_delay,)`` values in [0, 1].

    The reservoir (one input, no feedback) is driven by i.i.d. uniform noise in [-1, 1]. For each delay
    ``k`` a ridge readout (the network's ``ridge``) is trained on the first half of the states to output
    ``u(t - k)``; ``MC_k`` is the squared correlation of its output with ``u(t - k)`` on the second half.
    The total ``sum(MC_k)`` is at most the number of units for such an input.
    """
    if esn.input_size != 1 or esn.has_feedback:
        raise ValueError("esn: expected one input and no output feedback")
    if max_delay < 1 or steps <= 2 * (washout + max_delay):
        raise ValueError(f"expected max_delay >= 1 and steps > 2 * (washout + max_delay), got {max_delay}, {steps}")
    u = torch.from_numpy(np.random.default_rng(seed).uniform(-1, 1, steps + max_delay))  # (time,)
    esn.reset()
    states = esn.run(u[:, None])[max_delay + washout :]  # (samples, units)
    # targets[t, k - 1] = u(t - k) for the state at time t
    targets = torch.stack([u[max_delay + washout - k : steps + max_delay - k] for k in range(1, max_delay + 1)], 1)
    half = states.shape[0] // 2
    w_out, b_out = ridge_readout(states[:half], targets[:half], esn.ridge)
    outputs = (states[half:].double() @ w_out.T + b_out).numpy()  # (samples - half, max_delay)
    truth = targets[half:].numpy()
    capacity = np.empty(max_delay)
    for k in range(max_delay):
        capacity[k] = np.corrcoef(outputs[:, k], truth[:, k])[0, 1] ** 2
    return capacity
