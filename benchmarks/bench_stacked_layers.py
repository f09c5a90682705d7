"""Speed on the CNN, the LSTM, recurrent text models and the noise layers: the population engine
against ``model.fit``, same cells, one run.

(d) ``digits-cnn``: Conv2D(32, 3) x2 -> [SpatialDropout2D] -> MaxPooling2D -> [Dropout] ->
    Dense(10), 200 training images, batch 32 (7 steps per epoch), test on 500 after each epoch;
(e) ``sequence-lstm``: [Dropout] -> LSTM(32) [variational] -> [Dropout] -> Dense(1), 15 steps
    x 6 features, 200 training sequences, batch 32, test on 500 after each epoch;
(t) the tutorial reader's text model as a user's task file (``reader_text_task.py``):
    Embedding(200, 32) -> 2 x Bidirectional(GRU(25), variational dropout) -> Dense(100) ->
    Dense(3, softmax), 600 sequences of 30 tokens, batch 32 (19 steps per epoch), 6 epochs;
(s) a 1D CNN as a user's task file (``signal_task.py``): Conv1D(16, 5, causal, dilation 2)
    -> [SpatialDropout1D] -> MaxPooling1D -> Conv1D(16, 3, same) -> AveragePooling1D ->
    [Dropout] -> GlobalAveragePooling1D -> Dense(3), 600 signals of 128 steps, batch 32, 20
    epochs;
(r) SimpleRNN layers as a user's task file (``rnn_task.py``): Embedding(200, 32) ->
    Bidirectional(SimpleRNN(32), variational dropout) -> SimpleRNN(32) -> Dense(3), the
    text-gru corpus (400 sentences of 20 tokens, batch 32), 10 epochs;
(n) the dropout family beyond Dropout as a user's task file (``noise_task.py``): digits 64 ->
    [GaussianNoise] -> Dense(128, relu) -> [GaussianDropout] -> Dense(128, tanh) ->
    [AlphaDropout] -> Dense(10), 1,000 training rows, batch 32, 20 epochs.

Cells come from each task's default grid (rates 0-0.9, its three placements, seeds). The
population side trains a claim of ``--cells`` cells (populations of 64) after a warm-up that
compiles every program the claim uses (its time is printed apart): seconds per cell, initial
weights included. The ``model.fit`` side trains ``--keras-cells`` cells of the same grid as the
Keras engine does (build, fit with the test set validated every epoch, evaluate). Target: 10x
per cell.

``--convolutions`` also times one stacked convolution layer three ways (32 members, a batch of
32 6x6x32 maps, 3x3 kernels to 32 filters, forward and backward under XLA): the gathered patches
the engine uses, patches concatenated from shifted slices, and a grouped convolution
(``feature_group_count`` = members, what ``vmap`` lowers to).

    python benchmarks/bench_stacked_layers.py [--epochs N] [--cells N] [--keras-cells N]
                                              [--only d,e,t,s,r,n] [--convolutions]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

TARGET = 10.0
TASKS = {"d": "digits-cnn", "e": "sequence-lstm",
         "t": os.path.join(os.path.dirname(os.path.abspath(__file__)), "reader_text_task.py"),
         "s": os.path.join(os.path.dirname(os.path.abspath(__file__)), "signal_task.py"),
         "r": os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_task.py"),
         "n": os.path.join(os.path.dirname(os.path.abspath(__file__)), "noise_task.py")}
EPOCHS = {"d": 60, "e": 60, "t": 6, "s": 20, "r": 10, "n": 20}


def _bench(key: str, args: argparse.Namespace) -> dict[str, float]:
    from sweep.config import SweepConfig
    from sweep.engines import TrainSettings, train_all
    from sweep.engines.keras_fit import KerasFitEngine
    from sweep.engines.population import PopulationEngine
    from sweep.tasks import get_task

    config = SweepConfig(task=TASKS[key], rates="0:0.9:0.1", max_norms="none")
    task = get_task(config.task)
    cells = config.cells()
    settings = TrainSettings(args.epochs or EPOCHS[key], config.resolved_batch_size)
    engine = PopulationEngine()
    claim = cells[: args.cells]
    began, cpu = time.perf_counter(), time.process_time()
    train_all(engine, task, claim, TrainSettings(1, settings.batch_size))
    warm_up = time.perf_counter() - began
    warm_up_cpu = time.process_time() - cpu
    began, cpu = time.perf_counter(), time.process_time()
    train_all(engine, task, claim, settings)
    population = (time.perf_counter() - began) / len(claim)
    population_cpu = (time.process_time() - cpu) / len(claim)
    keras = KerasFitEngine()
    spread = cells[len(cells) // 7 :: max(1, len(cells) // args.keras_cells)][: args.keras_cells]
    began, cpu = time.perf_counter(), time.process_time()
    for cell in spread:
        keras.train_one(task, cell, settings)
    fit = (time.perf_counter() - began) / len(spread)
    fit_cpu = (time.process_time() - cpu) / len(spread)
    return {"population": population, "fit": fit, "warm_up": warm_up, "cells": len(claim),
            "keras_cells": len(spread), "population_cpu": population_cpu, "fit_cpu": fit_cpu,
            "warm_up_cpu": warm_up_cpu}


def _convolutions() -> None:
    import numpy as np
    import tensorflow as tf

    from sweep.engines._chain_forward import _convolution
    from sweep.engines._chain_layers import ConvSpec

    members, rows = 32, 32
    x = tf.random.normal((members, rows, 6, 6, 32))
    kernel = tf.random.normal((members, 3, 3, 32, 32))
    spec = ConvSpec(32, (3, 3), (1, 1), "valid", "linear", False)

    def gathered(h: Any, w: Any) -> Any:
        return _convolution(spec, h, (w,))

    def concatenated(h: Any, w: Any) -> Any:
        patches = tf.concat([h[:, :, i : i + 4, j : j + 4, :] for i in range(3)
                             for j in range(3)], axis=-1)
        return tf.einsum("krhwp,kpf->krhwf", patches, tf.reshape(w, (members, 288, 32)))

    def grouped(h: Any, w: Any) -> Any:
        folded = tf.reshape(tf.transpose(h, (1, 2, 3, 0, 4)), (rows, 6, 6, members * 32))
        filters = tf.reshape(tf.transpose(w, (1, 2, 3, 0, 4)), (3, 3, 32, members * 32))
        z = tf.nn.conv2d(folded, filters, 1, "VALID")  # groups = members (XLA only on CPU)
        return tf.transpose(tf.reshape(z, (rows, 4, 4, members, 32)), (3, 0, 1, 2, 4))

    flops = 2 * members * rows * 16 * 288 * 32
    for name, layer in (("gathered patches (the engine)", gathered),
                        ("concatenated shifted slices", concatenated),
                        ("grouped convolution", grouped)):
        @tf.function(jit_compile=True)
        def step(h: Any, w: Any, layer: Any = layer) -> Any:
            with tf.GradientTape() as tape:
                tape.watch([h, w])
                loss = tf.reduce_sum(tf.square(layer(h, w)))
            return tape.gradient(loss, [h, w])

        step(x, kernel)
        repeats = 3 if layer is grouped else 20
        began = time.perf_counter()
        for _ in range(repeats):
            result = step(x, kernel)
        np.asarray(result[0])
        seconds = (time.perf_counter() - began) / repeats
        print(f"  {name:<31} forward+backward {seconds * 1000:8.1f} ms "
              f"({3 * flops / seconds / 1e9:5.1f} GFLOP/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per cell (default: d and e 60, t 6, s 20, r 10, n 20)")
    parser.add_argument("--cells", type=int, default=128, help="population cells (128)")
    parser.add_argument("--keras-cells", type=int, default=3, help="model.fit cells (3)")
    parser.add_argument("--only", default="d,e,t,s,r,n", help="which tasks (d,e,t,s,r,n)")
    parser.add_argument("--convolutions", action="store_true",
                        help="also time three ways to stack a convolution")
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {one:.1f} / {five:.1f}")
    for key in args.only.split(","):
        result = _bench(key, args)
        ratio = result["fit"] / result["population"]
        verdict = "meets" if ratio >= TARGET else "MISSES"
        name = os.path.basename(TASKS[key])
        print(f"({key}) {name:<14} {args.epochs or EPOCHS[key]} epochs: "
              f"model.fit {result['fit']:6.2f} s/cell "
              f"({result['keras_cells']:.0f} cells) | population {result['population']:6.3f} "
              f"s/cell ({result['cells']:.0f} cells) | {ratio:5.1f}x ({verdict} {TARGET:.0f}x) | "
              f"warm-up {result['warm_up']:.1f} s", flush=True)
        print(f"    CPU time (all threads): model.fit {result['fit_cpu']:6.2f} s/cell | "
              f"population {result['population_cpu']:6.3f} s/cell | "
              f"{result['fit_cpu'] / result['population_cpu']:5.1f}x | "
              f"warm-up {result['warm_up_cpu']:.1f} s", flush=True)
    if args.convolutions:
        print("one stacked convolution layer, 32 members x 32 rows:")
        _convolutions()


if __name__ == "__main__":
    main()
