"""Elman, GRU and LSTM against torch.nn.RNN / GRU / LSTM with imported weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxnets.cells import elman, gru, lstm
from jaxnets.interop import from_torch, to_torch
from jaxnets.rnn import stacked_rnn

B, T, D, H = 3, 6, 4, 5

CASES = {
    "rnn_tanh": (lambda: torch.nn.RNN(D, H, batch_first=True), "rnn", lambda: elman(H)),
    "rnn_relu": (
        lambda: torch.nn.RNN(D, H, nonlinearity="relu", batch_first=True),
        "rnn",
        lambda: elman(H, activation="relu"),
    ),
    "gru": (lambda: torch.nn.GRU(D, H, batch_first=True), "gru", lambda: gru(H)),
    "lstm": (lambda: torch.nn.LSTM(D, H, batch_first=True), "lstm", lambda: lstm(H)),
    "lstm_proj": (
        lambda: torch.nn.LSTM(D, H, proj_size=2, batch_first=True),
        "lstm",
        lambda: lstm(H, proj_size=2),
    ),
}


def _torch_module(case, num_layers, bidirectional):
    make, kind, cell = CASES[case]
    torch.manual_seed(0)
    module = make()
    # Rebuild with the requested depth and directions, same class and options.
    options = {
        "input_size": D,
        "hidden_size": H,
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "batch_first": True,
    }
    if isinstance(module, torch.nn.LSTM):
        options["proj_size"] = module.proj_size
    elif not isinstance(module, torch.nn.GRU):
        options["nonlinearity"] = module.nonlinearity
    return type(module)(**options), kind, cell()


def _final_states(torch_state):
    return torch_state if isinstance(torch_state, tuple) else (torch_state,)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "num_layers, bidirectional", [(1, False), (2, False), (1, True), (2, True)]
)
def test_outputs_states_and_gradients_match_torch(rng, case, num_layers, bidirectional):
    module, kind, cell = _torch_module(case, num_layers, bidirectional)
    params = from_torch(module.state_dict(), kind, num_layers, bidirectional)
    layer = stacked_rnn(cell, num_layers, bidirectional=bidirectional, return_carry=True)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    g = rng.normal(size=(B, T, module.proj_size or H) if kind == "lstm" else (B, T, H))
    g = np.concatenate([g, g[..., ::-1]], -1) if bidirectional else g
    g = g.astype(np.float32)

    x_torch = torch.tensor(x, requires_grad=True)
    ys_torch, state_torch = module(x_torch)
    (ys_torch * torch.tensor(g)).sum().backward()

    def loss(params, x):
        (ys, carries), _ = layer.apply(params, {}, x)
        return jnp.sum(ys * g), (ys, carries)

    (_, (ys, carries)), (grads, grad_x) = jax.value_and_grad(loss, (0, 1), has_aux=True)(
        params, jnp.asarray(x)
    )
    np.testing.assert_allclose(ys, ys_torch.detach().numpy(), rtol=1e-5, atol=1e-5)
    # torch stacks final states as (num_layers * directions, B, size).
    states = [s.detach().numpy() for s in _final_states(state_torch)]
    ours = [c for lc in carries for c in (lc if bidirectional else (lc,))]
    assert len(ours) == states[0].shape[0]
    for j, carry in enumerate(ours):
        for mine, theirs in zip(carry if kind == "lstm" else (carry,), states):
            np.testing.assert_allclose(mine, theirs[j], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_x, x_torch.grad.numpy(), rtol=1e-4, atol=1e-5)
    ours_sd = to_torch(grads, kind, num_layers, bidirectional)
    for name, p in module.named_parameters():
        if name.startswith("bias_hh") and kind != "gru":
            ours_grad = ours_sd[name.replace("bias_hh", "bias_ih")]  # b = b_ih + b_hh
        elif name.startswith("bias_hh"):
            ours_grad = ours_sd[name.replace("bias_hh", "bias_ih")].copy()
            ours_grad[2 * H :] = ours_sd[name][2 * H :]
        else:
            ours_grad = ours_sd[name]
        np.testing.assert_allclose(ours_grad, p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("case", ["rnn_tanh", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_variable_lengths_match_pack_padded_sequence(rng, case, bidirectional):
    module, kind, cell = _torch_module(case, 2, bidirectional)
    params = from_torch(module.state_dict(), kind, 2, bidirectional)
    layer = stacked_rnn(cell, 2, bidirectional=bidirectional, return_carry=True)
    lengths = np.array([6, 2, 4])
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    x[1, 2:] = 100.0  # padding must not leak into anything
    x[2, 4:] = -100.0

    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, state = module(packed)
    ys_torch, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    (ys, carries), _ = layer.apply(params, {}, jnp.asarray(x), lengths=jnp.asarray(lengths))
    np.testing.assert_allclose(ys, ys_torch.detach().numpy(), rtol=1e-5, atol=1e-5)
    h_torch = _final_states(state)[0].detach().numpy()
    ours = [c for lc in carries for c in (lc if bidirectional else (lc,))]
    for j, carry in enumerate(ours):
        h = carry.h if kind == "lstm" else carry
        np.testing.assert_allclose(h, h_torch[j], rtol=1e-5, atol=1e-5)


def test_to_torch_round_trip_and_loads_into_torch(rng):
    layer = stacked_rnn(lstm(H, proj_size=2), 2, bidirectional=True)
    _, params, _ = layer.init(jax.random.key(0), (T, D))
    state = to_torch(params, "lstm", 2, True)
    again = from_torch(state, "lstm", 2, True)
    jax.tree.map(np.testing.assert_array_equal, params, again)
    module = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, batch_first=True)
    module.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    ys, _ = layer.apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(
        ys, module(torch.tensor(x))[0].detach().numpy(), rtol=1e-5, atol=1e-5
    )


def test_from_torch_rejects_another_kind_or_size():
    gru_state = torch.nn.GRU(D, H).state_dict()
    with pytest.raises(ValueError, match=r"`state_dict` 'weight_ih_l0' \(15, 4\).*kind='lstm'"):
        from_torch(gru_state, "lstm")
    with pytest.raises(ValueError, match="`state_dict` has no 'weight_ih_l1'"):
        from_torch(gru_state, "gru", num_layers=2)
    with pytest.raises(ValueError, match=r"`state_dict` has keys \['bias_hh_l0_reverse'"):
        from_torch(torch.nn.GRU(D, H, bidirectional=True).state_dict(), "gru")
    with pytest.raises(ValueError, match="`kind`"):
        from_torch(gru_state, "transformer")


def test_from_torch_accepts_plain_arrays_and_no_bias():
    module = torch.nn.RNN(D, H, bias=False)
    arrays = {k: v.numpy() for k, v in module.state_dict().items()}
    params = from_torch(arrays, "rnn")
    np.testing.assert_array_equal(params["layer_0"]["b"], np.zeros(H))
    np.testing.assert_array_equal(params["layer_0"]["w_x"], arrays["weight_ih_l0"].T)
