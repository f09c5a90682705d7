"""Where one compiled step of the tutorial's population goes: an ablation profile.

XLA fuses a step into a handful of CPU loops, so a profiler's trace shows one opaque cluster; this
script measures the parts instead, each in its own compiled loop of ``--epochs`` iterations over
a 32-member population of the tutorial's MLP (2-500-1, 30 training rows, 70 test rows), built by
the engine's own functions:

- the whole program as the default sweep runs it (dropout masks on input and hidden layer, a
  MaxNorm), then the same program without masks, and without masks or MaxNorm;
- the parts alone: drawing the masks; the training forward and hand-derived backward pass;
  Adam's update of the four weights; the evaluation of the 70 test rows after the update.

Each figure is microseconds per member-epoch (median of ``--repeats``), beside the floating-point
work counted for that part and the rate it implies (GFLOP/s; the masks' integer hashing counted
as operations too). The CPU's peak for comparison: 2 cores x 2 FMA units x 8 float32 lanes x 2
flops per cycle (AVX2), about 32 flops per cycle per core.

    python benchmarks/profile_step.py [--epochs N] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from typing import Any

import numpy as np

MEMBERS, ROWS, TEST_ROWS, FEATURES, HIDDEN = 32, 30, 70, 2, 500


def _timed(function: Any, args: tuple[Any, ...], repeats: int) -> float:
    function(*args)  # compile
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        out = function(*args)
        np.asarray(out[0] if isinstance(out, tuple | list) else out)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000, help="iterations per loop (1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per part (5)")
    args = parser.parse_args()

    import tensorflow as tf

    from sweep.engines import _chain_dense as dense
    from sweep.engines._chain_evaluate import evaluated
    from sweep.engines._chain_forward import keep_multipliers
    from sweep.engines._chain_graph import ChainTraining
    from sweep.engines._chain_layers import KINDS
    from sweep.engines._chain_members import MemberBuilder, population_shape, stack
    from sweep.engines._population_rng import dropout_step_key
    from sweep.grid import Cell
    from sweep.tasks import get_task

    task = get_task("circles")
    data = task.load_data()
    build = MemberBuilder(task)
    placements = ("input", "hidden", "both")
    cells = [Cell(0.1 * (1 + k % 5), placements[k % 3], 2.0 if k % 2 else None, k)
             for k in range(MEMBERS)]
    members = [build(cell) for cell in cells]
    full = population_shape(members, MEMBERS, task.metric, ROWS, 32)
    population = stack(members, MEMBERS)
    epochs = args.epochs
    work = MEMBERS * epochs

    def program_time(shape: Any) -> float:
        training = ChainTraining(shape, population, (data.train_x, data.train_y),
                                 (data.test_x, data.test_y), epochs * (args.repeats + 1))
        training.train(epochs)  # compile
        seconds = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            training.train(epochs)
            seconds.append(time.perf_counter() - began)
        return statistics.median(seconds) / work

    no_masks = replace(full, dropout=tuple((False,) * len(KINDS) for _ in full.specs))
    neither = replace(no_masks, constrained=(False,) * len(full.specs))
    results = {"whole step (masks, MaxNorm)": program_time(full),
               "without masks": program_time(no_masks),
               "without masks or MaxNorm": program_time(neither)}

    weights = tuple(tf.constant(w, tf.float32) for w in population.weights)
    keys = tf.constant(population.keys.reshape(MEMBERS, 1, 1))
    rate = tf.constant(np.full((MEMBERS, 1, 1), 0.3, np.float32))
    scale = tf.constant(np.full((MEMBERS, 1, 1), 1 / 0.7, np.float32))
    x = tf.constant(np.broadcast_to(data.train_x, (MEMBERS, ROWS, FEATURES)), tf.float32)
    y = tf.constant(data.train_y.reshape(1, ROWS, 1), tf.float32)
    test = (tf.constant(data.test_x, tf.float32),
            tf.constant(data.test_y.reshape(TEST_ROWS, 1), tf.float32))

    def loop(body: Any) -> Any:
        @tf.function(jit_compile=True)
        def run() -> Any:
            return tf.while_loop(lambda i, acc: i < epochs,
                                 lambda i, acc: (i + 1, acc + body(i)),
                                 (tf.constant(0), tf.zeros(())))[1:]
        return run

    def masks(i: Any) -> Any:
        key = dropout_step_key(keys, i)
        a = keep_multipliers(full.specs[0], 0, 0, (FEATURES,), ROWS, key, rate, scale, None)
        b = keep_multipliers(full.specs[1], 0, 1, (HIDDEN,), ROWS, key, rate, scale, None)
        return tf.reduce_sum(a) + tf.reduce_sum(b)  # all of them: none is left out

    def forward_backward(i: Any) -> Any:
        moved = [w + tf.cast(i, tf.float32) * 1e-9 for w in weights]  # not hoisted
        _, _, grads = dense.gradients(full.specs, full.counts, full.loss, moved, x, y,
                                      [None, None])
        return sum(tf.reduce_sum(g) for g in grads)

    def adam(i: Any) -> Any:
        total = tf.zeros(())
        for w in weights:
            g = w * 1e-3 + tf.cast(i, tf.float32) * 1e-9
            new, _ = full.rule.apply(i, w, g, (tf.zeros_like(w), tf.zeros_like(w)))
            total += tf.reduce_sum(new)
        return total

    def evaluation(i: Any) -> Any:
        moved = tuple(w + tf.cast(i, tf.float32) * 1e-9 for w in weights)
        loss, metric = evaluated(full, moved, *test)
        return tf.reduce_sum(loss) + tf.reduce_sum(metric)

    for name, body in (("masks alone", masks), ("forward + backward alone", forward_backward),
                       ("Adam alone (4 weights)", adam), ("test evaluation alone", evaluation)):
        results[name] = _timed(loop(body), (), args.repeats) / work

    hidden_elements = ROWS * HIDDEN
    counted = {
        "forward + backward alone": 2 * ROWS * HIDDEN * (FEATURES + 1) * 3 + 8 * hidden_elements,
        "test evaluation alone": 2 * TEST_ROWS * HIDDEN * (FEATURES + 1) + 4 * TEST_ROWS * HIDDEN,
        "masks alone": 22 * ROWS * (HIDDEN + FEATURES),
        "Adam alone (4 weights)": 12 * (FEATURES * HIDDEN + 2 * HIDDEN + 1),
    }
    one, five, _ = os.getloadavg()
    print(f"{MEMBERS} members, {epochs} epochs per call, load average {one:.1f} / {five:.1f} on "
          f"{os.cpu_count()} cores")
    for name, seconds in results.items():
        ops = counted.get(name)
        rate_text = "" if ops is None else (
            f"; {ops / 1e3:.0f} k operations counted: {ops / seconds / 1e9:.1f} G/s")
        print(f"  {name:30s} {seconds * 1e6:6.2f} us per member-epoch{rate_text}")
    parts = sum(results[n] for n in counted)
    print(f"  parts together               {parts * 1e6:6.2f} us; the rest of the whole step "
          f"(loop, losses, metrics, curves, fusion across parts): "
          f"{(results['whole step (masks, MaxNorm)'] - parts) * 1e6:+.2f} us")


if __name__ == "__main__":
    main()
