"""Restarted GMRES on flat tensors, for the matrix-free Newton solves of implicit methods."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

MatVec = Callable[[Tensor], Tensor]


def gmres(
    matvec: MatVec, b: Tensor, *, rtol: float, max_iter: int, max_restarts: int = 20
) -> tuple[Tensor, float]:
    """Solve ``A x = b`` for ``A`` given by ``matvec``; returns ``x`` and ``|b - Ax| / |b|``.

    Arnoldi with modified Gram–Schmidt, ``max_iter`` vectors per cycle, restarted from the
    current iterate up to ``max_restarts`` times; stops once the relative residual is at most
    ``rtol``. The small least-squares problems are solved in float64.
    """
    b_norm = float(torch.linalg.vector_norm(b))
    x = torch.zeros_like(b)
    if b_norm == 0.0:
        return x, 0.0
    relative = 1.0
    for cycle in range(max_restarts + 1):
        r = b - matvec(x) if cycle else b
        beta = float(torch.linalg.vector_norm(r))
        relative = beta / b_norm
        if relative <= rtol:
            break
        basis = [r / beta]
        hessenberg = torch.zeros(max_iter + 1, max_iter, dtype=torch.float64)
        rhs = torch.zeros(max_iter + 1, dtype=torch.float64)
        rhs[0] = beta
        y = rhs[:1]
        for k in range(max_iter):
            w = matvec(basis[k])
            for j in range(k + 1):
                hessenberg[j, k] = float(torch.dot(w, basis[j]))
                w = w - hessenberg[j, k].item() * basis[j]
            hessenberg[k + 1, k] = float(torch.linalg.vector_norm(w))
            h_small = hessenberg[: k + 2, : k + 1]
            y = torch.linalg.lstsq(h_small, rhs[: k + 2, None]).solution[:, 0]
            relative = float(torch.linalg.vector_norm(rhs[: k + 2] - h_small @ y)) / b_norm
            if relative <= rtol or hessenberg[k + 1, k] <= 1e-14 * beta:
                break
            basis.append(w / hessenberg[k + 1, k].item())
        weights = y.to(dtype=b.dtype, device=b.device)
        x = x + torch.stack(basis[: len(weights)], 1) @ weights
        if relative <= rtol:
            break
    return x, relative
