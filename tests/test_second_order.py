"""Full-batch descent with one line search and three directions (lecture_utils.second_order), notebook 04."""

import pytest
import torch

from lecture_utils.second_order import (
    LBFGS,
    MAX_ITER,
    NEGATIVE_CURVATURE,
    TOLERANCE,
    NewtonCG,
    SteepestDescent,
    curvature_along,
    descend,
    hessian_extreme_eigenvalues,
    newton_cg,
)

A_SPD = torch.tensor([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]], dtype=torch.float64)


def matvec(a):
    calls = []

    def hvp(v):
        calls.append(v)
        return a @ v

    return hvp, calls


def test_newton_cg_solves_a_positive_definite_system():
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    hvp, calls = matvec(A_SPD)
    d, reason = newton_cg(hvp, g, max_iter=10)
    assert reason == TOLERANCE
    # CG stops once the residual is below min(0.5, sqrt|g|)|g|: the first iterate that close to -A^{-1} g
    assert (A_SPD @ d + g).norm() < 0.5 * g.norm()
    assert len(calls) <= 3
    exact, _ = newton_cg(hvp, g * 1e-6, max_iter=10)  # a tiny gradient: a tight tolerance, the exact solution
    assert torch.allclose(exact, torch.linalg.solve(A_SPD, -g * 1e-6), rtol=1e-8, atol=1e-20)


def test_newton_cg_stops_at_negative_curvature():
    g = torch.tensor([1.0, 0.0], dtype=torch.float64)
    hvp, calls = matvec(torch.diag(torch.tensor([-1.0, 2.0], dtype=torch.float64)))
    assert torch.equal(newton_cg(hvp, g, max_iter=5)[0], -g)  # the first direction -g has g^T H g < 0
    assert len(calls) == 1
    # positive curvature along -g, negative along the next conjugate direction: the first CG iterate is returned
    a = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)  # eigenvalues 3 and -1
    g = torch.tensor([1.0, -0.2], dtype=torch.float64) * 0.01
    hvp, calls = matvec(a)
    d, reason = newton_cg(hvp, g, max_iter=5)
    assert reason == NEGATIVE_CURVATURE
    step = (g @ g) / (g @ a @ g)
    assert len(calls) == 2 and torch.allclose(d, -step * g)
    assert g @ d < 0  # a descent direction
    with pytest.raises(ValueError, match="max_iter"):
        newton_cg(hvp, g, max_iter=0)


def wiggly(theta):
    """A smooth non-convex function of six parameters (float64)."""
    torch.manual_seed(0)
    a = torch.randn(6, 6, dtype=torch.float64)
    return ((a @ theta - 1).tanh() ** 2).sum() + 0.1 * (theta**4).sum() + (theta[0] - 2) ** 2


def test_lbfgs_direction_gives_torch_lbfgs_iterates():
    theta = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([theta], max_iter=8, max_eval=1000, history_size=3, line_search_fn="strong_wolfe",
                                  tolerance_grad=0.0, tolerance_change=0.0)

    def closure():
        optimizer.zero_grad()
        loss = wiggly(theta)
        loss.backward()
        return loss

    optimizer.step(closure)  # 8 iterations, each with its line search
    ours = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    run = descend(lambda: wiggly(ours), [ours], LBFGS(history=3), budget=200)
    assert len(run.steps) > 8 and len(run.curve) == len(run.steps) + 1
    after_eight = sum(t * d for t, d in run.steps[:8])  # from theta = 0
    assert torch.allclose(after_eight, theta.detach(), rtol=0, atol=1e-12)
    assert run.curve[8][1] == pytest.approx(wiggly(theta).item(), abs=1e-12)


