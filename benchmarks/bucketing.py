"""Variable-length training: length buckets against padding every batch to the longest.

On the licence_sentences task (sentences of 3 to ``--max-words`` words), a GRU classifier
trains with ``fit``: once on the padded arrays with ``lengths`` (every batch padded to
the longest sentence of the data set, one compiled epoch), and once per bucket count on
``bucket_batches`` (each bucket padded to its own longest sentence, one compiled step
per bucket shape). Prints the padding fraction, sequences per second (median epoch
after the first) and the first epoch's time, which includes compilation.

    python benchmarks/bucketing.py [--max-words 64] [--buckets 1,2,4,8] [--epochs 6]
"""

import argparse

import jax
import numpy as np
import optax

from jaxnets.cells import gru
from jaxnets.data import bucket_batches
from jaxnets.tasks import licence_sentences
from jaxnets.train import fit, softmax_cross_entropy


def _row(name, shapes, padding, sequences, result):
    epoch = float(np.median(result.history.seconds[1:]))
    first = float(result.history.seconds[0])
    print(f"| {name} | {shapes} | {padding:.1%} | {sequences / epoch:,.0f} | "
          f"{epoch * 1e3:.0f} | {first:.1f} |")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-words", type=int, default=64)
    parser.add_argument("--buckets", default="1,2,4,8")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    data = licence_sentences.data(max_words=args.max_words)
    x, y, lengths = data["x"], data["y"], data["lengths"]
    model = licence_sentences.model(gru(args.hidden), vocab_size=data["tokenizer"].vocab_size)
    _, params, state = model.init(jax.random.key(0), x.shape[1:])
    common = {"epochs": args.epochs, "key": jax.random.key(1)}
    opt = optax.adam(1e-3)
    print(f"licence_sentences: {len(y)} sentences of {lengths.min()} to {lengths.max()} words "
          f"(mean {lengths.mean():.1f}), batch {args.batch_size}, GRU({args.hidden}); "
          f"jax {jax.__version__}, {jax.devices()[0].device_kind}")  # fmt: skip
    print("| batching | batch shapes | padding | sequences/s | epoch ms | first epoch s |")
    print("|---|---|---|---|---|---|")
    # In memory, every batch padded to the data set's longest sentence; the last partial
    # batch is dropped, so an epoch sees N // B * B sentences.
    seen = len(y) // args.batch_size * args.batch_size
    result = fit(model, params, state, opt, softmax_cross_entropy, x, y, lengths=lengths,
                 batch_size=args.batch_size, **common)  # fmt: skip
    padding = 1 - lengths.mean() / x.shape[1]
    _row("padded to the longest", f"1 ({args.batch_size}, {x.shape[1]})", padding, seen, result)
    for count in (int(c) for c in args.buckets.split(",")):
        batches = bucket_batches(x, y, lengths, batch_size=args.batch_size, num_buckets=count)
        result = fit(model, params, state, opt, softmax_cross_entropy, batches=batches, **common)
        shapes = f"{len(batches.widths)} (widths {', '.join(map(str, batches.widths))})"
        _row(f"{count} length buckets", shapes, batches.padding_fraction, len(y), result)


if __name__ == "__main__":
    main()
