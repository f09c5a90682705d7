from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweep.config import build_config, read_config_file
from sweep.exceptions import ConfigError
from sweep.values import parse_max_norms, parse_rates, parse_seeds


def test_rate_range_is_inclusive_and_rounded() -> None:
    assert parse_rates("0:0.9:0.1") == tuple(round(r / 10, 6) for r in range(10))
    assert parse_rates("0,0.4") == (0.0, 0.4)
    assert parse_rates([0.5]) == (0.5,)


def test_seeds_count_or_list() -> None:
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds(2) == (0, 1)
    assert parse_seeds("4,7") == (4, 7)
    assert parse_seeds([5]) == (5,)


def test_max_norms_none_and_numbers() -> None:
    assert parse_max_norms("none,1,3") == (None, 1.0, 3.0)
    assert parse_max_norms(["none", 2]) == (None, 2.0)


def test_precedence_defaults_then_file_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('rates = [0.1, 0.2]\nepochs = 50\nseeds = 2\n')
    config = build_config(read_config_file(path), {"epochs": "7", "rates": None})
    assert config.study == "mine"  # from the file name
    assert config.rates == (0.1, 0.2)  # from the file, flag not given
    assert config.epochs == 7  # flag beats file
    assert config.placements == ("input", "hidden", "both")  # default
    assert config.storage_url == "sqlite:///studies/mine.db"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"rates": "1.0"}, "outside [0, 1)"),
        ({"rates": "-0.1"}, "outside [0, 1)"),
        ({"placements": "output"}, "not a placement"),
        ({"max_norms": "0"}, "must be > 0"),
        ({"max_norms": "-2"}, "must be > 0"),
        ({"seeds": "0"}, "must be >= 1"),
        ({"seeds": "1,-3"}, "negative"),
        ({"epochs": "0"}, "epochs"),
        ({"epochs": "ten"}, "not a whole number"),
        ({"task": "circle"}, "did you mean 'circles'"),
        ({"engine": "keras2"}, "unknown engine"),
        ({"mc_passes": "-1"}, "mc_passes: -1 must be >= 0"),
        ({"mc_passes": "10001"}, "mc_passes: 10,001 is more than 10,000"),
        ({"mc_passes": "many"}, "mc_passes: 'many' is not a whole number"),
    ],
)
def test_invalid_settings_name_the_problem(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_config(None, flags)


def test_unknown_key_names_closest(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text("rate = [0.1]\n")
    with pytest.raises(ConfigError, match="unknown key 'rate'; did you mean 'rates'"):
        read_config_file(path)


def test_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("rates = [0.1,\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(path)


def test_shipped_sweeps_are_valid() -> None:
    studies = Path(__file__).resolve().parents[1] / "studies"
    for path in sorted(studies.glob("*.toml")):
        build_config(read_config_file(path))
    assert len(build_config(read_config_file(studies / "tutorial.toml")).cells()) == 1680
    for name in ("digits-cnn", "sequence-lstm"):  # the README's default CNN and LSTM sweeps
        config = build_config(read_config_file(studies / f"{name}.toml"))
        assert (len(config.cells()), config.resolved_engine, config.resolved_epochs) == (
            280, "population", 60)
    text = build_config(read_config_file(studies / "text-gru.toml"))  # = --task text-gru's grid
    assert text.cells() == build_config({"task": "text-gru"}).cells()
    assert (len(text.cells()), text.resolved_engine, text.resolved_epochs, text.mc_passes) == (
        280, "population", 15, 10)


def test_mc_passes_default_and_off() -> None:
    assert build_config(None, {}).mc_passes == 50
    assert build_config(None, {"mc_passes": "0"}).mc_passes == 0


def test_a_config_built_in_python_is_parsed_and_checked() -> None:
    from sweep.config import SweepConfig

    config = SweepConfig(study="py", rates="0:0.4:0.2", seeds=3, max_norms=[None, 3])
    assert config.rates == (0.0, 0.2, 0.4)
    assert config.seeds == (0, 1, 2)
    assert config.max_norms == (None, 3.0)
    assert config.placements == ("input", "hidden", "both")  # the task's
    assert SweepConfig(task="digits-cnn").placements == ("pooling", "spatial", "both")
    with pytest.raises(ConfigError, match="rates: 1.5 is outside"):
        SweepConfig(rates=[0, 1.5])
    with pytest.raises(ConfigError, match="not a placement of task 'circles'"):
        SweepConfig(placements=["pooling"])
