"""A linear recurrence h_t = a_t * h_{t-1} + b_t as a parallel prefix scan."""

import jax.numpy as jnp
from jax import lax


def _combine(earlier, later):
    """Two updates in a row, h -> a1 h + b1 then -> a2 h + b2, as one: (a1 a2, a2 b1 + b2)."""
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2


def _log_combine(earlier, later):
    """``_combine`` on (log a, log b): a > 0 and b > 0, summed in log space."""
    la1, lb1 = earlier
    la2, lb2 = later
    return la1 + la2, jnp.logaddexp(la2 + lb1, lb2)


def associative_scan(params, carry, xs, *, mask, reverse, unroll, options):
    """The cell's recurrence (``jaxnets.cells.linear_recurrence``) over time-major xs
    (T, *batch, D) with ``lax.associative_scan``: O(log T) sequential depth instead of
    T, for O(T log T) work.

    h_t = A_t * h_0 + H_t, where A_t is the product of a_1..a_t and H_t the recurrence
    started from zero. A cell with ``log_space`` scans (log a, log b) with ``logaddexp``
    (Feng et al. 2024): H_t = exp(log H_t) never forms 1 / A_t, so gates near 0 or 1
    over long sequences neither under- nor overflow, and any h_0 (of either sign) keeps
    its exact gradient A_t. ``mask``, when given, is a valid prefix of each sequence (as
    ``unroll`` passes it): the padded suffix cannot reach the valid steps, so the scan
    runs over it unmasked, and the final carry is gathered at each sequence's last
    valid step. ``unroll`` is ignored: there is no sequential loop to unroll.

    Measured: see ``python benchmarks/scan_vs_unrolled.py --unrolls 1,associative``.
    """
    recurrence = options["recurrence"]
    coefficients = recurrence.coefficients(params, xs)
    if recurrence.log_space:
        log_a, log_b = coefficients
        _, log_h = lax.associative_scan(_log_combine, (log_a, log_b), reverse=reverse)
        decay = jnp.exp(lax.cumsum(log_a, axis=0, reverse=reverse))
        hs = decay * carry[None] + jnp.exp(log_h)
    else:
        a_t, h_t = lax.associative_scan(_combine, coefficients, reverse=reverse)
        hs = a_t * carry[None] + h_t
    ys = recurrence.output(params, hs, xs)
    if mask is None:
        return (hs[0] if reverse else hs[-1]), ys
    if reverse:
        raise ValueError("associative_scan: a mask must come with reverse=False.")
    counts = mask.sum(axis=0)  # each sequence's valid steps in this block
    last = jnp.take_along_axis(hs, jnp.maximum(counts - 1, 0)[None, ..., None], axis=0)[0]
    final = jnp.where((counts > 0)[..., None], last, carry)
    ys = jnp.where(mask[..., None], ys, jnp.zeros((), ys.dtype))
    return final, ys


def associative_supports(options):
    if "recurrence" not in options:
        return "the cell's tag has no `recurrence` (build it with linear_recurrence)"
    return None
