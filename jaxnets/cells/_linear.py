"""Cells whose state update is linear in the state: h' = a * h + b, with a and b
functions of the input alone. That is what lets the recurrence run as a parallel
prefix scan (``unroll(..., unroll="associative")``)."""

from typing import NamedTuple

import jax.numpy as jnp

from jaxnets.core import Cell, Precision, check_shape, policy_cell, tag_cell


class LinearRecurrence(NamedTuple):
    """The one copy of a linear cell's equations, read by its ``step`` and by the
    parallel kernel (``jaxnets.kernels``: ``associative_scan``).

    ``coefficients(params, x) -> (a, b)`` for inputs x (..., D): the state update
    h' = a * h + b, elementwise; with ``log_space``, ``(log a, log b)`` instead (a > 0,
    b > 0), which the parallel form combines with ``logaddexp`` so that long products
    of gates neither under- nor overflow. ``output(params, h, x) -> y``.
    """

    coefficients: object
    output: object
    log_space: bool = False


def linear_recurrence(
    init,
    initial_carry,
    coefficients,
    output,
    *,
    name: str,
    log_space: bool = False,
    policy: Precision | None = None,
) -> Cell:
    """A Cell for h' = a(x) * h + b(x), y = output(h, x), with a parallel form.

    ``coefficients`` and ``output`` as in ``LinearRecurrence``. The step is
    ``h' = a * h + b`` (a = exp(log a), b = exp(log b) with ``log_space``); its projection
    hook computes a and b for all steps at once. The cell is tagged
    ``"linear_recurrence"`` (``jaxnets.core.tag_cell``), which the kernel
    ``associative_scan`` runs in O(log T) depth with ``unroll="associative"``: bring
    your own linear cell through this function and it gets the parallel form too.
    ``policy`` (``jaxnets.core.precision_policy``): params stored in its ``param_dtype``
    and cast to its compute ``dtype`` by the step and by the parallel kernel alike.
    """
    recurrence = LinearRecurrence(coefficients, output, log_space)

    def project(params, x):
        a, b = coefficients(params, x)
        if log_space:
            a, b = jnp.exp(a), jnp.exp(b)
        return a, b, x

    def recur(params, h, z):
        a, b, x = z
        check_shape(f"{name}.step", "carry", h, b.shape)
        h = a * h + b
        return h, output(params, h, x)

    def step(params, h, x):
        return recur(params, h, project(params, x))

    cell = Cell(init, initial_carry, step, project, recur)
    if policy is not None:
        cell = policy_cell(cell, policy, name=name)
    options = {"cell": name, "recurrence": recurrence}
    return tag_cell(cell, "linear_recurrence", options=options, policy=policy)
