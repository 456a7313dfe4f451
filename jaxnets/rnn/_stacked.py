"""Deep RNNs: layers of recurrent (or bidirectional) RNNs, each reading the one below,
layer by layer over whole sequences (``stacked_rnn``) or all layers per step
(``stacked_cell``)."""

import jax

from jaxnets.core import Cell, Layer, cell_output_size, output_shape
from jaxnets.layers import dropout as dropout_layer

from ._layers import MERGES, _check_cell, _sequence_shape, recurrent
from ._layers import bidirectional as bidirectional_layer


def stacked_rnn(
    cell: Cell,
    num_layers: int,
    *,
    bidirectional: bool = False,
    merge: str = "concat",
    drop_rate: float = 0.0,
    residual: bool = False,
    return_sequences: bool = True,
    return_carry: bool = False,
    unroll=1,
    remat=None,
    impl: str = "auto",
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    zoneout: float = 0.0,
    learn_initial_state: bool = False,
    name: str = "stacked_rnn",
) -> Layer:
    """``num_layers`` RNN layers of ``cell``, as ``torch.nn.RNN(num_layers=...)``.

    Layer i reads the output sequence of layer i - 1; with ``bidirectional`` every
    layer runs both directions and the next one reads both, merged by ``merge``.
    Between layers, ``drop_rate`` applies dropout (in training) to the input of
    layers 1.., and ``residual`` adds each of those layers' input to its output,
    x_i = x_{i-1} + layer_i(x_{i-1}) (their shapes match: every layer outputs the
    same size). One layer serves every level, each with its own params. ``unroll``,
    ``remat`` and ``impl`` are passed to ``jaxnets.rnn.unroll``. ``dropout``,
    ``recurrent_dropout``, ``zoneout`` and ``learn_initial_state`` apply to every layer,
    as in ``recurrent`` (each layer and direction with its own masks).

    ``apply(params, state, x, *, key=None, train=False, lengths=None, carry=None)``
    maps x (B, T, D) to the top layer's ys (B, T, O). With ``return_sequences=False``
    the top layer returns one vector per sequence (B, O): its output at each
    sequence's last valid step or, when bidirectional, the forward direction's there
    merged with the backward direction's at step 0 (each direction's final output).
    ``return_carry=True`` returns
    ``(ys, carries)``: one final carry per layer, a (forward, backward) pair when
    bidirectional; ``carry`` takes the same structure. For one vector per sequence,
    use ``jaxnets.rnn.readout(ys, lengths)`` or the final carries.

    Returns:
      A Layer with params ``{"layer_0": ..., "layer_1": ...}``, each a cell's params
      or, when bidirectional, ``{"forward": ..., "backward": ...}``: the layout
      ``jaxnets.interop.from_torch`` produces.
    """
    _check_cell(name, cell, impl)
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"{name}: `num_layers` must be an int >= 1, got {num_layers!r}.")
    if merge not in MERGES:
        raise ValueError(f"{name}: `merge` must be one of {sorted(MERGES)}, got {merge!r}.")
    if residual and not return_sequences:
        raise ValueError(
            f"{name}: `residual` adds each layer's input sequence to its output, so it needs "
            "return_sequences=True; got return_sequences=False."
        )
    between = dropout_layer(drop_rate, name=f"{name}.dropout")
    regularization = {
        "dropout": dropout, "recurrent_dropout": recurrent_dropout, "zoneout": zoneout,
        "learn_initial_state": learn_initial_state,
    }  # fmt: skip

    def make_layer(sequences):
        if bidirectional:
            return bidirectional_layer(
                cell, cell, merge=merge, return_sequences=sequences, return_carry=True,
                unroll=unroll, remat=remat, impl=impl, **regularization,
            )  # fmt: skip
        return recurrent(
            cell, return_sequences=sequences, return_carry=True, unroll=unroll, remat=remat,
            impl=impl, **regularization,
        )  # fmt: skip

    layers = [make_layer(True)] * (num_layers - 1) + [make_layer(return_sequences)]
    names = [f"layer_{i}" for i in range(num_layers)]

    def init(key, input_shape):
        shape = _sequence_shape(name, input_shape)
        params = {}
        for layer_name, k in zip(names, jax.random.split(key, num_layers)):
            (shape, _), params[layer_name], _ = layers[0].init(k, shape)
        return output_shape(apply, params, {}, input_shape), params, {}

    def apply(params, state, x, *, key=None, train=False, lengths=None, carry=None):
        keys = [None] * num_layers if key is None else list(jax.random.split(key, num_layers))
        layer_keys = [None if k is None else jax.random.fold_in(k, 1) for k in keys]
        carries = []
        for i, (layer_name, layer) in enumerate(zip(names, layers)):
            inputs = x
            if i > 0:
                inputs, _ = between.apply({}, {}, x, key=keys[i], train=train)
            (ys, final), _ = layer.apply(
                params[layer_name], {}, inputs, lengths=lengths, key=layer_keys[i], train=train,
                carry=None if carry is None else carry[i],
            )  # fmt: skip
            x = x + ys if residual and i > 0 else ys
            carries.append(final)
        return ((x, tuple(carries)) if return_carry else x), state

    return Layer(init, apply, name)


def stacked_cell(cell: Cell, num_layers: int, *, name: str = "stacked_cell") -> Cell:
    """``num_layers`` of ``cell`` as one Cell: each step runs layer 0 on x_t, layer 1 on
    layer 0's output, and so on; y_t is the top layer's output.

    The same equations as ``stacked_rnn(cell, num_layers)`` with the same params
    (``{"layer_0": ..., "layer_1": ...}``) and carries (a tuple, one per layer), but
    all layers advance together one step at a time: what a decoder needs when its
    next input depends on its last output (sampling, input feeding). Over a whole
    known sequence ``stacked_rnn`` is faster (it projects each layer's inputs for all
    steps in one matmul). Layer 0's input projection hook is kept, so ``unroll``
    still hoists it.

    Returns:
      A Cell; ``init(key, input_size)``, ``initial_carry(params, batch_shape)`` (a tuple
      of the layers' carries), ``step(params, carry, x_t) -> (carry, y_t)``.
    """
    _check_cell(name, cell, "auto")
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
        raise ValueError(f"{name}: `num_layers` must be an int >= 1, got {num_layers!r}.")
    names = [f"layer_{i}" for i in range(num_layers)]

    def init(key, input_size):
        params = {}
        for layer_name, k in zip(names, jax.random.split(key, num_layers)):
            params[layer_name] = cell.init(k, input_size)
            input_size = cell_output_size(cell, params[layer_name], input_size)
        return params

    def initial_carry(params, batch_shape):
        return tuple(cell.initial_carry(params[n], batch_shape) for n in names)

    def upper(params, carry, y, new):
        for layer_name, c in zip(names[1:], carry[1:]):
            c, y = cell.step(params[layer_name], c, y)
            new.append(c)
        return tuple(new), y

    def step(params, carry, x_t):
        c, y = cell.step(params[names[0]], carry[0], x_t)
        return upper(params, carry, y, [c])

    if cell.project is None:
        return Cell(init, initial_carry, step)

    def project(params, x):
        return cell.project(params[names[0]], x)

    def recur(params, carry, z_t):
        c, y = cell.recur(params[names[0]], carry[0], z_t)
        return upper(params, carry, y, [c])

    return Cell(init, initial_carry, step, project, recur)
