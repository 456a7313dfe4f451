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
        # A batch that does not split: prediction pads, training says so.
        odd = jax.jit(predictor(model.apply))(params, state, x[:7])
        np.testing.assert_allclose(odd, alone[:7], rtol=1e-5, atol=1e-6)
        step = train_step(model.apply, softmax_cross_entropy, opt)
        try:
            step(start, x[:7], y[:7], key)
        except ValueError as e:
            assert "a batch of 7 rows does not split over 2 devices" in str(e), e
        else:
            raise AssertionError("no ValueError for 7 rows on 2 devices")
        try:
            train_step(model.apply, softmax_cross_entropy, opt, devices=3)(start, x, y, key)
        except ValueError as e:
            assert "`devices` must be an int in [1, 2]" in str(e), e
        else:
            raise AssertionError("no ValueError for devices=3")
    print("same")
    """
)


def test_two_devices_train_like_one():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same"


WORKER = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    port, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    assert jax.process_count() == 2 and jax.device_count() == 2

    from tests.test_data_parallel import problem
    from jaxnets.train import TrainState, train_step, softmax_cross_entropy

    model, start, x, y, opt = problem()
    rows = x.shape[0] // 2
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    split = NamedSharding(mesh, P("batch"))
    local = slice(pid * rows, (pid + 1) * rows)  # each process holds half the batch
    xg = jax.make_array_from_process_local_data(split, x[local])
    yg = jax.make_array_from_process_local_data(split, y[local])
    step = jax.jit(train_step(model.apply, softmax_cross_entropy, opt))
    new, metrics = step(start, xg, yg, jax.random.key(2))
    leaves = [np.asarray(a.addressable_data(0)) for a in jax.tree.leaves((new.params, metrics))]
    np.savez(out, *leaves)
    jax.distributed.shutdown()
    """
)


def problem():
    """The model, train state and batch both the processes and the reference use."""
    import jax
    import numpy as np

    from jaxnets.cells import lstm
    from jaxnets.layers import dense, serial
    from jaxnets.rnn import recurrent
    from jaxnets.train import TrainState, optimizer

    model = serial(recurrent(lstm(6), return_sequences=False), dense(3))
    _, params, state = model.init(jax.random.key(0), (5, 4))
    opt = optimizer("adam", 1e-2)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 5, 4)).astype(np.float32)
    y = (np.arange(8) % 3).astype(np.int32)
    start = jax.device_get(TrainState(params, state, opt.init(params)))
    return model, start, x, y, opt


def test_two_processes_under_jax_distributed_step_like_one(tmp_path):
    import socket

    import jax
    import numpy as np

    from jaxnets.train import softmax_cross_entropy, train_step

    with socket.socket() as s:  # a free port on the loopback address
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(port), str(pid), str(tmp_path / f"{pid}.npz")],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    model, start, x, y, opt = problem()
    new, metrics = jax.jit(train_step(model.apply, softmax_cross_entropy, opt, devices=1))(
        start, x, y, jax.random.key(2)
    )
    expected = [np.asarray(a) for a in jax.tree.leaves((new.params, metrics))]
    for pid in range(2):
        got = np.load(tmp_path / f"{pid}.npz")
        assert len(got.files) == len(expected)
        for i, want in enumerate(expected):
            np.testing.assert_allclose(got[f"arr_{i}"], want, rtol=1e-5, atol=1e-6)
