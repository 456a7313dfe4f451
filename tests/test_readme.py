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
