"""Scan or unrolled? Compile time, run time and memory of an RNN train step as T grows.

    python benchmarks/scan_vs_unrolled.py [--cells elman,gru,lstm,clockwork]
        [--lengths 10,25,50,100,200,400,800,1600] [--unrolls python,1,2,4,8,16]
        [--batch 16 --features 32 --hidden 64] [--cap 30] [--runs 10]

    # the parallel form against the sequential scan and the Python loop (issue 22):
    python benchmarks/scan_vs_unrolled.py --cells min_gru,min_lstm,lru,diagonal_rnn,gru \
        --lengths 16,64,256,1024,4096,16384 --unrolls python,1,associative --no-remat

For every cell, T and unroll: the compile time of jit(grad) of a loss over the RNN's
outputs (lowering and compiling, i.e. what the first call costs beyond one run), the
median of ``--runs`` timed calls after two warm-up calls, and the memory XLA plans for
the compiled step (arguments + outputs + temporaries, from its memory analysis).
``unroll="python"`` is a Python loop over time, a fully unrolled graph; its series
stops once a compile passes ``--cap`` seconds, and the table says so.
``unroll="associative"`` is the parallel form (``lax.associative_scan``) of the cells
linear in their state; other cells skip it. For those cells the table ends with the
crossover: the shortest T from which the parallel form runs faster than ``unroll=1``. Rows with
``remat`` rematerialize over blocks of sqrt(T) steps (``unroll(..., remat="sqrt")``).
Writes ``benchmarks/results/scan_vs_unrolled.md`` and PNG plots of compile and run time
against T (log axes).
"""

import argparse
import pathlib
import statistics
import sys
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cells", default="elman,gru,lstm,clockwork",
        help="names in jaxnets.cells.CELLS, comma-separated",
    )  # fmt: skip
    parser.add_argument("--lengths", default="10,25,50,100,200,400,800,1600")
    parser.add_argument("--unrolls", default="python,1,2,4,8,16")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--cap", type=float, default=30.0, help="python-loop compile cap, s")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-remat", action="store_true", help="leave out the remat rows")
    parser.add_argument("--out", default=str(RESULTS))
    return parser.parse_args()


def main():
    args = _parse()
    import jax
    import jax.numpy as jnp

    from jaxnets.cells import CELLS
    from jaxnets.core import cell_tag
    from jaxnets.rnn import unroll

    unknown = set(args.cells.split(",")) - set(CELLS)
    if unknown:
        raise SystemExit(f"--cells: unknown {sorted(unknown)}; known: {sorted(CELLS)}")
    lengths = [int(t) for t in args.lengths.split(",")]
    unrolls = [u if u in ("python", "associative") else int(u) for u in args.unrolls.split(",")]
    unrolls += [] if args.no_remat else ["remat"]
    device = jax.devices()[0]
    rows = []

    def measure(cell, params, xs, how):
        options = {"remat": "sqrt"} if how == "remat" else {"unroll": how}

        def loss(params, xs):
            return jnp.mean(unroll(cell, params, xs, **options)[1] ** 2)

        step = jax.jit(jax.grad(loss))
        started = time.perf_counter()
        compiled = step.lower(params, xs).compile()
        compile_s = time.perf_counter() - started
        memory = compiled.memory_analysis()
        peak = (
            memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
        )
        for _ in range(2):
            jax.block_until_ready(compiled(params, xs))
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            jax.block_until_ready(compiled(params, xs))
            times.append(time.perf_counter() - started)
        return compile_s, statistics.median(times), peak

    for name in args.cells.split(","):
        cell = CELLS[name](args.hidden)
        params = cell.init(jax.random.key(0), args.features)
        parallel = cell_tag(cell).kind == "linear_recurrence"
        for how in unrolls:
            if how == "associative" and not parallel:
                continue
            stopped = False
            for t in lengths:
                if stopped:
                    rows.append((name, str(how), t, None, None, None, "skipped: compile cap"))
                    continue
                xs = jax.random.normal(jax.random.key(1), (args.batch, t, args.features))
                compile_s, run_s, peak = measure(cell, params, xs, how)
                note = ""
                if how == "python" and compile_s > args.cap:
                    stopped, note = True, f"compile > {args.cap:g} s: longer T skipped"
                rows.append((name, str(how), t, compile_s, run_s, peak, note))
                print(f"{name:9} unroll={how!s:6} T={t:5}  compile {compile_s:7.2f} s  "
                      f"run {run_s * 1e3:9.2f} ms  memory {peak / 2**20:8.1f} MiB  {note}",
                      file=sys.stderr, flush=True)  # fmt: skip

    header = (
        f"RNN train step (jit(grad) of the mean squared output), B={args.batch}, "
        f"D={args.features}, H={args.hidden}; jax {jax.__version__} on {device.platform} "
        f"({device.device_kind})"
    )
    lines = [header, "", "| cell | unroll | T | compile s | run ms | memory MiB | note |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, how, t, compile_s, run_s, peak, note in rows:
        if compile_s is None:
            lines.append(f"| {name} | {how} | {t} | - | - | - | {note} |")
        else:
            lines.append(f"| {name} | {how} | {t} | {compile_s:.2f} | {run_s * 1e3:.2f} | "
                         f"{peak / 2**20:.1f} | {note} |")  # fmt: skip
    lines += ["", *_crossovers(rows)]
    table = "\n".join(lines)
    print(table)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scan_vs_unrolled.md").write_text(table + "\n")
    _plot(rows, out, header)


def _crossovers(rows):
    """Per cell with a parallel form: the shortest T from which it beats unroll=1."""
    found = []
    for name in sorted({r[0] for r in rows if r[1] == "associative"}):
        runs = {(r[1], r[2]): r[4] for r in rows if r[0] == name and r[4] is not None}
        lengths = sorted(t for how, t in runs if how == "associative" and ("1", t) in runs)
        faster = [t for t in lengths if runs["associative", t] < runs["1", t]]
        # The crossover: faster from there on, at every longer T measured.
        start = next((t for t in lengths if all(u in faster for u in lengths if u >= t)), None)
        found.append(
            f"{name}: the parallel form is faster than unroll=1 from T = {start} on"
            if start is not None
            else f"{name}: the parallel form is not faster than unroll=1 up to T = {lengths[-1]}"
        )
    return found


def _plot(rows, out, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted({r[0] for r in rows}, key=[r[0] for r in rows].index)
    for column, label, scale, filename in (
        (3, "compile time (s)", 1.0, "scan_vs_unrolled_compile.png"),
        (4, "run time (ms)", 1e3, "scan_vs_unrolled_run.png"),
    ):
        fig, axes = plt.subplots(1, len(cells), figsize=(4 * len(cells), 3.6), squeeze=False)
        for ax, cell in zip(axes[0], cells):
            series = sorted({r[1] for r in rows if r[0] == cell}, key=[r[1] for r in rows].index)
            for how in series:
                points = [(r[2], r[column] * scale) for r in rows
                          if r[0] == cell and r[1] == how and r[column] is not None]  # fmt: skip
                if points:
                    label = "remat, sqrt(T) blocks" if how == "remat" else f"unroll={how}"
                    ax.plot(*zip(*points), "o-", ms=3, label=label)
            ax.set(xscale="log", yscale="log", xlabel="T", ylabel=label, title=cell)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(title, fontsize=8)
        fig.tight_layout()
        fig.savefig(out / filename, dpi=90)
        plt.close(fig)


if __name__ == "__main__":
    main()
