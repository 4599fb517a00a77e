"""The command line: `python -m unet_lib`."""

import json
import subprocess
import sys

from unet_lib.cli import main


def test_help_lists_verbs(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "env" in capsys.readouterr().out


def test_no_verb_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: python -m unet_lib" in capsys.readouterr().out


def test_env_verb_prints_json_in_a_subprocess():
    completed = subprocess.run(
        [sys.executable, "-m", "unet_lib", "env"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["packages"]["tensorflow"]["ok"]
    assert completed.stderr == "", f"unexpected stderr: {completed.stderr[:500]}"
