"""PNG figures of the diagnostics, with matplotlib."""

import numpy as np


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.4, 4.0), constrained_layout=True)


def _save(fig, path):
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_gradient_flow(
    flows: dict,
    path: str,
    *,
    baseline: dict | None = None,
    baseline_label: str = "init",
    title: str = "Gradient flow through time",
):
    """Plot ``gradient_flow``'s norms against the steps to the end, T - t, log scale.

    Args:
      flows: {label: (T,) array from ``gradient_flow``}, solid lines.
      path: the PNG file to write.
      baseline: {label: (T,) array} for some of the same labels (e.g. at
        initialization), dashed in the same colour.
      baseline_label: how the legend names the baseline.
    """
    fig, ax = _figure()
    for label, norms in flows.items():
        norms = np.asarray(norms)
        (line,) = ax.semilogy(np.arange(len(norms), 0, -1), norms, label=label)
        if baseline is not None and label in baseline:
            base = np.asarray(baseline[label])
            ax.semilogy(np.arange(len(base), 0, -1), base, linestyle="--",
                        color=line.get_color(), label=f"{label} ({baseline_label})")  # fmt: skip
    ax.set(xlabel="steps to the end of the sequence (T - t)", ylabel="||dL/dh||", title=title)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def plot_jacobian_norms(norms: dict, path: str, *, title: str = "Jacobian norms"):
    """Plot ||dh_T / dh_{T-k}||_2 against k, log scale. ``norms``: {label: (K,) array}."""
    fig, ax = _figure()
    for label, values in norms.items():
        ax.semilogy(np.arange(1, len(values) + 1), values, label=label)
    ax.set(xlabel="distance k", ylabel="||dh_T / dh_{T-k}||_2", title=title)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def plot_gate_saturation(fractions: dict, path: str, *, title: str = "Gate saturation"):
    """Plot each gate's saturated fraction against the step. ``fractions``: {gate: (T,)}."""
    fig, ax = _figure()
    for label, values in fractions.items():
        ax.plot(np.arange(len(values)), values, label=label)
    ax.set(xlabel="step t", ylabel="fraction < 0.05 or > 0.95", ylim=(0, 1), title=title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
