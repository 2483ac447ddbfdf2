"""Matrix facts used across the notebooks: the spectral radius of a recurrent weight matrix.

The same number answers two questions of the lecture: in a plain RNN, whether gradients through
``W_hh`` tend to vanish or explode (notebook 04), and in an echo-state network, how the reservoir
``W`` is scaled (notebook 05, :class:`lecture_utils.models.esn.EchoStateNetwork`). It is a property
of the matrix alone, so it lives here, beside neither model.
"""

from __future__ import annotations

import torch

from lecture_utils.checks import expect_tensor


def spectral_radius(weights: torch.Tensor) -> float:
    """The largest absolute eigenvalue of a square (dense or sparse) matrix, from all its eigenvalues.

    Computed in float64 from every eigenvalue (``torch.linalg.eigvals``), not estimated by power
    iteration or ARPACK; the matrix may be a trainable parameter (it is detached first).
    """
    dense = weights.to_dense() if weights.layout != torch.strided else weights
    expect_tensor(dense, "weights", (None, None), "(units, units)")
    if dense.shape[0] != dense.shape[1]:
        raise ValueError(f"weights: expected a square matrix (units, units), got {tuple(dense.shape)}")
    return float(torch.linalg.eigvals(dense.detach().double()).abs().max())
