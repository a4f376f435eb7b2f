"""The `digitcam` command explains itself, and its serving side never needs torch."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.cli import COMMANDS


def digitcam(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "webapp.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_top_level_help_lists_every_command():
    result = digitcam("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_has_help(command):
    result = digitcam(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"digitcam {command}" in result.stdout and "--" in result.stdout


def test_an_unknown_command_is_refused_clearly():
    result = digitcam("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_an_unknown_option_before_the_command_is_named():
    result = digitcam("--bogus")
    assert result.returncode == 2 and "unknown option '--bogus'" in result.stderr


def test_no_command_shows_the_commands_and_fails():
    result = digitcam()
    assert result.returncode == 2 and "eval-scenes" in result.stderr


@pytest.mark.parametrize("command", ["eval", "eval-scenes", "eval-glyphs", "bench-pipeline"])
def test_a_missing_data_folder_is_a_message_not_a_traceback(command, tmp_path):
    result = digitcam(command, "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"digitcam {command}: ") and "--download" in result.stderr


def test_a_missing_model_file_is_a_message_not_a_traceback(tmp_path):
    result = digitcam("eval", "--model", str(tmp_path / "none.onnx"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "model file not found" in result.stderr


def test_a_folder_given_as_the_model_is_called_a_folder(tmp_path):
    result = digitcam("eval", "--model", str(tmp_path))
    assert result.returncode == 2 and f"is a folder, not a model file: {tmp_path}" in result.stderr


@pytest.mark.parametrize("argv, said", [
    (["serve", "--port", "99999"], "--port: 99999 is out of range: give a number from 1 to 65535"),
    (["serve", "--workers", "-3"], "--workers: -3 is out of range: give a number at least 1"),
    (["read", "--threads", "0", "x.png"], "--threads: 0 is out of range"),
    (["eval-scenes", "--count", "0"], "--count: 0 is out of range"),
    (["eval-glyphs", "--count", "zero"], "--count: 'zero' is not a whole number"),
    (["bench", "--clients", "0"], "--clients: 0 is out of range"),
    (["bench", "--seconds", "0"], "--seconds: 0 is out of range: give a number above 0"),
    (["train", "--limit", "-5"], "--limit: -5 is out of range"),
    (["train", "--clean-fraction", "2"], "--clean-fraction: 2 is out of range: give a number at least 0 and at most 1"),
    (["train", "--lr", "nan"], "--lr: nan is out of range"),
    (["train", "--lr", "inf"], "--lr: inf is out of range"),
    (["train", "--out", __file__], "--out: " + __file__ + ": a file of that name exists; give a folder"),
    (["train", "--init", "/no/such/run/best.pt"], "--init: /no/such/run/best.pt: no such file"),
    (["train", "--extra-crops", "/no/such/crops.npz"], "--extra-crops: /no/such/crops.npz: no such file"),
    (["eval-scenes", "--annotate", __file__], "a file of that name exists; give a folder"),
    (["eval-real", "--annotate", __file__], "a file of that name exists; give a folder"),
])
def test_a_bad_number_or_path_is_a_usage_error_naming_the_option(argv, said, capsys):
    """Before, --port 99999, --workers -3, a missing --init and an --out that is a file ended in
    tracebacks, and --count 0 scored F1 1.0."""
    from webapp.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and said in capsys.readouterr().err


def test_serve_says_the_port_is_taken_instead_of_claiming_to_serve():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        result = digitcam("serve", "--port", str(holder.getsockname()[1]))
    assert result.returncode == 2 and "choose another with --port" in result.stderr
    assert "serving on" not in result.stdout


@pytest.mark.parametrize("blocked, command, advice", [
    ("torch", "train", "from the 'train' extra; install the 'train' extra: pip install '.[train]'"),
    ("cv2", "read", "one of digitcam's own requirements; reinstall digitcam: pip install ."),
    ("onnxruntime", "eval", "one of digitcam's own requirements; reinstall digitcam: pip install ."),
])
def test_a_missing_module_is_named_with_what_installs_it(blocked, command, advice):
    """Training's tools come with the `train` extra; OpenCV and onnxruntime with digitcam itself,
    so the advice differs: the extra would not bring back a broken base install."""
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"  # `import` of it now fails as if absent
            f"from webapp import cli; sys.exit(cli.main([{command!r}, '--help']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"digitcam {command}: needs {blocked!r}") and advice in result.stderr


def test_the_modules_named_in_install_hints_are_those_of_pyproject():
    """cli.TRAIN_EXTRA and cli.REQUIRED must follow pyproject.toml, or a hint would send a user to the
    wrong install (each package installed here is traced to the modules it provides)."""
    from importlib.metadata import packages_distributions

    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

    from webapp import cli

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    provides: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            provides.setdefault(dist.lower().replace("_", "-"), set()).add(module)

    for listed, requirements in ((cli.TRAIN_EXTRA, project["optional-dependencies"]["train"]),
                                 (cli.REQUIRED, project["dependencies"])):
        names = {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}
        for name in names:  # each package is known by a module it provides (matplotlib's pylab need not be)
            assert provides[name] & listed, f"{name} provides none of {sorted(listed)}"
        assert listed <= set().union(*(provides[n] for n in names))


def test_importing_the_serving_side_leaves_torch_unloaded():
    code = ("import sys, webapp, webapp.cli, webapp.recognizer, webapp.mnistify\n"
            "import importlib, pkgutil\n"
            "for m in pkgutil.iter_modules(webapp.__path__):\n"
            "    if m.name not in ('cli',): importlib.import_module('webapp.' + m.name)\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_eval_reports_that_the_shipped_model_meets_its_bar_on_mnist(mnist_dir):
    result = digitcam("eval", "--data", str(mnist_dir), "--json")
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    # The model issue's bar is 99.6% on the MNIST test set. Quantised outputs vary a little by CPU
    # (the shipped file has 99.65% on the development machine, 5 digits above the bar).
    assert report["test_digits"] == 10000 and report["accuracy"] >= 0.996
