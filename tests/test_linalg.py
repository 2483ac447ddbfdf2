"""The spectral radius shared by notebooks 04 (a plain RNN's W_hh) and 05 (the reservoir)."""

import warnings

import pytest
import torch

from lecture_utils.linalg import spectral_radius


def test_complex_eigenvalues_count_by_their_modulus():
    rotation = torch.tensor([[0.0, -2.0], [2.0, 0.0]])  # eigenvalues +-2i: real parts 0, moduli 2
    assert spectral_radius(rotation) == pytest.approx(2.0)
    assert spectral_radius(torch.diag(torch.tensor([0.5, -3.0]))) == pytest.approx(3.0)  # |-3|, not max = 0.5


def test_a_trainable_or_sparse_matrix_gives_the_same_radius_without_warnings():
    weights = torch.nn.Parameter(torch.tensor([[0.3, 1.0], [0.0, -0.7]]))  # triangular: eigenvalues 0.3, -0.7
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert spectral_radius(weights) == pytest.approx(0.7)
    sparse = weights.detach().to_sparse()  # the ESN keeps a large W in a sparse layout
    assert spectral_radius(sparse) == pytest.approx(0.7)


def test_a_non_square_matrix_is_refused():
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.ones(2, 3))
