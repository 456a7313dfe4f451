"""A character language model of the licence texts in /usr/share/common-licenses.

    python experiments/examples/char_lm.py [--epochs 20]

An LSTM(256) reads 13 licences with truncated BPTT (32 streams, 100-step chunks);
perplexity is measured on the held-out Mozilla Public Licence 2.0 after every epoch (the best
epoch's params are kept, early stopping with patience 3) against a unigram
model of the training characters, and a few samples are printed.
"""

import argparse
import time

import jax
import optax

from jaxnets.tasks import char_lm
from jaxnets.text import fit_lm, lm_perplexity, unigram_perplexity
from jaxnets.train import EarlyStopping


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    data = char_lm.data()
    tokenizer = data["tokenizer"]
    model = char_lm.model(tokenizer)
    _, params, _ = model.init(jax.random.key(0), (100,))
    started = time.perf_counter()
    result = fit_lm(
        model, params, optax.adam(2e-3), data["train"], epochs=args.epochs, batch_size=32,
        seq_len=100, key=jax.random.key(1), validation_ids=data["test"],
        early_stopping=EarlyStopping(patience=3),  # the best epoch's params come back
    )  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"char LM, {len(data['train']):,} training characters, vocabulary "
          f"{tokenizer.vocab_size}, jax {jax.__version__}")  # fmt: skip
    print(
        f"held-out perplexity per epoch: {[round(float(p), 2) for p in result.history.val_metric]}"
    )
    perplexity = lm_perplexity(model, result.params, data["test"])
    baseline = unigram_perplexity(data["train"], data["test"], tokenizer.vocab_size)
    print(f"held-out perplexity: {perplexity:.2f} (unigram baseline {baseline:.2f}); "
          f"trained in {seconds:.0f} s")  # fmt: skip
    for temperature in (0.5, 0.8):
        text = model.sample(
            result.params, "The ", 300, temperature=temperature, key=jax.random.key(2)
        )
        print(f"\n--- temperature {temperature}:\nThe {text}")


if __name__ == "__main__":
    main()
