"""One direction of dependencies (README "Architecture"), held by import-linter, by importing and checking the project
with each feature app left out of INSTALLED_APPS, and by running the core's tests with all of them left out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
FEATURES = (
    "tags",
    "ingest",
    "didcomm",
    "credentials",
    "makers",
    "inventory",
    "upkeep",
    "bulk",
    "fleets",
    "imports",
    "handover",
    "firmware",
    "support",
    "moves",
)
# The tests of the layers below the features (the API's are the twins' and owners' own).
CORE_TESTS = ("tests/core", "tests/owners", "tests/twins", "tests/api")


def _run(args: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600, check=False
    )


def test_import_contracts_hold_with_no_ignored_imports():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert all(not contract.get("ignore_imports") for contract in config["contracts"])
    result = _run([LINT_IMPORTS, "--no-cache"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_the_contract_catches_a_wrong_way_import_inside_a_function(tmp_path):
    """The same contracts over a tiny tree in which twins imports a feature inside a function body."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for package in config["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "tags" / "models.py").write_text("X = 1\n")
    (tmp_path / "twins" / "transfer.py").write_text(
        textwrap.dedent(
            """
            def transfer_complete():
                from tags.models import X

                return X
            """
        )
    )
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = _run([LINT_IMPORTS, "--no-cache"], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0
    assert "twins.transfer -> tags.models" in result.stdout


WALK = (
    "import django, importlib, pkgutil; django.setup(); "
    "[importlib.import_module(m.name) for p in ('core', 'owners', 'twins') "
    "for m in pkgutil.walk_packages(importlib.import_module(p).__path__, p + '.') if '.migrations.' not in m.name]"
)


def _steps(without: str, folder: Path, steps: list[list[str]]) -> tuple[subprocess.CompletedProcess, ...]:
    """Run `steps` with the apps named in `without` left out; each step only if the one before passed."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings_without",
        "THINGSTEAD_WITHOUT": without,
        "DATABASE_URL": f"sqlite:///{folder / without.replace(',', '-')}.sqlite3",
    }
    done: list[subprocess.CompletedProcess] = []
    for step in steps:
        done.append(_run(step, env=env))
        if done[-1].returncode != 0:
            break
    return tuple(done)


IMPORT_AND_CHECK = [[sys.executable, "-c", WALK], [sys.executable, "manage.py", "check"]]
CORE_TEST_RUN = [[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE_TESTS]]
ALL = ",".join(FEATURES)


@pytest.fixture(scope="module")
def runs_without(tmp_path_factory) -> dict[str, Future]:
    """Every feature's import-and-check run, and one run of the core's tests with every feature left out, two at a
    time (one per core): the outer tests only wait for them.

    The core's tests run once, with no feature at all, rather than once per feature: with none installed, no seam
    has a subscriber, so every path a left-out feature would leave empty is empty at once (the main run covers them
    all installed). Per feature, what can differ is whether the project imports and checks with that app and
    those standing on it gone, and that runs for each."""
    folder = tmp_path_factory.mktemp("without")
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {ALL: pool.submit(_steps, ALL, folder, IMPORT_AND_CHECK + CORE_TEST_RUN)}
    futures |= {feature: pool.submit(_steps, feature, folder, IMPORT_AND_CHECK) for feature in FEATURES}
    yield futures
    pool.shutdown(wait=True)


@pytest.mark.parametrize("feature", FEATURES)
def test_the_project_imports_and_checks_with_a_feature_app_removed(feature, runs_without):
    """Every module of core, owners and twins imports and `manage.py check` passes with `feature` left out of
    INSTALLED_APPS (config/settings_without.py; its routes go with it, and so do the features standing on it)."""
    imported, *rest = runs_without[feature].result()
    assert imported.returncode == 0, imported.stderr
    (checked,) = rest
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_twins_owners_and_core_work_with_every_feature_app_removed(runs_without):
    """The tests of core, owners and twins (and the API's) pass with no feature app installed. On SQLite whatever
    the outer run uses: the outer run holds its own test database."""
    imported, checked, *rest = runs_without[ALL].result()
    assert imported.returncode == 0, imported.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tests,) = rest
    assert tests.returncode == 0, tests.stdout[-5000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout.splitlines()[-1]


def test_every_app_of_the_project_is_under_the_contract():
    """A new app (makers, credentials, fleets...) must be placed in the layers, or the contract would not see it."""
    from django.apps import apps

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    ours = {app.name for app in apps.get_app_configs() if Path(app.path).parent == ROOT}
    assert ours | {"config", "ssi", "device"} == set(config["root_packages"])
    layers = next(contract for contract in config["contracts"] if contract["type"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    assert ours <= placed
