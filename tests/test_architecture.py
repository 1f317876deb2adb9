"""One direction of dependencies (README "Architecture"), held by import-linter and by running the core's tests with
each feature app left out of INSTALLED_APPS."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
FEATURES = ("tags", "ingest", "didcomm", "credentials", "makers")
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


@pytest.mark.parametrize("feature", FEATURES)
def test_twins_owners_and_core_work_with_a_feature_app_removed(feature):
    """Every module of core, owners and twins imports, `manage.py check` passes, and their tests (and the API's)
    pass with `feature` left out of INSTALLED_APPS (config/settings_without.py; its routes go with it). On SQLite
    in memory whatever the outer run uses: the outer run holds its own test database."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings_without",
        "THINGSTEAD_WITHOUT": feature,
        "DATABASE_URL": "sqlite:///without.sqlite3",
    }
    walk = (
        "import django, importlib, pkgutil; django.setup(); "
        "[importlib.import_module(m.name) for p in ('core', 'owners', 'twins') "
        "for m in pkgutil.walk_packages(importlib.import_module(p).__path__, p + '.') if '.migrations.' not in m.name]"
    )
    imported = _run([sys.executable, "-c", walk], env=env)
    assert imported.returncode == 0, imported.stderr
    checked = _run([sys.executable, "manage.py", "check"], env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE_TESTS],
        env=env,
    )
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
