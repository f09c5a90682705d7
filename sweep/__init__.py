"""sweep: dropout grid sweeps (rate x placement x max-norm x seed) as Optuna studies.

The public API (docs/how-to/python-api.md; every name in docs/reference/python-api.md)::

    import sweep

    summary = sweep.run(sweep.SweepConfig(study="demo", rates="0,0.4", seeds=5, epochs=300))
    summary.headline, summary.groups          # a sentence; a pandas DataFrame
    sweep.load_summary("demo")                # read back later, from any process
    sweep.write_report("demo")                # dashboards/demo.html

Importing ``sweep`` loads neither TensorFlow nor plotly; they load when a sweep trains or a
report is drawn.
"""

from __future__ import annotations

from .api import Summary, load_summary, open_study, run, write_report
from .config import SweepConfig, build_config
from .exceptions import SweepError, SweepInterrupted
from .grid import Cell, Group
from .tasks import Dataset, Task

__version__ = "0.1.0"

__all__ = [
    "Cell", "Dataset", "Group", "Summary", "SweepConfig", "SweepError", "SweepInterrupted",
    "Task", "__version__", "build_config", "load_summary", "open_study", "run", "write_report",
]
