"""One intra-op thread per process (``sweep/_keras.py``), in real processes: set when sweep
imports Keras, left alone when the user's environment names a count or the user's own
TensorFlow work has already started the runtime."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..conftest import REPO

PROBE = """
import sys
if sys.argv[1] == "started":
    import tensorflow as tf
    tf.constant(1.0) + 1.0  # the user's own work starts TensorFlow's runtime first
from sweep._keras import import_keras
import_keras()
import tensorflow as tf
print(tf.config.threading.get_intra_op_parallelism_threads())
"""


def _threads(first: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, first], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"},
             "PYTHONPATH": str(REPO), **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


@pytest.mark.parametrize(("first", "env", "threads"), [
    ("sweep", {}, "1"),
    ("sweep", {"TF_NUM_INTRAOP_THREADS": "2"}, "0"),  # 0: TensorFlow's own choice (the env)
    ("started", {}, "0"),
])
def test_one_intra_op_thread_unless_the_user_chose(first: str, env: dict[str, str],
                                                   threads: str) -> None:
    assert _threads(first, **env) == threads
