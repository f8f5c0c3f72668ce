"""Thin-plate spline interpolation of scattered 2-D displacements, with a fixed set of nodes.

The system is factored once per node set, so that many value sets (one per Action Unit, or one per frame
of head motion) cost one small matrix product each.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def _kernel(d2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r, written in terms of r^2 (0 at r = 0)."""
    # r^2 log r^2 -> 0 as r -> 0; a tiny floor avoids log(0) without changing any value that matters
    return 0.5 * d2 * np.log(np.maximum(d2, 1e-300))


class ThinPlate:
    """A thin-plate spline over fixed nodes.

    Args:
        nodes: (M, 2) node positions in pixels.
        scale: a length in pixels (the face size) used to condition the system.
        smoothing: Tikhonov regularisation on the kernel diagonal (dimensionless, after scaling).
    """

    def __init__(self, nodes: np.ndarray, *, scale: float, smoothing: float = 1e-6) -> None:
        x = np.asarray(nodes, np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or len(x) < 3:
            raise ValueError(
                f"nodes must be a np.ndarray with shape (_, 2) and at least 3 rows, but got {x.shape}"
            )
        self.scale = float(scale)
        self.origin = x.mean(0)
        self.nodes = (x - self.origin) / self.scale
        m = len(x)
        a = np.zeros((m + 3, m + 3))
        a[:m, :m] = _kernel(
            ((self.nodes[:, None, :] - self.nodes[None, :, :]) ** 2).sum(-1)
        ) + smoothing * np.eye(m)
        p = np.hstack([np.ones((m, 1)), self.nodes])
        a[:m, m:] = p
        a[m:, :m] = p.T
        self._lu = scipy.linalg.lu_factor(a)
        self.n_nodes = m

    def coefficients(self, values: np.ndarray) -> np.ndarray:
        """Spline coefficients for values at the nodes.

        Args:
            values: (M, k) values at the nodes.

        Returns:
            (M + 3, k) coefficients for :meth:`evaluate` or :meth:`design` products.
        """
        v = np.asarray(values, np.float64)
        rhs = np.zeros((self.n_nodes + 3, v.shape[1]))
        rhs[: self.n_nodes] = v
        return scipy.linalg.lu_solve(self._lu, rhs)

    def solver(self) -> np.ndarray:
        """(M + 3, M) matrix that maps node values to coefficients (the inverse system, value part)."""
        rhs = np.zeros((self.n_nodes + 3, self.n_nodes))
        rhs[: self.n_nodes] = np.eye(self.n_nodes)
        return scipy.linalg.lu_solve(self._lu, rhs)

    def design(self, points: np.ndarray) -> np.ndarray:
        """(N, M + 3) matrix whose product with coefficients gives the spline at ``points`` (N, 2) pixels."""
        q = (np.asarray(points, np.float64) - self.origin) / self.scale
        d2 = (q * q).sum(1)[:, None] + (self.nodes * self.nodes).sum(1)[None, :] - 2.0 * (q @ self.nodes.T)
        np.maximum(d2, 0.0, out=d2)
        out = np.empty((len(q), self.n_nodes + 3))
        out[:, : self.n_nodes] = _kernel(d2)
        out[:, self.n_nodes] = 1.0
        out[:, self.n_nodes + 1 :] = q
        return out

    def evaluate(self, points: np.ndarray, coef: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
        """The spline at ``points`` (N, 2) pixels for coefficients (M + 3, k): (N, k) float32.

        Computed in float32 (the values are pixel displacements: 1e-4 px is plenty).
        """
        nodes = self.nodes.astype(np.float32)
        nn = (nodes * nodes).sum(1)[None, :]
        w = coef[: self.n_nodes].astype(np.float32)
        poly = coef[self.n_nodes :].astype(np.float32)
        out = np.empty((len(points), coef.shape[1]), np.float32)
        for i in range(0, len(points), chunk):
            q = ((np.asarray(points[i : i + chunk], np.float64) - self.origin) / self.scale).astype(
                np.float32
            )
            d2 = (q * q).sum(1)[:, None] + nn - 2.0 * (q @ nodes.T)
            np.maximum(d2, np.float32(1e-30), out=d2)
            k = np.log(d2)
            k *= d2
            k *= np.float32(0.5)
            out[i : i + chunk] = k @ w + poly[0] + q @ poly[1:]
        return out
