"""Recurrent regularization for any cell: variational dropout (Gal & Ghahramani 2016)
and zoneout (Krueger et al. 2016), and a learned initial state."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxnets.core import Cell

from ._unroll import unroll as run


class Regularization(NamedTuple):
    """Rates in [0, 1): ``dropout`` on the inputs and ``recurrent_dropout`` on the fed-back
    state, each with one mask per sequence (the same units dropped at every step), and
    ``zoneout``, the chance that a state unit keeps its previous value at a step."""

    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0


def check_regularization(where: str, **rates) -> Regularization:
    for arg, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(
                f"{where}: `{arg}` must be a float in [0, 1), got {type(value).__name__} {value!r}."
            )
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{where}: `{arg}` must be in [0, 1), got {value!r}.")
    return Regularization(**rates)


def _fed_back(carry):
    """The carry leaves that feed back into the next step's matmuls: a carry's ``h``
    field where it has one (an LSTM's c is not dropped), else every floating leaf."""
    if hasattr(carry, "_fields") and "h" in carry._fields:
        return {"h"}
    return None


def _map_fed_back(fn, carry, *others):
    fields = _fed_back(carry)
    if fields is None:
        return jax.tree.map(
            lambda c, *o: fn(c, *o) if jnp.issubdtype(c.dtype, jnp.floating) else c,
            carry,
            *others,
        )
    return carry._replace(
        **{f: fn(getattr(carry, f), *(getattr(o, f) for o in others)) for f in fields}
    )


def _masks(key, rate, like):
    """Inverted-dropout masks (0 or 1 / (1 - rate)) shaped like each fed-back leaf."""
    leaves = jax.tree.leaves(like)
    keys = iter(jax.random.split(key, len(leaves)))

    def mask(c):
        keep = jax.random.bernoulli(next(keys), 1.0 - rate, c.shape)
        return keep.astype(c.dtype) / (1.0 - rate)

    return _map_fed_back(mask, like)


def regularized_cell(cell: Cell, reg: Regularization, train: bool) -> Cell:
    """``cell`` with the state mask and zoneout of ``reg``; its carry is
    ``(carry, state_masks, key_data)`` (see ``run_regularized``)."""

    def zone(previous, new, key_data):
        if not reg.zoneout:
            return new, key_data
        if not train:  # the expectation of the random update
            return jax.tree.map(
                lambda p, n: (
                    reg.zoneout * p + (1 - reg.zoneout) * n
                    if jnp.issubdtype(n.dtype, jnp.floating)
                    else n
                ),
                previous,
                new,
            ), key_data
        key, sub = jax.random.split(jax.random.wrap_key_data(key_data))
        leaves = jax.tree.leaves(new)
        subs = iter(jax.random.split(sub, len(leaves)))
        zoned = jax.tree.map(
            lambda p, n: (
                jnp.where(jax.random.bernoulli(next(subs), reg.zoneout, n.shape), p, n)
                if jnp.issubdtype(n.dtype, jnp.floating)
                else n
            ),
            previous,
            new,
        )
        return zoned, jax.random.key_data(key)

    def output(new_inner, y):
        # The output is the zoned-out state where the cell outputs that state.
        fields = _fed_back(new_inner)
        state = new_inner.h if fields else new_inner
        if reg.zoneout and isinstance(state, jax.Array) and state.shape == y.shape:
            return state
        return y

    def advance(inner_step, params, carry, x):
        inner, masks, key_data = carry
        fed = inner if masks is None else _map_fed_back(jnp.multiply, inner, masks)
        new_inner, y = inner_step(params, fed, x)
        new_inner, key_data = zone(inner, new_inner, key_data)
        return (new_inner, masks, key_data), output(new_inner, y)

    def step(params, carry, x):
        return advance(cell.step, params, carry, x)

    recur = None
    if cell.recur is not None:

        def recur(params, carry, z):
            return advance(cell.recur, params, carry, z)

    return Cell(cell.init, cell.initial_carry, step, cell.project, recur)


def run_regularized(
    where, cell, params, x, reg: Regularization, *, key, train, carry, lengths, **unroll
):
    """``unroll(cell, ...)`` with ``reg`` applied: in training, one input mask and one
    state mask per sequence and a fresh zoneout draw per step, from ``key``; in
    evaluation no dropout and zoneout's expectation. Returns (final carry, ys)."""
    random = train and any(reg)
    if not random and not reg.zoneout:
        return run(cell, params, x, carry=carry, lengths=lengths, **unroll)
    if random and key is None:
        raise ValueError(
            f"{where}.apply: `key` is required when train=True with dropout, "
            "recurrent_dropout or zoneout, got None."
        )
    k_in, k_state, k_zone = jax.random.split(key, 3) if random else (None,) * 3
    batch_shape = x.shape[:-2]
    if carry is None:
        carry = cell.initial_carry(params, batch_shape)
    masks = None
    if random and reg.dropout:
        keep = jax.random.bernoulli(k_in, 1.0 - reg.dropout, (*batch_shape, 1, x.shape[-1]))
        x = x * keep.astype(x.dtype) / (1.0 - reg.dropout)
    if random and reg.recurrent_dropout:
        masks = _masks(k_state, reg.recurrent_dropout, carry)
    key_data = jax.random.key_data(k_zone) if random and reg.zoneout else None
    wrapped = regularized_cell(cell, reg, random)
    (final, _, _), ys = run(
        wrapped, params, x, carry=(carry, masks, key_data), lengths=lengths, **unroll
    )
    return final, ys
