"""PyTorch nn.RNN / nn.GRU / nn.LSTM state_dicts to jaxnets params and back."""

import jax
import jax.numpy as jnp
import numpy as np

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _array(value):
    # Tensors become NumPy arrays without importing torch.
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _names(num_layers, bidirectional):
    for layer in range(num_layers):
        for suffix, direction in (("", "forward"), ("_reverse", "backward")):
            if suffix and not bidirectional:
                continue
            yield layer, direction, f"l{layer}{suffix}"


def _check_kind(where, kind, num_layers):
    if kind not in GATES:
        raise ValueError(f"{where}: `kind` must be one of {sorted(GATES)}, got {kind!r}.")
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"{where}: `num_layers` must be an int >= 1, got {num_layers!r}.")


def from_torch(state_dict, kind: str, num_layers: int = 1, bidirectional: bool = False) -> dict:
    """Params for ``jaxnets.rnn.stacked_rnn`` from a torch RNN / GRU / LSTM state_dict.

    ``kind`` is "rnn" (for ``elman`` with the same nonlinearity), "gru" (for
    ``gru(reset_after=True)``) or "lstm" (for ``lstm``, ``proj_size`` included).
    Values may be tensors or arrays; torch itself is not needed. Per layer and
    direction: ``w_x = weight_ih.T``, ``w_h = weight_hh.T``, ``b = bias_ih + bias_hh``
    (for GRU only the r and z parts of ``bias_hh``; its n part is ``b_hn``),
    ``w_p = weight_hr.T``. A module built with ``bias=False`` gives zero biases.

    Returns:
      ``{"layer_0": params, ...}``, each ``{"forward": ..., "backward": ...}`` when
      ``bidirectional``: the params of ``stacked_rnn(cell, num_layers,
      bidirectional=bidirectional)``.
    """
    where = "from_torch"
    _check_kind(where, kind, num_layers)
    state = {key: _array(value) for key, value in dict(state_dict).items()}
    expected, params = set(), {}
    for layer, direction, tag in _names(num_layers, bidirectional):
        keys = {part: f"{part}_{tag}" for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        for part in ("weight_ih", "weight_hh"):
            if keys[part] not in state:
                raise ValueError(
                    f"{where}: `state_dict` has no {keys[part]!r} for kind={kind!r}, "
                    f"num_layers={num_layers}, bidirectional={bidirectional}; it has "
                    f"{sorted(state)}."
                )
        w_ih, w_hh = state[keys["weight_ih"]], state[keys["weight_hh"]]
        hr_key = f"weight_hr_{tag}"
        hidden = state[hr_key].shape[1] if hr_key in state else len(w_hh) // GATES[kind]
        width = GATES[kind] * hidden
        if w_ih.ndim != 2 or w_hh.ndim != 2 or len(w_ih) != width or len(w_hh) != width:
            raise ValueError(
                f"{where}: `state_dict` {keys['weight_ih']!r} {w_ih.shape} and "
                f"{keys['weight_hh']!r} {w_hh.shape} do not fit kind={kind!r}: expected "
                f"{GATES[kind]} x {hidden} = {width} rows in both."
            )
        recurrent_size = state[hr_key].shape[0] if hr_key in state else hidden
        if w_hh.ndim != 2 or w_hh.shape[1] != recurrent_size:
            raise ValueError(
                f"{where}: `state_dict` {keys['weight_hh']!r} has shape {w_hh.shape}; "
                f"expected ({width}, {recurrent_size})."
            )
        zeros = np.zeros((width,), w_ih.dtype)
        present = [keys[part] in state for part in ("bias_ih", "bias_hh")]
        if present[0] != present[1]:
            # A module has both biases or neither (bias=False); one alone is a damaged
            # state_dict, and a zero in place of the other would be a silent wrong answer.
            missing = keys["bias_hh"] if present[0] else keys["bias_ih"]
            raise ValueError(
                f"{where}: `state_dict` has no {missing!r}, though it has "
                f"{keys['bias_ih'] if present[0] else keys['bias_hh']!r}: torch modules "
                "have both biases or, with bias=False, neither."
            )
        for part in ("bias_ih", "bias_hh"):
            if keys[part] in state and state[keys[part]].shape != (width,):
                raise ValueError(
                    f"{where}: `state_dict` {keys[part]!r} has shape "
                    f"{state[keys[part]].shape}; kind={kind!r} with hidden size {hidden} "
                    f"expects ({width},)."
                )
        b_ih, b_hh = state.get(keys["bias_ih"], zeros), state.get(keys["bias_hh"], zeros)
        p = {"w_x": w_ih.T, "w_h": w_hh.T}
        if kind == "gru":
            p["b"] = b_ih + np.concatenate([b_hh[: 2 * hidden], zeros[:hidden]])
            p["b_hn"] = b_hh[2 * hidden :]
        else:
            p["b"] = b_ih + b_hh
        if hr_key in state:
            if kind != "lstm":
                raise ValueError(
                    f"{where}: `state_dict` has {hr_key!r}, which only kind='lstm' has."
                )
            p["w_p"] = state[hr_key].T
            expected.add(hr_key)
        expected.update(k for k in keys.values() if k in state)
        entry = params.setdefault(f"layer_{layer}", {})
        if bidirectional:
            entry[direction] = p
        else:
            params[f"layer_{layer}"] = p
    unexpected = sorted(set(state) - expected)
    if unexpected:
        raise ValueError(
            f"{where}: `state_dict` has keys {unexpected} that a {kind!r} with "
            f"num_layers={num_layers}, bidirectional={bidirectional} does not."
        )
    return jax.tree.map(jnp.asarray, params)


def to_torch(params: dict, kind: str, num_layers: int = 1, bidirectional: bool = False) -> dict:
    """The inverse of ``from_torch``: a state_dict of NumPy arrays for torch.

    jaxnets keeps one bias per gate where torch has two; the whole bias goes to
    ``bias_ih`` and ``bias_hh`` is zero (for GRU, ``bias_hh``'s n part is ``b_hn``).
    Load it with ``module.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})``.
    """
    where = "to_torch"
    _check_kind(where, kind, num_layers)
    state = {}
    for layer, direction, tag in _names(num_layers, bidirectional):
        entry = params[f"layer_{layer}"]
        p = {k: np.asarray(v) for k, v in (entry[direction] if bidirectional else entry).items()}
        hidden = p["w_x"].shape[1] // GATES[kind]
        state[f"weight_ih_{tag}"] = p["w_x"].T
        state[f"weight_hh_{tag}"] = p["w_h"].T
        state[f"bias_ih_{tag}"] = p["b"]
        b_hh = np.zeros_like(p["b"])
        if kind == "gru":
            b_hh[2 * hidden :] = p["b_hn"]
        state[f"bias_hh_{tag}"] = b_hh
        if "w_p" in p:
            state[f"weight_hr_{tag}"] = p["w_p"].T
    return state
