"""A guaranteed upper bound on the top eigenvalue of a Gram matrix, proved by a Cholesky
factorisation in float64 with every rounding error accounted for.

``M`` (symmetric positive semidefinite, ``d x d``) is the Gram ``A^T A`` or ``A A^T`` of a
layer's linear map ``A`` whose entries are float32 weights (exact in float64), and each
entry of ``M`` was computed as a sum of at most ``L`` products of them. Then ``||A||_2^2 =
lambda_max(M)``. :func:`certified_top_eigenvalue` takes a Lanczos estimate of
``lambda_max`` (``scipy``'s ``eigsh``; it only picks the candidate, nothing rests on its
accuracy), sets ``mu`` slightly above it and runs a float64 Cholesky factorisation of
``mu I - M_hat``. When that factorisation runs to completion, ``lambda_max(M) <= mu + e``
with ``e = e1 + e2 + e3`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
ed., Thm 3.5 and Thm 10.3; ``u = 2^-53``, ``gamma_n = n u / (1 - n u)``):

* ``e1 = gamma_L tr(M_hat)``: ``|M_hat - M| <= gamma_L |A|^T |A|`` entrywise, whatever the
  order of the sums, and ``||(|A|^T |A|)||_2 <= ||A||_F^2 = tr(M)``;
* ``e2 = u (mu + max_i M_hat_ii)``: forming ``X = mu I - M_hat`` rounds its diagonal only;
* ``e3 = gamma_{d+1} tr(X) / (1 - gamma_{d+1})``: a completed factorisation gives
  ``R^T R = X + dX`` with ``|dX| <= gamma_{d+1} |R^T| |R|``, so ``||dX||_2 <= gamma_{d+1}
  ||R||_F^2 <= e3``; ``R^T R`` is positive semidefinite, hence ``X >= -e3 I``.

Assumptions: IEEE double arithmetic, conventional (non-Strassen) BLAS and LAPACK (the
factorisation is LAPACK's, dense or banded), no underflow or overflow (weights are
O(1e-4 .. 1e2)). ``e`` is about ``d^2 u mu``: 2e-9 relative at d = 4096, so the bound
sits within ~1e-9 of the exact value. The final sum and square root are rounded up by a
factor 1 + 1e-12.

The Gram is held dense (``d x d``) or in LAPACK upper band storage when it is banded
(a convolution on a large map: pixels interact only within the kernel's reach), which
cuts the Cholesky's cost from ``d^3 / 3`` to ``d (bw + 1)^2`` flops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

U = 2.0**-53
STEPS = (1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0)  # mu = estimate * (1 + step)


def gamma(n: int) -> float:
    return n * U / (1 - n * U)


@dataclass
class Gram:
    """A symmetric PSD matrix, dense (``bw is None``) or in upper band storage
    (``matrix[bw + i - j, j] = M[i, j]`` for ``i <= j <= i + bw``); ``products``: the most
    products summed into one entry (for ``e1``)."""

    matrix: np.ndarray
    products: int
    bw: int = None

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def diagonal(self) -> np.ndarray:
        return np.diag(self.matrix) if self.bw is None else self.matrix[self.bw]

    def to_dense(self) -> "Gram":
        """The same matrix, dense (when the band is not much narrower than the matrix)."""
        if self.bw is None:
            return self
        d, bw = self.dim, self.bw
        m = np.zeros((d, d))
        for r in range(bw + 1):
            off = bw - r
            idx = np.arange(off, d)
            m[idx - off, idx] = self.matrix[r, off:]
        return Gram(np.triu(m) + np.triu(m, 1).T, self.products)

    def operator(self):
        """The matrix as something ``eigsh`` can multiply by (a scipy sparse matrix when banded)."""
        if self.bw is None:
            return self.matrix
        d, bw = self.dim, self.bw
        upper = [self.matrix[bw - k, k:] for k in range(1, bw + 1)]
        diagonals = [u for u in reversed(upper)] + [self.matrix[bw]] + upper
        return scipy.sparse.diags(diagonals, list(range(-bw, bw + 1)), shape=(d, d), format="csr")

    def shifted_is_definite(self, mu: float) -> bool:
        """Whether a float64 Cholesky factorisation of ``mu I - M`` runs to completion."""
        x = -self.matrix
        if self.bw is None:
            x[np.diag_indices(self.dim)] += mu
            factor = scipy.linalg.cholesky
            kwargs = dict(lower=False, overwrite_a=True, check_finite=False)
        else:
            x[self.bw] += mu
            factor = scipy.linalg.cholesky_banded
            kwargs = dict(lower=False, overwrite_ab=True, check_finite=False)
        try:
            factor(x, **kwargs)
        except np.linalg.LinAlgError:
            return False
        return True


def top_eigenpair(gram: Gram, v0=None) -> Tuple[float, np.ndarray]:
    """Lanczos estimate of the top eigenpair (a full eigh when small), from ``v0`` (a guess
    of the vector: a warm start) or a fixed random start."""
    d = gram.dim
    if d <= 256:
        vals, vecs = np.linalg.eigh(gram.to_dense().matrix)
        return float(vals[-1]), vecs[:, -1]
    v0 = np.random.default_rng(0).standard_normal(d) if v0 is None else np.asarray(v0, dtype=float).ravel()
    vals, vecs = scipy.sparse.linalg.eigsh(gram.operator(), k=1, which="LA", v0=v0, tol=1e-11, maxiter=20 * d)
    return float(vals[0]), vecs[:, 0]


def certified_top_eigenvalue(gram: Gram, cap: float = math.inf, v0=None) -> Tuple[float, float, np.ndarray]:
    """``(bound, estimate, vector)``: a guaranteed upper bound on the top eigenvalue of the
    exact Gram that ``gram`` holds up to rounding (module docstring), the Lanczos estimate
    and its eigenvector (``v0``: a guess of it for Lanczos). ``bound`` is inf when no
    ``mu <= cap`` passed the test."""
    if gram.bw is not None and 3 * (gram.bw + 1) > 2 * gram.dim:
        gram = gram.to_dense()  # a wide band: the dense factorisation is faster
    d = gram.dim
    estimate, vector = top_eigenpair(gram, v0)
    diag = gram.diagonal()
    trace, diag_max = float(diag.sum()), float(diag.max())
    e1 = gamma(gram.products) * trace * (1 + 1e-6)
    for step in STEPS:
        mu = max(estimate, 0.0) * (1 + step) + 4 * e1 + 1e-300
        if mu > cap:
            break
        if not gram.shifted_is_definite(mu):
            continue
        e2 = U * (mu + abs(diag_max))
        e3 = gamma(d + 1) / (1 - gamma(d + 1)) * (d * mu - trace + d * e2) * (1 + 1e-6)
        return (mu + e1 + e2 + e3) * (1 + 1e-12), estimate, vector
    return math.inf, estimate, vector


def certified_matrix_norm(weight, v0=None) -> Tuple[float, float, np.ndarray]:
    """``(bound, estimate, v)``: a guaranteed upper bound on the largest singular value of
    ``weight`` (reshaped to rows x rest), by the certificate above on its smaller Gram, the
    Lanczos value below it (equal to ~1e-9), and a unit top right singular vector (``v0``:
    a guess of it, a warm start)."""
    w = np.asarray(weight.detach().cpu().double().reshape(weight.shape[0], -1).numpy())
    rows = w.shape[0] <= w.shape[1]
    m = w @ w.T if rows else w.T @ w
    if v0 is not None and rows:
        v0 = w @ np.asarray(v0, dtype=float).ravel()
    bound, estimate, vector = certified_top_eigenvalue(Gram(m, products=max(w.shape)), v0=v0)
    v = w.T @ vector if rows else vector  # rows: the Gram's vector is a left one
    v = v / max(np.linalg.norm(v), 1e-300)
    return math.sqrt(bound) * (1 + 1e-12), math.sqrt(max(estimate, 0.0)), v
