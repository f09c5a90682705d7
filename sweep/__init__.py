"""sweep: dropout grid sweeps (rate x placement x max-norm x seed) as Optuna studies."""

from __future__ import annotations

from .config import SweepConfig, build_config
from .exceptions import SweepError
from .grid import Cell, Group

__version__ = "0.1.0"

__all__ = ["Cell", "Group", "SweepConfig", "SweepError", "__version__", "build_config"]
