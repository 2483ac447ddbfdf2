"""Full-batch descent with one strong-Wolfe line search, three directions, and the Hessian's extreme eigenvalues.

Notebook 04 asks whether curvature helps a plain RNN past a vanishing gradient. To separate what a
second-order method brings, :func:`descend` runs one loop for every method: at each iteration a direction ``d``,
then the same strong-Wolfe line search along it (torch's own, the one ``torch.optim.LBFGS`` uses), on a budget
of gradient evaluations. The directions:

- :class:`SteepestDescent`: ``d = -g`` (a line search, no curvature);
- :class:`NewtonCG`: truncated Newton ("Hessian-free"): conjugate gradients on ``H d = -g`` with Hessian-vector
  products (:func:`newton_cg`), stopped at negative curvature (curvature, no memory);
- :class:`LBFGS`: the two-loop recursion over the last ``history`` steps, the same iterates as
  ``torch.optim.LBFGS(line_search_fn="strong_wolfe")`` (a curvature model built from memory).

:func:`hessian_extreme_eigenvalues` gives the smallest and the largest eigenvalue of the Hessian by Lanczos
iteration on Hessian-vector products, to tell a minimum (all positive) from a saddle (a negative one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.optim.lbfgs import _strong_wolfe  # the line search of torch.optim.LBFGS, shared by every direction

Hvp = Callable[[torch.Tensor], torch.Tensor]
Solver = Callable[[Hvp, torch.Tensor, int], tuple[torch.Tensor, str]]  # (hvp, g, max_iter) -> (direction, why)
# why a conjugate-gradient solve stopped (printed on the page, so in Russian)
NEGATIVE_CURVATURE, TOLERANCE, MAX_ITER = "отрицательная кривизна", "достигнута точность", "исчерпан предел итераций"


def newton_cg(hvp: Hvp, g: torch.Tensor, max_iter: int) -> tuple[torch.Tensor, str]:
    """An approximate solution of ``H d = -g`` by conjugate gradients (Nocedal & Wright, Algorithm 7.1).

    ``hvp(v)`` returns ``H v`` for a flat vector ``v``. Stops after ``max_iter`` products (:data:`MAX_ITER`), when
    the residual is below ``min(0.5, sqrt(|g|)) |g|`` (:data:`TOLERANCE`), or at the first direction of
    non-positive curvature ``p^T H p <= 0`` (:data:`NEGATIVE_CURVATURE`): then the solution so far, or ``-g`` if
    that happens at the first product. Returns the direction, always a descent direction (``g^T d < 0`` for
    ``g != 0``), and why CG stopped (the reasons are printed on the page, in Russian).
    """
    if max_iter < 1:
        raise ValueError(f"max_iter: expected a positive int, got {max_iter!r}")
    tolerance = min(0.5, g.norm().sqrt().item()) * g.norm()
    z = torch.zeros_like(g)
    r = g.clone()  # residual H z + g
    p = -r
    for i in range(max_iter):
        hp = hvp(p)
        curvature = p.dot(hp)
        if curvature <= 0:
            return (-g if i == 0 else z), NEGATIVE_CURVATURE
        alpha = r.dot(r) / curvature
        z = z + alpha * p
        r_next = r + alpha * hp
        if r_next.norm() < tolerance:
            return z, TOLERANCE
        p = -r_next + (r_next.dot(r_next) / r.dot(r)) * p
        r = r_next
    return z, MAX_ITER


class SteepestDescent:
    """``d = -g``. The first trial step is ``min(1, 1/|g|_1)`` (as in ``torch.optim.LBFGS``), later ones
    ``t_prev g_prev^T d_prev / g^T d`` (Nocedal & Wright, eq. 3.60): no curvature enters the direction."""

    uses_hessian = False

    def __init__(self) -> None:
        self.previous: float | None = None  # t * g^T d of the last accepted step

    def __call__(self, g: torch.Tensor, hvp: Hvp | None) -> tuple[torch.Tensor, float]:
        d = -g
        if self.previous is None:
            return d, min(1.0, 1.0 / g.abs().sum().item())
        return d, self.previous / g.dot(d).item()

    def observe(self, t: float, d: torch.Tensor, g: torch.Tensor, g_next: torch.Tensor) -> None:
        self.previous = t * g.dot(d).item()


class NewtonCG:
    """Truncated Newton: :func:`newton_cg` (or ``solve`` with its contract) with at most ``max_iter``
    Hessian-vector products; trial step 1. ``stops`` records why each CG solve ended."""

    uses_hessian = True

    def __init__(self, max_iter: int = 50, solve: Solver = newton_cg) -> None:
        self.max_iter, self.solve = max_iter, solve
        self.stops: list[str] = []

    def __call__(self, g: torch.Tensor, hvp: Hvp | None) -> tuple[torch.Tensor, float]:
        d, reason = self.solve(hvp, g, self.max_iter)
        self.stops.append(reason)
        return d, 1.0

    def observe(self, t: float, d: torch.Tensor, g: torch.Tensor, g_next: torch.Tensor) -> None:
        pass


class LBFGS:
    """The L-BFGS direction of ``torch.optim.LBFGS``: two-loop recursion over the last ``history`` pairs
    ``(s, y)`` (a pair is kept when ``y^T s > 1e-10``), initial scale ``y^T s / y^T y``; trial step
    ``min(1, 1/|g|_1)`` at the first iteration, 1 afterwards."""

    uses_hessian = False

    def __init__(self, history: int = 20) -> None:
        if history < 1:
            raise ValueError(f"history: expected a positive int, got {history!r}")
        self.history, self.iterations = history, 0
        self.pairs: list[tuple[torch.Tensor, torch.Tensor]] = []  # (s, y), oldest first
        self.scale = 1.0

    def __call__(self, g: torch.Tensor, hvp: Hvp | None) -> tuple[torch.Tensor, float]:
        self.iterations += 1
        if self.iterations == 1:
            return -g, min(1.0, 1.0 / g.abs().sum().item())
        q = -g
        alphas = []
        for s, y in reversed(self.pairs):  # newest first
            alpha = s.dot(q) / y.dot(s)
            q = q - alpha * y
            alphas.append(alpha)
        d = q * self.scale
        for (s, y), alpha in zip(self.pairs, reversed(alphas), strict=True):  # oldest first
            d = d + (alpha - y.dot(d) / y.dot(s)) * s
        return d, 1.0

    def observe(self, t: float, d: torch.Tensor, g: torch.Tensor, g_next: torch.Tensor) -> None:
        s, y = t * d, g_next - g
        if y.dot(s) > 1e-10:
            self.pairs = [*self.pairs, (s, y)][-self.history :]
            self.scale = (y.dot(s) / y.dot(y)).item()


@dataclass
class Descent:
    """One run of :func:`descend`: the loss after each accepted step against the evaluations spent."""

    curve: list[tuple[float, float]] = field(default_factory=list)  # (evaluations spent, loss)
    steps: list[tuple[float, torch.Tensor]] = field(default_factory=list)  # (step length t, direction d)
    evaluations: float = 0.0


class BudgetSpent(Exception):
    """A Hessian-vector product was asked for when the budget had no room for it."""


def _flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _assign(params: Sequence[torch.Tensor], x: torch.Tensor) -> None:
    with torch.no_grad():
        offset = 0
        for p in params:
            p.copy_(x[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def flat_hvp(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor]) -> Hvp:
    """``v -> H v`` for flat vectors ``v``, ``H`` the Hessian of ``loss_fn()`` at the current ``params``: the
    gradient's graph is built once (one forward and backward pass) and reused by every product."""
    params = list(params)
    with torch.enable_grad():
        graph = _flat(torch.autograd.grad(loss_fn(), params, create_graph=True))

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return _flat(torch.autograd.grad(graph.dot(v), params, retain_graph=True)).detach()

    return hvp


