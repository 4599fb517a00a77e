"""The two ways to install (pip and conda) pin the same versions, and CI runs the README's command."""

import re
import sys

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # jupyterlab depends on tomli for these Pythons
    import tomli as tomllib

PIN = re.compile(r"^\s*-\s*([A-Za-z0-9_.-]+)==([^\s#;]+)")


def _conda_python(repo_root):
    match = re.search(r"^\s*-\s*python=(\d+\.\d+)", (repo_root / "environment.yml").read_text(), re.M)
    assert match, "environment.yml must pin python=X.Y"
    return match.group(1)


def _pyproject_pins(repo_root, python_version):
    """The exact pins pyproject.toml gives on ``python_version``, dev extra included."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"pyproject.toml: {line!r} is not pinned with =="
        if requirement.marker is None or requirement.marker.evaluate({"python_version": python_version}):
            pins[requirement.name.lower()] = specifier.version
    return pins


def _environment_pins(repo_root):
    pins = {}
    for line in (repo_root / "environment.yml").read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_environment_yml_and_pyproject_pin_the_same_versions(repo_root):
    assert _environment_pins(repo_root) == _pyproject_pins(repo_root, _conda_python(repo_root))


def test_every_supported_python_gets_one_pin_per_package(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    expected = {r.name for r in requirements}
    for python_version in ("3.10", "3.11", "3.12", "3.13"):
        applicable = [r.name for r in requirements
                      if r.marker is None or r.marker.evaluate({"python_version": python_version})]
        assert sorted(applicable) == sorted(expected), f"Python {python_version}: pins {sorted(applicable)}"


def test_ci_runs_the_readme_test_command(repo_root):
    readme = (repo_root / "README.md").read_text()
    ci_commands = [line.strip() for line in (repo_root / ".ci" / "run").read_text().splitlines()
                   if line.strip() and not line.strip().startswith("#")]
    test_commands = [command for command in ci_commands if command.startswith("make test")]
    assert len(test_commands) == 1, f".ci/run must run `make test` once, found {test_commands}"
    assert test_commands[0] in readme, f"the README must show CI's test command {test_commands[0]!r}"
