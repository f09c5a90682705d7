"""How long the report of a big sweep takes: load + summary + figures + HTML + dashboard figures.

Builds a synthetic study of 2,000 completed trials (168 cell groups: rates 0-0.9 x 3 placements
x 6 max-norms, 12 seeds, 16 cells still pending; 4,000-epoch curves stored as sweep stores
them, 50 intermediate values per trial as optuna-dashboard gets them) in a temp SQLite file,
then times ``write_report`` in this process: once cold (first plotly import included) and once
warm. Target: under 5 s and an HTML file of a few MB (plotly.js alone is about 4.8 MB).

    python benchmarks/bench_report.py [--db PATH]   # --db: build once, then reuse the file
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 5.0
STUDY = "bench"


def build(db: Path) -> None:
    from sweep.storage.synthetic import build_study

    start = time.perf_counter()
    build_study(f"sqlite:///{db}", STUDY, rates=[r / 10 for r in range(10)],
                placements=("input", "hidden", "both"), max_norms=(None, 1.0, 2.0, 3.0, 4.0, 5.0),
                seeds=12, epochs=4000, pending=16)
    print(f"built {db} in {time.perf_counter() - start:.0f} s (not timed below)")


def time_report(db: Path, out: Path) -> float:
    from sweep.report.html import build_panels, load_report_data, render_html, write_report
    from sweep.storage import open_study

    start = time.perf_counter()
    sweep_study = open_study(study_name=STUDY, storage_url=f"sqlite:///{db}", task=None,
                             settings=None, access="read")
    write_report(sweep_study, out)
    total = time.perf_counter() - start
    # the same steps one by one, to see where the time goes
    t0 = time.perf_counter()
    data = load_report_data(sweep_study)
    t1 = time.perf_counter()
    panels = build_panels(data)
    t2 = time.perf_counter()
    render_html(data, panels)
    t3 = time.perf_counter()
    print(f"  load+summary {t1 - t0:.2f} s, figures {t2 - t1:.2f} s, html {t3 - t2:.2f} s "
          f"({data.summary.n_complete} completed trials, {len(data.summary.groups)} groups)")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="study file to reuse (built if missing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if not db.exists():
            build(db)
        out = Path(tmp) / "report.html"
        for label in ("cold", "warm"):
            seconds = time_report(db, out)
            size = out.stat().st_size / 1e6
            print(f"report ({label}): {seconds:.2f} s = {seconds / TARGET_SECONDS:.2f} x the "
                  f"{TARGET_SECONDS:g} s target; HTML {size:.2f} MB")


if __name__ == "__main__":
    main()
