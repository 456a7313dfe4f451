"""Train an MLP and the Keras convnet on sklearn's digits and print test accuracy."""

import argparse
import time

import jax
import optax

from jaxnets.data import digits, train_test_split
from jaxnets.layers import flatten, serial
from jaxnets.models import keras_convnet, mlp
from jaxnets.train import accuracy, evaluate, fit, optimizer, softmax_cross_entropy


def run(name, model, image_size, *, epochs, seed):
    x, y = digits(size=image_size)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.3, seed=seed)
    key_init, key_fit = jax.random.split(jax.random.key(seed))
    _, params, state = model.init(key_init, x.shape[1:])
    steps = len(x_train) // 32
    start = time.perf_counter()
    result = fit(
        model,
        params,
        state,
        optimizer("adam", optax.cosine_decay_schedule(3e-3, epochs * steps)),
        softmax_cross_entropy,
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        key=key_fit,
    )
    seconds = time.perf_counter() - start
    test_accuracy = evaluate(model, result.params, result.state, x_test, y_test, accuracy)
    final_loss = result.history.loss[-1]
    print(
        f"{name:<14} {image_size:>2}x{image_size:<3} {epochs:>6} {final_loss:>10.4f} "
        f"{test_accuracy:>9.2%} {seconds:>8.1f}"
    )
    return test_accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(
        f"digits (sklearn), 70/30 split, adam 3e-3 cosine decay, batch 32, jax {jax.__version__} "
        f"on {jax.devices()[0].platform}"
    )
    print(
        f"{'model':<14} {'input':<6} {'epochs':>6} {'train loss':>10} {'test acc':>9} "
        f"{'time (s)':>8}"
    )
    run(
        "mlp 256-128", serial(flatten(), mlp([256, 128, 10])), 8, epochs=args.epochs, seed=args.seed
    )
    run("keras_convnet", keras_convnet(), 28, epochs=args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
