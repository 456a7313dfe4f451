"""The README's example runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(capsys):
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    assert "Total params: 13,610" in capsys.readouterr().out
    assert namespace["grads"]["dense"]["w"].shape == (1352, 10)