def descend(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    direction: SteepestDescent | NewtonCG | LBFGS,
    *,
    budget: float,
    hv_cost: float = 2.0,
) -> Descent:
    """Minimise ``loss_fn()`` over ``params`` (changed in place) until ``budget`` gradient evaluations are spent.

    Each iteration asks ``direction(g, hvp)`` for a direction and a trial step, then runs torch's strong-Wolfe
    line search along it (``c1 = 1e-4``, ``c2 = 0.9``, never past the budget). A gradient evaluation (one
    forward and backward pass) costs 1; for a direction that uses the Hessian, each iteration first builds the
    gradient's graph (1) and each Hessian-vector product costs ``hv_cost``. Stops early when the direction is no
    longer a descent direction (``g^T d > -1e-9``: a stationary point to the search's precision).
    """
    params = list(params)
    if budget < 1:
        raise ValueError(f"budget: expected at least one gradient evaluation, got {budget!r}")
    run = Descent()

    def evaluate(x: torch.Tensor) -> tuple[float, torch.Tensor]:
        _assign(params, x)
        with torch.enable_grad():
            loss = loss_fn()
            grads = torch.autograd.grad(loss, params)
        run.evaluations += 1
        return loss.item(), _flat(grads).detach()

    x = _flat(params).detach().clone()
    f, g = evaluate(x)
    run.curve.append((run.evaluations, f))
    while run.evaluations + 1 <= budget:
        hvp = None
        if direction.uses_hessian:
            _assign(params, x)
            product = flat_hvp(loss_fn, params)
            run.evaluations += 1

            def hvp(v: torch.Tensor, product: Hvp = product) -> torch.Tensor:
                if run.evaluations + hv_cost + 1 > budget:  # leave room for one line-search evaluation
                    raise BudgetSpent
                run.evaluations += hv_cost
                return product(v)

        try:
            d, t = direction(g, hvp)
        except BudgetSpent:
            break
        gtd = g.dot(d)
        if gtd > -1e-9 or run.evaluations + 1 > budget:
            break
        max_ls = int(budget - run.evaluations) - 1  # the search evaluates at most max_ls + 1 times
        f_next, g_next, t, _ = _strong_wolfe(lambda x0, s, u: evaluate(x0 + s * u), x, t, d, f, g, gtd,
                                             max_ls=max_ls)
        t = float(t)
        direction.observe(t, d, g, g_next)
        x = x + t * d
        f, g = float(f_next), g_next
        run.curve.append((run.evaluations, f))
        run.steps.append((t, d))
    _assign(params, x)
    return run


