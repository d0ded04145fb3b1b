"""What the models accept from Python: arrays converted to tensors, or refused by name.

Every model of :mod:`odedsl.models` reads its inputs (data batches, times, noise, masks)
through these functions, so one rule holds everywhere:

- tensors of any float dtype, numpy arrays, nested lists and Python numbers are converted to a
  tensor of the model's dtype and device (:func:`reference`); class labels stay integers
  (``long``), and fractions there are refused;
- anything that is not an array of numbers (strings, ragged lists, objects, booleans,
  complex numbers) is a ``ValueError`` naming the argument;
- NaN and ±inf are refused naming the argument, unless the argument may be masked: then
  :func:`check_scored` refuses them only where the mask is True (an observed point) and
  replaces them by 0 elsewhere, so that padding never reaches a computation as NaN;
- shapes are checked by :func:`check_shape`, whose message names the argument, the shape
  expected and the shape got.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

Dim = int | str | None
"""One axis of an expected shape: a fixed size, or a name (``"n"``, ``"B"``) for any size."""


def reference(module: nn.Module) -> Tensor | None:
    """A tensor of ``module``'s dtype and device: its first floating parameter or buffer;
    None when it holds none (then inputs keep their own float dtype, see :func:`as_tensor`)."""
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor
    return None


def as_tensor(
    value: Any, like: Tensor | None, name: str, *, integer: bool = False, masked: bool = False
) -> Tensor:
    """``value`` (a tensor, numpy array, nested list or number) as a tensor of ``like``'s
    dtype and device, or of ``long`` for class labels (``integer``). Without ``like`` (a
    model without parameters) a float tensor keeps its dtype and device and anything else
    takes the default float dtype.

    Refused with a ``ValueError`` naming ``name``: what is not an array of numbers, booleans,
    complex numbers, fractions where labels are expected, and NaN or ±inf, unless ``masked``
    (the caller checks the values against their mask with :func:`check_scored`). Gradients
    flow through a tensor's conversion."""
    if value is None:
        raise ValueError(f"{name} is missing: give an array of numbers")
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be an array of numbers, got {_describe(value)}") from None
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f"{name} must hold real numbers, got {tensor.dtype}")
    if tensor.is_floating_point() and not masked:
        check_finite(tensor, name)
    if integer:
        if tensor.is_floating_point():
            check_finite(tensor, name)
            if bool((tensor != tensor.round()).any()):
                raise ValueError(f"{name} holds class labels: integers, got fractions")
        return tensor.to(device=None if like is None else like.device, dtype=torch.long)
    if like is None:
        return tensor if tensor.is_floating_point() else tensor.to(torch.get_default_dtype())
    return tensor.to(device=like.device, dtype=like.dtype)


def check_finite(tensor: Tensor, name: str) -> Tensor:
    """``tensor``, after refusing NaN or ±inf in it naming ``name``."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        what = "NaN" if bool(torch.isnan(tensor).any()) else "an infinite value"
        raise ValueError(
            f"{name} holds {what}; give finite numbers (series may mask missing points)"
        )
    return tensor


def as_mask(value: Any, shape: Sequence[int] | None, device: Any, name: str) -> Tensor:
    """``value`` as a bool tensor (all True of ``shape`` when ``value`` is None). Booleans
    and the numbers 0 and 1 are accepted; with ``shape`` given, the mask must have it."""
    if value is None:
        if shape is None:
            raise ValueError(f"{name} is missing")
        return torch.ones(tuple(shape), dtype=torch.bool, device=device)
    try:
        mask = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{name} must be an array of booleans (True: observed), got {_describe(value)}"
        ) from None
    if mask.dtype != torch.bool and (mask.is_complex() or bool(((mask != 0) & (mask != 1)).any())):
        raise ValueError(f"{name} must hold booleans or 0/1 (True: observed)")
    mask = mask.to(device=device, dtype=torch.bool)
    if shape is not None and tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(mask.shape)}")
    return mask


def check_scored(tensor: Tensor, mask: Tensor, name: str) -> Tensor:
    """``tensor`` with NaN or ±inf refused where ``mask`` (broadcast against its leading
    axes) is True, naming ``name``, and replaced by 0 where it is False."""
    if not tensor.is_floating_point():
        return tensor
    finite = torch.isfinite(tensor)
    if bool(finite.all()):
        return tensor
    scored = mask.reshape(*mask.shape, *([1] * (tensor.ndim - mask.ndim)))
    if bool((~finite & scored).any()):
        what = "NaN" if bool((torch.isnan(tensor) & scored).any()) else "an infinite value"
        raise ValueError(
            f"{name} holds {what} at an observed point (mask True); mask missing values out"
        )
    return torch.where(finite, tensor, torch.zeros_like(tensor))


def check_shape(tensor: Tensor, expected: Sequence[Dim], name: str) -> Tensor:
    """``tensor``, after checking its shape against ``expected`` (named axes match any
    size); the message names ``name``, the shape expected and the shape got."""
    shape = tuple(tensor.shape)
    fits = len(shape) == len(expected) and all(
        not isinstance(want, int) or want == got for want, got in zip(expected, shape, strict=False)
    )
    if not fits:
        raise ValueError(
            f"{name} must have shape {format_shape(expected)}, got {format_shape(shape)}"
        )
    return tensor


def format_shape(shape: Sequence[Dim]) -> str:
    """``(n, 2)``: a shape with named axes, as messages write it."""
    parts = ["?" if dim is None else str(dim) for dim in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def as_count(value: Any, name: str, low: int = 1) -> int:
    """``value`` as an integer ≥ ``low`` (numpy integers included); refused otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
    return int(value)


def is_count(value: Any) -> bool:
    """Whether ``value`` is an integer (a number of samples), not a bool or an array."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    kind = type(value).__name__
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return f"{kind} of dtype {dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {kind} that is not a rectangular array of numbers"
    return kind
