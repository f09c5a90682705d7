"""XLA's persistent compilation cache (``sweep/_keras.py``): where it lives, how it is turned
off, and, in real processes, that a second run of the same sweep loads the programs the first
one compiled and trains to the same figures as a run without the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sweep._keras import CACHE_FLAG, compile_cache_directory, enable_compile_cache

from ..conftest import REPO

ARGS = ("run", "--study", "c", "--rates", "0,0.4", "--placements", "hidden", "--max-norms",
        "none", "--seeds", "2", "--epochs", "5", "--confirm", "0", "--no-progress")


def test_the_cache_is_a_folder_per_tensorflow_and_cpu(tmp_path: Path) -> None:
    env = {"SWEEP_XLA_CACHE": str(tmp_path / "c"), "TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    directory = enable_compile_cache(env)
    assert directory is not None and Path(directory).parent == tmp_path / "c"
    assert Path(directory).name.startswith("tf-") and Path(directory).is_dir()
    assert env["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 {CACHE_FLAG}={directory}"
    home = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert Path(compile_cache_directory(home) or "").parent == tmp_path / "xdg" / "sweep" / "xla"


def test_off_a_users_own_cache_flag_or_a_spaced_path_is_left_alone(tmp_path: Path) -> None:
    off = {"SWEEP_XLA_CACHE": "off"}
    assert enable_compile_cache(off) is None and "TF_XLA_FLAGS" not in off
    own = {"SWEEP_XLA_CACHE": str(tmp_path), "TF_XLA_FLAGS": f"{CACHE_FLAG}=/elsewhere"}
    assert enable_compile_cache(own) is None
    assert own["TF_XLA_FLAGS"] == f"{CACHE_FLAG}=/elsewhere" and not list(tmp_path.iterdir())
    spaced = {"SWEEP_XLA_CACHE": str(tmp_path / "my cache")}  # TF splits its flags at spaces
    assert enable_compile_cache(spaced) is None and "TF_XLA_FLAGS" not in spaced


def _run(cwd: Path, cache: str) -> str:
    """A small circles sweep in a fresh study; its summary as CSV. Neither command prints
    TensorFlow's log (reading a cache entry logs a failed text-format parse before the binary
    one succeeds)."""
    cwd.mkdir(exist_ok=True)
    # this process's own TF_XLA_FLAGS (its Keras, imported by an earlier test, names the
    # suite's cache) would be left as it is, as a user's is
    env = {**{k: v for k, v in os.environ.items()
              if k not in ("TF_XLA_FLAGS", "TF_CPP_MIN_LOG_LEVEL")},
           "PYTHONPATH": str(REPO), "SWEEP_XLA_CACHE": cache}
    for args in (ARGS, ("summary", "--study", "c", "--format", "csv")):
        result = subprocess.run([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "XlaSerializedCacheEntry" not in result.stderr, result.stderr
        assert not [line for line in result.stderr.splitlines()
                    if line.startswith(("E0000", "W0000", "I0000"))], result.stderr
    return result.stdout


def _entries(cache: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.rglob("*.pb")}


def test_a_second_process_loads_what_the_first_compiled(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _run(tmp_path / "first", str(cache))
    written = _entries(cache)
    assert written, "the first run persisted no compiled program"
    second = _run(tmp_path / "second", str(cache))
    after = _entries(cache)
    assert {name: after[name] for name in written} == written  # none rewritten
    # loaded, not compiled again: an entry's name is a hash of its program, so a program
    # compiled again would be a new name (a rare trace that differs would be one too)
    assert len(set(after) - set(written)) < len(written), (sorted(written), sorted(after))
    assert first == second == _run(tmp_path / "uncached", "off")
