"""The README's examples run as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _examples():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_layer_example_runs(capsys):
    namespace = {}
    exec(compile(_examples()[0], str(README), "exec"), namespace)
    assert "Total params: 13,610" in capsys.readouterr().out
    assert namespace["grads"]["dense"]["w"].shape == (1352, 10)


def test_readme_recurrent_example_runs():
    namespace = {}
    exec(compile(_examples()[1], str(README), "exec"), namespace)
    assert namespace["ys"].shape == (8, 50, 64)
    assert not namespace["ys"][0, 20:].any()  # past its length, sequence 0 outputs zeros
    assert namespace["carry"].h.shape == (8, 64)


def test_readme_sequence_models_example_runs():
    namespace = {}
    exec(compile(_examples()[2], str(README), "exec"), namespace)
    assert namespace["logits"].shape == (8, 10)
    key, jnp = namespace["jax"].random.key(0), namespace["jnp"]
    assert namespace["tag"].init(key, (7, 3))[0] == (7, 5)
    assert namespace["generate"].init(key, (3,))[0] == (100, 1)
    _, params, _ = namespace["translate"].init(key, ((6,), (7,)))
    tokens = namespace["translate"].decode(params, jnp.zeros((2, 6), int), max_length=4)
    assert tokens.shape == (2, 4)


def test_readme_training_example_runs(tmp_path, monkeypatch, capsys):
    example = _examples()[3].replace("/tmp/mnist1d.ckpt", str(tmp_path / "mnist1d.ckpt"))
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    best_epoch, best_accuracy = capsys.readouterr().out.split()
    # The README shows the printed numbers in a comment; keep them true.
    shown_epoch, shown_accuracy = re.search(r"# (\d+) ([\d.]+)\n", example).groups()
    assert int(best_epoch) == int(shown_epoch)
    assert round(float(best_accuracy), 3) == float(shown_accuracy)
    assert (tmp_path / "mnist1d.ckpt").exists()
    assert namespace["result"].best_epoch == int(best_epoch)


def test_ci_runs_the_readme_test_command_verbatim():
    commands = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    lines = [line for line in commands.strip().splitlines() if not line.startswith("#")]
    assert len(lines) == 2  # set up and run the main job; run the tests
    test_command = lines[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
