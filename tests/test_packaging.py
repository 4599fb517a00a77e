"""The two ways to install (pip and conda) pin the same versions, and CI runs the README's command."""

import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # jupyterlab depends on tomli for these Pythons
    import tomli as tomllib

PIN = re.compile(r"^\s*-\s*([A-Za-z0-9_.-]+)==([^\s#;]+)")


def _pyproject_pins(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["dev"]
    pins = {}
    for line in lines:
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.strip().partition("==")
        assert version, f"pyproject.toml: {line!r} is not pinned with =="
        if marker.strip() and "3.10" in marker:
            continue  # environment.yml installs Python 3.11, so only the 3.11+ pins apply there
        pins[name.lower()] = version
    return pins


def _environment_pins(repo_root):
    pins = {}
    for line in (repo_root / "environment.yml").read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_environment_yml_and_pyproject_pin_the_same_versions(repo_root):
    assert _environment_pins(repo_root) == _pyproject_pins(repo_root)


def test_ci_runs_the_readme_test_command(repo_root):
    assert "make test" in (repo_root / "README.md").read_text()
    ci_commands = [line.strip() for line in (repo_root / ".ci" / "run").read_text().splitlines()
                   if line.strip() and not line.startswith("#")]
    assert "make test" in ci_commands
