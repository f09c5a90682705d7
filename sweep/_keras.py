"""Import Keras pinned to the TensorFlow backend, whatever the user's KERAS_BACKEND says, with
XLA's persistent compilation cache on.

The population engine compiles one XLA program per population shape, which takes seconds (a
CNN or LSTM population: about 15 s here) in every process that trains: a resumed run, each
worker, the next sweep of the same model. TensorFlow can keep compiled programs on disk
(``--tf_xla_persistent_cache_directory``): an entry is written to a temporary file and renamed
into place, so concurrent workers never read half of one, and a program is loaded only if its
whole HLO equals the stored one. The cache lives in ``$SWEEP_XLA_CACHE``, by default
``$XDG_CACHE_HOME/sweep/xla`` (``~/.cache/sweep/xla``), in a folder per TensorFlow version and
CPU (a compiled program is machine code for this CPU); ``SWEEP_XLA_CACHE=off`` turns it off, and
a ``TF_XLA_FLAGS`` that already names a cache directory is left as it is. TensorFlow reads each
entry first as a text-format protocol buffer, and protobuf logs that failed attempt at ERROR
level ("Error parsing text-format tensorflow.XlaSerializedCacheEntry") before the binary read
succeeds: TensorFlow's C++ log therefore defaults to ``TF_CPP_MIN_LOG_LEVEL=3`` (errors reach
sweep as Python exceptions, which it reports in its own words); a user's own setting is kept.

Each process trains with one intra-op thread unless ``TF_NUM_INTRAOP_THREADS`` says otherwise:
a sweep's programs are many small operations, which a second thread only slows (measured here:
224 circles cells on the population engine, 39 s with one thread against 42 s with two, and 30%
less CPU; ``model.fit`` no slower); ``--workers`` is how a sweep uses more cores.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from .exceptions import EngineError

BACKEND = "tensorflow"
CACHE_FLAG = "--tf_xla_persistent_cache_directory"


def compile_cache_directory(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """The XLA cache directory for this TensorFlow and CPU, or None when it is off."""
    chosen = environ.get("SWEEP_XLA_CACHE", "")
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if not chosen:
        base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(base, "sweep", "xla")
    from importlib import metadata

    try:
        version = metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return os.path.join(chosen, f"tf-{version}-{platform.machine()}-{_cpu_fingerprint()}")


def _cpu_fingerprint() -> str:
    """A short hash of this CPU's model and instruction-set flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            lines = [line for line in info if line.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = [platform.processor()]
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:12]


def enable_compile_cache(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """Add the cache directory to ``TF_XLA_FLAGS`` (before TensorFlow reads its flags); the
    directory, or None when it is off, already chosen by the user, cannot be written, or has
    white space in its path (``TF_XLA_FLAGS`` is split at spaces)."""
    flags = environ.get("TF_XLA_FLAGS", "")
    if CACHE_FLAG in flags:
        return None
    directory = compile_cache_directory(environ)
    if directory is None or any(c.isspace() for c in directory):
        return None
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    if not os.access(directory, os.W_OK):
        return None
    environ["TF_XLA_FLAGS"] = f"{flags} {CACHE_FLAG}={directory}".strip()
    return directory


def one_intra_op_thread(tf: ModuleType, environ: dict[str, str] | os._Environ[str]) -> bool:
    """Give TensorFlow one intra-op thread, unless ``TF_NUM_INTRAOP_THREADS`` is set or its
    runtime already started (a notebook's own TensorFlow work); whether it was set."""
    threading = tf.config.threading
    if environ.get("TF_NUM_INTRAOP_THREADS") or threading.get_intra_op_parallelism_threads():
        return False
    try:
        threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:  # "cannot be modified after initialization"
        return False
    return True


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
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # see the module docstring
        if "tensorflow" not in sys.modules:  # it reads TF_XLA_FLAGS once
            enable_compile_cache(os.environ)
        with _native_stderr_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices()  # device probing logs its CUDA notices here
        one_intra_op_thread(tf, os.environ)
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
