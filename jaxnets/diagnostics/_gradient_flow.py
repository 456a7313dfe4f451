"""How much of the loss signal reaches each step back in time."""

import jax
import jax.numpy as jnp
import numpy as np

from ._trajectory import float_part, perturbed_run


def gradient_flow(cell, params, xs, loss_fn, *, carry=None):
    """The norm of dL/dh for the state each step t reads, by exact autodiff.

    A zero perturbation e_t is added to the carry as step t reads it (h_{t-1}, the
    state after step t - 1; the initial carry for t = 0), and the loss is
    differentiated with respect to it: dL/de_t = dL/dh_{t-1}, through every path,
    the outputs of steps t.. included. "h" is every float leaf of the carry (both h
    and c for an LSTM, whose memory path is what carries the signal); the norm is
    over the batch and all those units. Entry t is T - t steps from the end.

    Args:
      cell: a Cell.
      params: the cell's params.
      xs: inputs (B, T, D).
      loss_fn: ``loss_fn(ys, final_carry) -> scalar``, with ys (B, T, O).
      carry: the initial carry; zeros by default.

    Returns:
      (T,) float64 NumPy array: entry t is ||dL/dh_{t-1}||.

    Raises:
      ValueError: the loss does not depend on the hidden states at all.
    """
    xs = jnp.asarray(xs)
    if xs.ndim != 3:
        raise ValueError(f"gradient_flow: `xs` must have shape (B, T, D), got {xs.shape}.")
    start = cell.initial_carry(params, xs.shape[:1]) if carry is None else carry
    num_steps = xs.shape[1]
    zeros = [jnp.zeros((num_steps, *leaf.shape), leaf.dtype) for leaf in float_part(start)]

    def loss_of(perturbations):
        final, ys = perturbed_run(cell, params, xs, perturbations, start)
        return loss_fn(ys, final)

    grads = jax.grad(loss_of)(zeros)
    squared = sum(np.square(np.asarray(g, np.float64)).reshape(num_steps, -1).sum(1) for g in grads)
    norms = np.sqrt(squared)
    if not norms.any():
        raise ValueError(
            "gradient_flow: `loss_fn` does not depend on the hidden states: dL/dh_t is zero "
            "at every step; pass a loss of the outputs or the final carry."
        )
    return norms
