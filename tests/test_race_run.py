"""``run --seeds auto`` for real: rounds enqueued as trials, decisions replayed from the stored
trials, a SIGKILL in the middle of a round resumed in that round, workers and PostgreSQL, the
report's race section, and the command line's errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import sweep
from sweep.grid import Group
from sweep.racing import RaceSettings, replay
from sweep.storage.schema import SETTINGS_ATTR

from .conftest import REPO, assert_error_line, cell_key, cli_in_process, poll_trials, run_cli
from .report.test_html import render_in_chromium, rendered_svgs, sections

GRID = ("--rates", "0,0.2,0.4,0.8", "--placements", "hidden,input", "--max-norms", "none,3",
        "--engine", "population", "--no-progress")
RACE = ("--seeds", "auto", "--first-seeds", "3", "--max-seeds", "12")
GROUPS = 14  # 3 dropout rates x 2 placements x 2 max-norms + 2 baselines


def _trials(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    trials = poll_trials(url, study)
    assert trials is not None
    return trials


def _values(trials: list[optuna.trial.FrozenTrial]) -> dict[Group, dict[int, float]]:
    from sweep.storage.schema import cell_from_params

    values: dict[Group, dict[int, float]] = {}
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            cell = cell_from_params(trial.params)
            assert cell is not None and trial.value is not None
            values.setdefault(cell.group, {})[cell.seed] = trial.value
    return values


def _assert_each_cell_once(trials: list[optuna.trial.FrozenTrial]) -> None:
    complete = Counter(cell_key(t) for t in trials if t.state == TrialState.COMPLETE)
    assert set(complete.values()) == {1}
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def _replayed(trials: list[optuna.trial.FrozenTrial]) -> tuple[list[Group], object]:
    values = _values(trials)
    groups = list(values)
    assert len(groups) == GROUPS
    return groups, replay(values, groups, RaceSettings(n0=3, max_seeds=12))


@pytest.fixture(scope="module")
def race_demo(tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The README's race demo (the grid above, 300 epochs), run once as written in a clone's
    layout; the tests below read its study, its output and its report."""
    from .test_readme import shell

    root = tmp_path_factory.mktemp("race-demo")
    (root / ".venv").symlink_to(Path(sys.prefix))
    demo, _, _ = race_block_lines()
    result = shell(demo, root)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return root, result