def test_steepest_descent_moves_along_the_gradient_and_scales_its_trial_step():
    a = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    theta = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    loss_fn = lambda: 0.5 * theta @ a @ theta
    direction = SteepestDescent()
    g = torch.tensor([1.0, 10.0], dtype=torch.float64)
    d, t = direction(g, None)
    assert torch.equal(d, -g) and t == pytest.approx(1 / 11)
    direction.observe(0.2, d, g, g / 2)  # last step: t g^T d = 0.2 * -101
    _, t = direction(g / 2, None)
    assert t == pytest.approx(0.2 * 101 / (101 / 4))
    run = descend(loss_fn, [theta], SteepestDescent(), budget=30)
    start = torch.tensor([1.0, 1.0], dtype=torch.float64)
    first_t, first_d = run.steps[0]
    assert torch.allclose(first_d, -(a @ start))  # the first direction is -g
    assert run.curve[-1][1] < 1e-3 * run.curve[0][1] and run.evaluations <= 30


def test_newton_cg_descent_counts_hessian_products_and_keeps_the_budget():
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    minimum = torch.linalg.solve(a, torch.ones(2, dtype=torch.float64))
    theta = (minimum + torch.tensor([1e-4, -2e-4], dtype=torch.float64)).requires_grad_(True)
    loss_fn = lambda: 0.5 * theta @ a @ theta - theta.sum()  # minimum at a^{-1} 1
    direction = NewtonCG(max_iter=2)
    run = descend(loss_fn, [theta], direction, budget=20, hv_cost=3.0)
    # near the minimum CG's tolerance sqrt(|g|)|g| is tight: it solves exactly (2 products), the unit step lands
    assert torch.allclose(theta.detach(), minimum, atol=1e-12)
    assert run.steps[0][0] == 1.0 and direction.stops[0] == TOLERANCE
    assert run.curve[1][0] == 1 + 1 + 2 * 3.0 + 1  # gradient, graph, two products, one line-search evaluation
    for budget in (1, 5, 9.5, 40):
        theta = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
        cubic = lambda t=theta: (t**3).sum() + (t**2).sum()  # unbounded below: every line search runs long
        assert descend(cubic, [theta], NewtonCG(), budget=budget, hv_cost=3.0).evaluations <= budget
    with pytest.raises(ValueError, match="budget"):
        descend(loss_fn, [theta], NewtonCG(), budget=0)


def test_a_page_solver_plugs_into_newton_cg():
    seen = []

    def solve(hvp, g, max_iter):
        seen.append(max_iter)
        return -g, MAX_ITER

    theta = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    direction = NewtonCG(max_iter=7, solve=solve)
    descend(lambda: (theta**2).sum(), [theta], direction, budget=6)
    assert seen and set(seen) == {7} and direction.stops == [MAX_ITER] * len(seen)


def test_hessian_extreme_eigenvalues_of_an_indefinite_quadratic():
    torch.manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64))
    eigenvalues = torch.linspace(-2.0, 50.0, 30, dtype=torch.float64)
    a = q @ torch.diag(eigenvalues) @ q.T
    theta = torch.randn(30, dtype=torch.float64, requires_grad=True)
    low, high = hessian_extreme_eigenvalues(lambda: 0.5 * theta @ a @ theta, [theta], iterations=30)
    assert low == pytest.approx(-2.0, rel=1e-8) and high == pytest.approx(50.0, rel=1e-8)
    low, high = hessian_extreme_eigenvalues(lambda: 0.5 * theta @ a @ theta, [theta], iterations=12)
    assert -2.0 <= low < -1.5 and 45.0 < high <= 50.0  # a few iterations: the extremes, from inside
    with pytest.raises(ValueError, match="iterations"):
        hessian_extreme_eigenvalues(lambda: theta.sum(), [theta], iterations=0)


def test_curvature_along_a_direction_is_its_rayleigh_quotient():
    a = torch.tensor([[2.0, 0.0], [0.0, -3.0]], dtype=torch.float64)
    theta = torch.tensor([0.3, 0.1], dtype=torch.float64, requires_grad=True)
    loss_fn = lambda: 0.5 * theta @ a @ theta + theta[0] ** 3  # Hessian diag(2 + 6 theta_0, -3)
    d = torch.tensor([1.0, 1.0], dtype=torch.float64)
    assert curvature_along(loss_fn, [theta], d) == pytest.approx((3.8 - 3.0) / 2)
    assert curvature_along(loss_fn, [theta], torch.tensor([0.0, 2.0], dtype=torch.float64)) == pytest.approx(-3.0)
