"""Geometry shared by convolution and pooling: padding specs and window checks."""

import jax.lax as lax


def padding_pairs(where: str, padding, ndim: int):
    """Normalize ``padding`` to ``"VALID"``, ``"SAME"`` or ``ndim`` (low, high) pairs.

    Accepts ``"valid"``, ``"same"`` (any case), an int p (p on both sides of every
    spatial axis), ``ndim`` ints, or ``ndim`` (low, high) pairs; all non-negative.
    """
    if isinstance(padding, str):
        if padding.upper() not in ("VALID", "SAME"):
            raise ValueError(
                f"{where}: `padding` must be 'valid', 'same' or non-negative ints, got {padding!r}."
            )
        return padding.upper()
    if isinstance(padding, int):
        padding = (padding,) * ndim
    try:
        pairs = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
    except TypeError:
        pairs = ()
    if len(pairs) != ndim or not all(
        len(pair) == 2 and all(isinstance(v, int) and v >= 0 for v in pair) for pair in pairs
    ):
        raise ValueError(
            f"{where}: `padding` must be 'valid', 'same', a non-negative int, {ndim} such "
            f"ints or {ndim} (low, high) pairs, got {padding!r}."
        )
    return pairs


def explicit_pads(spatial, window, strides, dilation, padding) -> tuple:
    """(low, high) pads per spatial axis for a padding spec from ``padding_pairs``."""
    if isinstance(padding, str):
        dilated = [d * (k - 1) + 1 for k, d in zip(window, dilation)]
        return tuple(lax.padtype_to_pads(spatial, dilated, strides, padding))
    return padding


def check_window(where, spatial, window, dilation, pads) -> None:
    """Raise if the (dilated) window is larger than the padded input on some axis."""
    for axis, (size, k, d, (lo, hi)) in enumerate(zip(spatial, window, dilation, pads)):
        extent = d * (k - 1) + 1
        if extent > size + lo + hi:
            raise ValueError(
                f"{where}: window of extent {extent} (size {k}, dilation {d}) is larger than "
                f"spatial axis {axis} of `x` after padding: {size} + {lo} + {hi} = "
                f"{size + lo + hi}; use a smaller window or more padding."
            )
