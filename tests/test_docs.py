"""The API reference build fails on a broken cross-reference (and passes without one)."""

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _build(tmp_path, page: str):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(page)
    config.update(docs_dir=str(docs), site_dir=str(tmp_path / "site"), nav=["index.md"])
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml")],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip


def _run_page(name: str) -> dict:
    """Run every python block of docs/``name`` in order, in one namespace, and return it."""
    namespace = {}
    page = (ROOT / "docs" / name).read_text()
    for block in re.findall(r"```python\n(.*?)```", page, re.S):
        exec(compile(block, f"docs/{name}", "exec"), namespace)
    return namespace


def test_a_good_reference_builds(tmp_path):
    result = _build(tmp_path, "# Page\n\nSee [gru][jaxnets.cells.gru].\n\n::: jaxnets.cells.gru\n")
    assert result.returncode == 0, result.stderr


def test_a_broken_reference_fails_the_build(tmp_path):
    result = _build(tmp_path, "# Page\n\nSee [gone][jaxnets.cells.no_such_cell].\n")
    assert result.returncode != 0
    assert "Could not find cross-reference target 'jaxnets.cells.no_such_cell'" in result.stderr


def test_the_training_page_runs_as_written(capsys):
    namespace = _run_page("training.md")
    out = capsys.readouterr().out
    assert "must have shape (4, 32), got (4, 16)" in out
    assert namespace["result"].history.loss.shape == (5,)
    assert namespace["seeds"].epochs_run.shape == (4,)
    assert 0 < namespace["batches"].padding_fraction < 1 - namespace["lengths"].mean() / 12


def test_the_sweeps_page_runs_as_written(capsys):
    from jaxnets.experiments import ConfigError, validate

    _run_page("sweeps.md")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "6 0 0"  # as the page's comment says
    assert len(lines) == 4
    # The YAML blocks pass the same validation (the import paths named after the page's
    # module; the data is not read, so no training data is needed).
    digits, leaky = None, None
    page = (ROOT / "docs" / "sweeps.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", page, re.S):
        raw = yaml.safe_load(block)
        if raw["name"] == "digits":
            digits = validate(raw, check_data=False)
        else:
            with pytest.raises(ConfigError, match=r"'mylab\.leaky:summing' does not import"):
                validate(raw, check_data=False)
            leaky = raw
    assert len(digits.points) == 12 and leaky["search"]["method"] == "optuna"


def test_the_kernels_page_runs_as_written(capsys):
    from jaxnets.kernels import KERNELS

    registered = dict(KERNELS)
    try:
        _run_page("kernels.md")
        assert "leaky_projected" in KERNELS
    finally:  # the page registers its kernel; other tests see the library's own
        KERNELS.clear()
        KERNELS.update(registered)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "14 cases agree"
    assert [line.split(":")[0] for line in lines[1:]] == ["reference", "auto"]


def test_the_parallel_page_runs_as_written(capsys):
    _run_page("parallel.md")
    assert capsys.readouterr().out.splitlines() == [
        "largest difference: True",
        "same numbers: True",
    ]


def test_the_precision_page_runs_as_written(capsys):
    namespace = _run_page("precision.md")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["bfloat16 bfloat16", "float32 float32"]  # as the comments say
    runs = namespace["runs"]
    for name in ("bfloat16", "float16"):
        assert lines[2 + list(runs).index(name)].endswith("float32")
        np.testing.assert_allclose(runs[name].history.loss, runs["float32"].history.loss, rtol=0.05)


def test_the_speed_page_runs_as_written(capsys):
    from jaxnets.kernels import onednn_available

    _run_page("speed.md")
    lines = capsys.readouterr().out.splitlines()
    ready = onednn_available() is None
    lstm, gru = ("lstm_onednn", "gru_onednn") if ready else ("lstm_blocks", "gru_fused")
    assert lines[1:6] == [
        f"lstm: {lstm}",
        f"gru: {gru}",
        "lstm, padded batch: lstm_blocks",
        "lstm, bfloat16: lstm_blocks",
        "lstm, peepholes: None",
    ]
    assert lines[6:] == ["16 cases agree"] * ready + [
        "gradients as the plain scan's: True",
        "oneDNN calls in the vmapped program: False",
        "per-model gradients: (4, 32, 128)",
    ]


def test_the_blocks_page_runs_as_written(capsys):
    namespace = _run_page("blocks.md")
    out = capsys.readouterr().out
    assert "causal stack keeps the length: (100, 8)" in out
    assert "(28, 28, 1) (3, 3, 1, 16)" in out
    assert "`x` holds id 7, outside the vocabulary [0, 5)" in out
    assert "[False  True  True]" in out
    assert float(namespace["weights"][1, :, 5:].sum()) == 0.0
    assert namespace["tokens"].shape == (1, 5)
    assert "(4, 12, 16) ['cell', 'initial_carry']" in out
    assert "largest difference: True" in out
