"""How long optuna-dashboard takes to open a sweep study: cold first load, warm reload, JSON size.

For each of ``--repeats`` rounds, starts a fresh ``optuna-dashboard`` server (its own process,
the venv's console script) on a free port, waits until ``GET /api/meta`` answers, then times
``GET /api/studies`` and ``GET /api/studies/<id>`` (cold: the first load after start), waits
out the dashboard's trial cache (10 s for 500 trials or more) and times ``GET
/api/studies/<id>`` again (warm: the trials are read from the database again, in a warm
process), and once more at once (cached: only serialisation). Prints each round, the medians,
the response sizes, bytes per trial and which part of a trial's JSON takes them. Target: the
cold study load under 2 s for the default study (``python -m sweep run``: 1,680 trials).

Without ``--db`` it builds a synthetic study of 1,680 trials written as ``SweepStudy.record``
writes them (about two minutes, not timed). ``--profile FILE`` runs one more cold round with
the server under cProfile and prints where its time went.

    python benchmarks/bench_dashboard.py [--db studies/tutorial.db] [--study tutorial]
                                         [--repeats 3] [--profile /tmp/dashboard.prof]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

TARGET_SECONDS = 2.0
TRIALS_CACHE_TTL = 10.0  # optuna_dashboard._storage.get_trials, 500 trials or more
DASHBOARD = Path(sys.executable).with_name("optuna-dashboard")


def build(db: Path, study: str) -> None:
    from sweep.storage.synthetic import build_study

    start = time.perf_counter()
    build_study(f"sqlite:///{db}", study, rates=[r / 10 for r in range(10)],
                placements=("input", "hidden", "both"), max_norms=(None, 1.0, 2.0, 3.0, 4.0, 5.0),
                seeds=10, epochs=4000)
    print(f"built {db} in {time.perf_counter() - start:.0f} s (not timed below)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as response:
        body: bytes = response.read()
    return time.perf_counter() - start, body


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """A fresh optuna-dashboard process; ``profile``: run it under cProfile into that file."""

    def __init__(self, db: Path, profile: Path | None = None) -> None:
        self.port = free_port()
        if profile is None:
            command = [str(DASHBOARD), f"sqlite:///{db}", "--host", "127.0.0.1",
                       "--port", str(self.port), "--quiet"]
        else:
            command = [sys.executable, __file__, "--db", str(db), "--serve-profiled",
                       str(profile), str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                get(self.port, "/api/meta")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                    self.stop()
                    raise RuntimeError(f"optuna-dashboard did not start:\n{stderr}") from None
                time.sleep(0.1)

    def timed_get(self, path: str) -> tuple[float, float, bytes]:
        """(wall seconds, the server's CPU seconds, body) of one request."""
        cpu = cpu_seconds(self.process.pid)
        seconds, body = get(self.port, path)
        return seconds, cpu_seconds(self.process.pid) - cpu, body

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve_profiled(db: Path, profile: Path, port: int) -> None:
    """optuna-dashboard's app as its CLI builds it, on one thread, profiling each
    ``/api/studies/<id>`` request into ``profile`` (cProfile of the CLI process would miss
    the request threads)."""
    import cProfile
    from collections.abc import Callable, Iterable
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from optuna.storages import RDBStorage
    from optuna_dashboard import wsgi

    app = wsgi(RDBStorage(f"sqlite:///{db}", skip_compatibility_check=True,
                          skip_table_creation=True))
    profiler = cProfile.Profile()

    def profiled(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ["PATH_INFO"].startswith("/api/studies/"):
            return app(environ, start_response)
        profiler.enable()
        try:
            return list(app(environ, start_response))
        finally:
            profiler.disable()
            profiler.dump_stats(profile)

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - wsgiref's name
            pass

    make_server("127.0.0.1", port, profiled, handler_class=Quiet).serve_forever()


def study_id(body: bytes, name: str) -> int:
    for summary in json.loads(body)["study_summaries"]:
        if summary["study_name"] == name:
            return int(summary["study_id"])
    raise SystemExit(f"no study {name!r} in the database")


def one_round(db: Path, name: str, warm: bool) -> dict[str, Any]:
    server = Server(db)
    try:
        studies_s, studies = get(server.port, "/api/studies")
        path = f"/api/studies/{study_id(studies, name)}"
        cold_s, cold_cpu, detail = server.timed_get(path)
        result = {"studies_s": studies_s, "studies_bytes": len(studies), "cold_s": cold_s,
                  "cold_cpu": cold_cpu, "detail": detail}
        if warm:
            time.sleep(TRIALS_CACHE_TTL + 0.5)
            result["warm_s"], result["warm_cpu"], _ = server.timed_get(path)
            result["cached_s"], _, _ = server.timed_get(path)
        return result
    finally:
        server.stop()


def breakdown(detail: bytes) -> str:
    """Bytes per trial of each part of a trial's JSON, largest first."""
    trials = json.loads(detail)["trials"]
    parts: dict[str, int] = {}
    for trial in trials:
        for key, value in trial.items():
            parts[key] = parts.get(key, 0) + len(json.dumps(value)) + len(key) + 4
    n = max(1, len(trials))
    largest = sorted(parts.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{key} {size / n:.0f}" for key, size in largest if size / n >= 20)


def profile(db: Path, name: str, out: Path) -> None:
    import pstats

    server = Server(db, profile=out)
    try:
        _, studies = get(server.port, "/api/studies")
        seconds, _ = get(server.port, f"/api/studies/{study_id(studies, name)}")
    finally:
        server.stop()
    print(f"\nprofiled cold load (cProfile overhead included): {seconds:.2f} s; {out}")
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="study file to measure (built if missing)")
    parser.add_argument("--study", default="tutorial", help="study name (default tutorial)")
    parser.add_argument("--repeats", type=int, default=3, help="cold rounds (default 3)")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm/cached reloads")
    parser.add_argument("--profile", type=Path, help="also profile one cold load into FILE")
    parser.add_argument("--serve-profiled", nargs=2, help=argparse.SUPPRESS)  # FILE PORT
    args = parser.parse_args()
    if args.serve_profiled:
        serve_profiled(args.db, Path(args.serve_profiled[0]), int(args.serve_profiled[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if not db.exists():
            build(db, args.study)
        rounds = []
        for i in range(args.repeats):
            r = one_round(db, args.study, warm=not args.no_warm)
            rounds.append(r)
            extra = ("" if args.no_warm else
                     f", warm {r['warm_s']:.2f} s, cached {r['cached_s']:.2f} s")
            print(f"round {i + 1}: /api/studies {r['studies_s']:.3f} s, "
                  f"/api/studies/<id> cold {r['cold_s']:.2f} s (server CPU "
                  f"{r['cold_cpu']:.2f} s){extra}")
        detail = rounds[-1]["detail"]
        n_trials = len(json.loads(detail)["trials"])
        cold = statistics.median(r["cold_s"] for r in rounds)
        print(f"\n{db} ({db.stat().st_size / 1e6:.1f} MB), study {args.study!r}, "
              f"{n_trials} trials, median of {len(rounds)} fresh servers:")
        print(f"  GET /api/studies        {statistics.median(r['studies_s'] for r in rounds):.3f} s"
              f", {rounds[-1]['studies_bytes']:,} bytes")
        cold_cpu = statistics.median(r["cold_cpu"] for r in rounds)
        print(f"  GET /api/studies/<id>   cold {cold:.2f} s = {cold / TARGET_SECONDS:.2f} x the "
              f"{TARGET_SECONDS:g} s target (server CPU {cold_cpu:.2f} s); {len(detail):,} bytes "
              f"({len(detail) / max(1, n_trials):,.0f} per trial)")
        if not args.no_warm:
            warm = statistics.median(r["warm_s"] for r in rounds)
            warm_cpu = statistics.median(r["warm_cpu"] for r in rounds)
            cached = statistics.median(r["cached_s"] for r in rounds)
            print(f"{'':26}warm {warm:.2f} s (server CPU {warm_cpu:.2f} s; after the "
                  f"{TRIALS_CACHE_TTL:g} s trial cache), cached {cached:.2f} s")
        print(f"  bytes per trial by part: {breakdown(detail)}")
        if args.profile:
            profile(db, args.study, args.profile)


if __name__ == "__main__":
    main()