def hessian_extreme_eigenvalues(
    loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], *, iterations: int = 40, seed: int = 0
) -> tuple[float, float]:
    """``(lambda_min, lambda_max)`` of the Hessian of ``loss_fn()`` by Lanczos iteration (full
    re-orthogonalisation, float64) on ``iterations`` Hessian-vector products: the extreme Ritz values.

    A negative ``lambda_min`` means the point is not a minimum (a saddle, or a slope with negative curvature).
    """
    params = list(params)
    n = sum(p.numel() for p in params)
    if not 1 <= iterations:
        raise ValueError(f"iterations: expected a positive int, got {iterations!r}")
    iterations = min(iterations, n)
    product = flat_hvp(loss_fn, params)
    dtype, device = params[0].dtype, params[0].device

    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, generator=g, dtype=torch.float64)  # a CPU draw: the same start on any device
    basis = [q / q.norm()]
    alphas, betas = [], []
    for i in range(iterations):
        w = product(basis[i].to(device, dtype)).double().cpu()
        alphas.append(w.dot(basis[i]))
        stacked = torch.stack(basis)  # (i + 1, n)
        w = w - stacked.T @ (stacked @ w)  # full re-orthogonalisation
        w = w - stacked.T @ (stacked @ w)
        beta = w.norm()
        if i == iterations - 1 or beta < 1e-10:
            break
        betas.append(beta)
        basis.append(w / beta)
    k = len(alphas)
    tridiagonal = torch.diag(torch.stack(alphas))
    if k > 1:
        off = torch.stack(betas[: k - 1])
        tridiagonal = tridiagonal + torch.diag(off, 1) + torch.diag(off, -1)
    ritz = torch.linalg.eigvalsh(tridiagonal)
    return ritz[0].item(), ritz[-1].item()


def curvature_along(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], d: torch.Tensor) -> float:
    """``d^T H d / |d|^2``: the Hessian's curvature along the flat direction ``d`` at the current ``params``."""
    hd = flat_hvp(loss_fn, params)(d)
    return (d.dot(hd) / d.dot(d)).item()