@pytest.mark.xdist_group("race-demo")
def test_a_race_runs_its_rounds_and_reports_what_it_decided(
    race_demo: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    from .test_readme import shell

    root, result = race_demo
    trials = _trials(f"sqlite:///{root}/studies/race-demo.db", "race-demo")
    _assert_each_cell_once(trials)
    groups, state = _replayed(trials)
    # every group got the first 3 seeds; only the groups still racing got more
    per_group = Counter(Group(c.rate, c.placement, c.max_norm) for c in
                        (_cell(t) for t in trials if t.state == TrialState.COMPLETE))
    assert min(per_group.values()) == 3
    assert sum(per_group.values()) < GROUPS * 12
    assert state.next_seeds is None and state.ended  # type: ignore[attr-defined]
    looks = state.looks  # type: ignore[attr-defined]
    for look in looks:
        assert f"round {look.round + 1} ({look.seeds} seeds, {len(look.racing)} groups" in (
            result.stdout)
    assert "Does the best dropout group beat no dropout?" in result.stdout
    assert f"Cells: {sum(per_group.values()):,} raced" in result.stdout
    shown = cli_in_process("status", "--study", "race-demo", cwd=root)
    assert shown.returncode == 0, shown.stderr
    status = shown.stdout
    assert "race (round, against, Holm p)" in status
    # one row per distinct result: a group identical to another on every seed is that row
    stats = sweep.load_summary("race-demo", f"sqlite:///{root}/studies/race-demo.db").stats
    shown = [v for look in looks for v in look.eliminated
             if (g := stats.get(v.group)) is None or g.identical_to is None]
    assert status.count(" eliminated r") == len(shown) > 0
    for look in looks:  # each elimination under its round
        assert status.count(f" eliminated r{look.round + 1} vs ") == len(
            [v for v in shown if v in look.eliminated])
    assert "race: round 1 gives 14 groups 3 seeds each" in result.stderr
    stored = optuna.load_study(study_name="race-demo",
                               storage=f"sqlite:///{root}/studies/race-demo.db")
    race = stored.user_attrs[SETTINGS_ATTR]["race"]
    assert (race["first_seeds"], race["max_seeds"], race["alpha"], race["margin"]) == (
        3, 12, 0.05, 0.005)
    # the report: the race's answer is the headline, and its section lists every group
    page = (root / "dashboards" / "race-demo.html").read_text()
    assert 'id="section-race"' in page and page.count("<tr") >= GROUPS
    assert "Does the best dropout group beat no dropout?" in page.split("section-race")[0]
    dom, log = render_in_chromium(root / "dashboards" / "race-demo.html", tmp_path / "profile")
    found = sections(dom)
    assert found["race"].count("<tr") == GROUPS + 1  # the header and one row per group
    assert len(re.findall(r'<tr class="best"', found["race"])) == 1
    assert rendered_svgs(found["rate-vs-test"]) >= 1 and "Uncaught" not in log
    # run again: the race is over, nothing is trained, the decision is the same
    demo, _, _ = race_block_lines()
    again = shell(demo, root)
    assert again.returncode == 0, again.stderr
    assert "0 cell(s) trained now" in again.stdout
    answer = [line for line in result.stdout.splitlines() if line.startswith("Does the best")]
    assert answer and answer[0] in again.stdout


def _cell(trial: optuna.trial.FrozenTrial):  # type: ignore[no-untyped-def]
    from sweep.storage.schema import cell_from_params

    return cell_from_params(trial.params)


def test_sigkill_in_the_middle_of_a_round_resumes_in_that_round(workdir: Path) -> None:
    """The run SIGKILLs itself right after recording its first cells of round 2 (a
    test-only wrapper, ``tests/_killed_after.py``): the kill lands inside round 2 whatever the
    machine's load."""
    args = ("run", "--study", "race", *GRID, *RACE, "--epochs", "400", "--cells-per-claim", "2",
            "--heartbeat-seconds", "1")
    url = f"sqlite:///{workdir}/studies/race.db"
    first_round = GROUPS * 3
    process = subprocess.run(
        [sys.executable, "-m", "tests._killed_after", str(first_round), *args], cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=600)
    assert process.returncode == -9, process.stderr
    killed = _trials(url, "race")
    _, state = _replayed(killed)
    assert len(state.looks) == 1 and state.next_seeds == 6  # type: ignore[attr-defined]
    second = {cell_key(t) for t in killed if t.state != TrialState.COMPLETE}
    assert second, "the kill left round 2 unfinished"
    assert sum(t.state == TrialState.COMPLETE for t in killed) == first_round + 2  # one claim

    rerun = cli_in_process(*args, cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    trials = _trials(url, "race")
    _assert_each_cell_once(trials)
    _, final = _replayed(trials)
    assert final.next_seeds is None  # type: ignore[attr-defined]
    complete_at_kill = sum(t.state == TrialState.COMPLETE for t in killed)
    assert f"{complete_at_kill} cell(s) already complete" in rerun.stderr
    assert "race after round 1 (3 seeds)" in rerun.stderr  # it went on in round 2
    # the decisions of round 1 are the ones the killed run made: replayed from stored trials
    assert final.looks[0] == state.looks[0]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_race_with_worker_processes_on_postgresql(postgres: object, tmp_path: Path) -> None:
    url = postgres.create_database("sweep_race")  # type: ignore[attr-defined]
    result = run_cli("run", "--study", "race", "--storage", url, *GRID, *RACE, "--epochs", "100",
                     "--workers", "2", "--cells-per-claim", "8", cwd=tmp_path, check=True)
    trials = _trials(url, "race")
    _assert_each_cell_once(trials)
    _, state = _replayed(trials)
    assert state.next_seeds is None  # type: ignore[attr-defined]
    status = cli_in_process("status", "--study", "race", "--storage", url, "--json",
                            cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["cells"]["complete"] == sum(
        t.state == TrialState.COMPLETE for t in trials)
    assert "Does the best dropout group beat no dropout?" in result.stdout


@pytest.mark.parametrize(("flags", "fragment"), [
    (("--seeds", "auto,3"), "seeds: 'auto,3' mixes 'auto' with seeds"),
    (("--seeds", "5", "--max-seeds", "20"), "max_seeds: --max-seeds sets a race over seeds"),
    (("--alpha", "0.01"), "alpha: --alpha sets a race over seeds"),
    (("--seeds", "auto", "--first-seeds", "5", "--max-seeds", "3"),
     "max_seeds: 3 is below the race's first seeds per group (5)"),
    (("--seeds", "auto", "--first-seeds", "1"), "first_seeds: 1 is too few for a paired test"),
    (("--seeds", "auto", "--alpha", "0.7"), "alpha: 0.7 must be > 0 and < 0.5"),
    (("--seeds", "auto", "--margin", "0"), "margin: 0 must be > 0"),
    (("--seeds", "auto", "--max-seeds", "many"), "max_seeds: 'many' is not a whole number"),
    (("--seeds", "auto", "--rates", "0.4", "--placements", "hidden", "--max-norms", "none"),
     "a race needs at least two groups"),
])
def test_race_settings_errors(workdir: Path, flags: tuple[str, ...], fragment: str) -> None:
    result = cli_in_process("run", "--study", "bad", *flags, cwd=workdir)
    assert_error_line(result, fragment)
    assert not (workdir / "studies" / "bad.db").exists()


def test_a_fixed_run_cannot_join_a_race_nor_a_race_a_fixed_study(workdir: Path) -> None:
    tiny = ("--rates", "0,0.8", "--placements", "input", "--max-norms", "none", "--epochs",
            "5", "--engine", "population", "--no-progress")
    raced = cli_in_process("run", "--study", "r", *tiny, "--seeds", "auto", "--max-seeds", "5",
                           cwd=workdir)
    assert raced.returncode == 0, raced.stderr
    assert_error_line(cli_in_process("run", "--study", "r", *tiny, "--seeds", "3",
                                     cwd=workdir), "race: study has")
    fixed = cli_in_process("run", "--study", "f", *tiny, "--seeds", "3", cwd=workdir)
    assert fixed.returncode == 0, fixed.stderr
    assert_error_line(cli_in_process("run", "--study", "f", *tiny, "--seeds", "auto",
                                     cwd=workdir), "race: study has None")


def test_a_race_has_its_own_default_study() -> None:
    """`python -m sweep run --seeds auto` after the default sweep must not meet its study."""
    from sweep.config import SweepConfig

    assert SweepConfig(seeds="auto").study_name == "tutorial-race"
    assert SweepConfig().study_name == "tutorial"
    assert SweepConfig(task="digits-cnn", seeds="auto").study_name == "digits-cnn-race"


def test_a_race_bar_counts_whole_cells_and_its_rounds_are_lines_of_their_own(
        workdir: Path) -> None:
    """The bar of a race (no total) as a user's terminal gets it: whole cells, never
    "0.42cell"; each round's line is written above the bar (the bar cleared first), never
    glued to its end."""
    result = cli_in_process("run", "--study", "bar", "--rates", "0,0.8", "--placements",
                            "input", "--max-norms", "none", "--epochs", "5", "--engine",
                            "population", "--seeds", "auto", "--first-seeds", "2",
                            "--max-seeds", "8", cwd=workdir)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    rounds = re.findall(r"race after round \d[^\r\n]*", err)
    assert len(rounds) >= 2, err  # logged while the bar was shown
    for line in rounds:
        before = err[:err.index(line)]
        assert re.search(r"[\r\n] *\r?$", before), repr(before[-200:])  # not after the bar
        assert err[err.index(line) + len(line)] == "\n"
    counts = re.findall(r"cells: (\S+)", err)
    assert counts and all(re.fullmatch(r"\d+", count) for count in counts), counts


def test_toml_seeds_auto(workdir: Path) -> None:
    config = workdir / "raced.toml"
    config.write_text('rates = "0,0.8"\nplacements = ["input"]\nmax_norms = ["none"]\n'
                      'seeds = "auto"\nmax_seeds = 5\nepochs = 5\nengine = "population"\n')
    result = cli_in_process("run", "--config", str(config), "--no-progress", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Race over seeds (--seeds auto): every group starts with 5 seeds" in result.stdout


def race_block_lines() -> list[str]:
    """The racing guide's block (docs/how-to/racing.md): the demo, its status, the default grid
    raced."""
    from ._blocks import RACING, block_lines

    return block_lines(RACING, "# Racing over seeds: `--seeds auto`")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


@pytest.mark.xdist_group("race-demo")
def test_the_readme_race_demo_as_written(
    race_demo: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    from .test_readme import run_line

    root, result = race_demo
    demo, status, default = race_block_lines()
    assert "--study race-demo" in demo and "--study race-demo --json" in status
    assert default.endswith("run --seeds auto")
    assert "Does the best dropout group beat no dropout?" in result.stdout
    race = json.loads(run_line(status, root))["race"]
    assert race["ended"] and race["answer"]["verdict"] in ("yes", "no", "tie", "undecided")
    assert race["cells_used"] == sum(g["seeds"] for g in race["groups"])
    assert len(race["groups"]) == GROUPS


@pytest.mark.slow
def test_the_readme_default_grid_race_as_written(clone: Path) -> None:
    """The default grid (168 groups, 4,000 epochs), raced: decided with fewer cells than the
    fixed 10-seed sweep's 1,680, and the answer about hidden-layer dropout stated."""
    from .test_readme import run_line

    *_, default = race_block_lines()
    out = run_line(default, clone)
    cells = int(out.split("Cells: ")[1].split(" raced")[0].replace(",", ""))
    assert cells < 1680
    answer = next(line for line in out.splitlines() if line.startswith("Does the best"))
    assert "Holm p" in answer and "hidden" in answer
