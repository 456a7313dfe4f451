"""An optax optimizer from a name and options: clipping, decoupled weight decay, the base."""

import optax

from ._regularization import weights_mask

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


def optimizer(
    name: str = "adam",
    learning_rate: float | optax.Schedule = 1e-3,
    *,
    momentum: float = 0.9,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    """Chain optax's own transforms, in this order:

      clip_by_value -> clip_by_global_norm -> scale_by_{adam, rms, rss, trace}
      -> add_decayed_weights (weights only, see ``weights_mask``) -> scale by -lr

    which is ``optax.adamw`` for ``name="adam", weight_decay > 0``: the decay is
    decoupled from the adaptive scaling (Loshchilov & Hutter, 2019).

    Args:
      name: "sgd", "momentum" (heavy ball, ``momentum``), "adagrad", "rmsprop", "adam".
      learning_rate: a float or an optax schedule (a function of the step).
      clip_norm: rescale the gradient to this global norm when it is larger.
      clip_value: clip every gradient entry to [-clip_value, clip_value].
      weight_decay: decoupled weight decay coefficient.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: `name` must be one of {OPTIMIZERS}, got {name!r}.")
    for arg, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None and not value > 0:
            raise ValueError(f"optimizer: `{arg}` must be positive or None, got {value!r}.")
    if not callable(learning_rate) and not learning_rate > 0:
        raise ValueError(f"optimizer: `learning_rate` must be positive, got {learning_rate!r}.")
    chain = []
    if clip_value is not None:
        chain.append(optax.clip(clip_value))
    if clip_norm is not None:
        chain.append(optax.clip_by_global_norm(clip_norm))
    chain.append(
        {
            "sgd": optax.identity(),
            "momentum": optax.trace(decay=momentum),
            "adagrad": optax.scale_by_rss(),
            "rmsprop": optax.scale_by_rms(),
            "adam": optax.scale_by_adam(),
        }[name]
    )
    if weight_decay:
        chain.append(optax.add_decayed_weights(weight_decay, mask=weights_mask))
    chain.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*chain)
