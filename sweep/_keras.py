"""Import Keras pinned to the TensorFlow backend, whatever the user's KERAS_BACKEND says."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from .exceptions import EngineError

BACKEND = "tensorflow"


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """TensorFlow's C++ start-up notices (oneDNN, CUDA probing) bypass its log level."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras() -> ModuleType:
    """Return the ``keras`` module on the TensorFlow backend (results depend on the backend)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = BACKEND
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _native_stderr_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices()  # device probing logs its CUDA notices here
        # the population engine compiles one program per population shape by design: TF's
        # "excessive retracing" advice (and its other Python-side notices) is not the user's
        tf.get_logger().setLevel("ERROR")
    import keras

    if keras.backend.backend() != BACKEND:
        raise EngineError(
            f"Keras was already imported on the {keras.backend.backend()!r} backend; "
            f"sweep needs {BACKEND!r}: unset KERAS_BACKEND or set it to {BACKEND}."
        )
    return keras
