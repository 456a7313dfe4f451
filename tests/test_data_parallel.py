"""A batch split over two devices trains exactly as on one (run in a fresh process,
since the CPU's device count is fixed when JAX starts)."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, jax.numpy as jnp, numpy as np
    from jaxnets.cells import gru, lstm
    from jaxnets.layers import dense, serial
    from jaxnets.rnn import recurrent
    from jaxnets.train import (
        TrainState, optimizer, predictor, softmax_cross_entropy, train_epoch, train_step,
    )

    assert jax.device_count() == 2
    for cell in (lstm(8), gru(6)):
        model = serial(recurrent(cell, return_sequences=False), dense(3))
        _, params, state = model.init(jax.random.key(0), (5, 4))
        opt = optimizer("adam", 1e-2, clip_norm=1.0)
        x = jax.random.normal(jax.random.key(1), (32, 5, 4))
        y = jnp.arange(32) % 3
        start, key = TrainState(params, state, opt.init(params)), jax.random.key(2)
        results = {}
        for devices in (1, 2):
            step = train_step(model.apply, softmax_cross_entropy, opt, devices=devices)
            results[devices] = jax.jit(train_epoch(step, 8))(start, key, x, y)
        for a, b in zip(jax.tree.leaves(results[1]), jax.tree.leaves(results[2])):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        default = train_epoch(train_step(model.apply, softmax_cross_entropy, opt), 8)
        hlo = jax.jit(default).lower(start, key, x, y).compile().as_text()
        assert "all-reduce" in hlo  # by default every visible device takes part
        alone = jax.jit(predictor(model.apply, devices=1))(params, state, x)
        split = jax.jit(predictor(model.apply))(params, state, x)
        np.testing.assert_allclose(split, alone, rtol=1e-5, atol=1e-6)
        assert len(split.sharding.device_set) == 2
    print("same")
    """
)


def test_two_devices_train_like_one():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same"
