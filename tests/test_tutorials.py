"""The tutorials run from start to end, and the numbers they report say what their text says.

Every tutorials/NN_*.py is run once, in fast mode (MINIDL_FAST=1), in a subprocess as a
student would run it, with its figures and its results file sent to a temporary folder.
Each tutorial writes its key numbers to NN_results.json; the checks below read them.
A new tutorial is picked up by the generic tests without any change here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Run:
    """What one tutorial left behind: its printout, its results and its figures folder."""

    def __init__(self, path, folder):
        env = dict(os.environ, MINIDL_FAST="1", MPLBACKEND="Agg", MINIDL_FIGURES=str(folder),
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                   # the suite may run beside other processes: one BLAS thread each
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        process = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env, text=True,
                                 capture_output=True, timeout=900)
        assert process.returncode == 0, (
            f"{path.name} failed:\n{process.stdout[-4000:]}\n{process.stderr[-4000:]}")
        self.stdout = process.stdout
        self.folder = folder
        self.results = json.loads((folder / f"{path.name[:2]}_results.json").read_text())


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """run("02") -> the Run of tutorials/02_*.py, made once per test session."""
    runs = {}

    def get(number):
        if number not in runs:
            path = next(p for p in TUTORIALS if p.name.startswith(f"{number}_"))
            runs[number] = Run(path, tmp_path_factory.mktemp(f"tutorial_{number}"))
        return runs[number]

    return get


def test_the_tutorials_are_found():
    numbers = [p.name[:2] for p in TUTORIALS]
    assert numbers[:4] == ["01", "02", "03", "04"]
    assert len(set(numbers)) == len(numbers), f"two tutorials share a number: {numbers}"


# ------------------------------------------------------------------ every tutorial
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_and_saves_its_figures_and_results(path, run):
    result = run(path.name[:2])
    assert result.results, "the results file is empty"
    figures = sorted(result.folder.glob("*.png"))
    assert figures, f"{path.name} saved no figure"
    for figure in figures:
        assert figure.name.startswith(path.name[:3]), f"{figure.name} is not named after {path.name}"
        assert figure.read_bytes()[:8] == PNG_MAGIC
    assert not list(result.folder.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_a_percent_format_notebook(path):
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.reads(path.read_text(), fmt="py:percent")
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown", "a tutorial opens with a markdown cell saying what it asks"
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3


# ------------------------------------------------------------------ 01 autograd
def test_01_hand_derived_and_engine_gradients_agree(run):
    r = run("01").results
    assert r["scalar_grad_max_error"] < 1e-12
    assert r["neuron_grad_max_error"] < 1e-12
    assert r["tanh_second_derivative_max_error"] < 1e-12
    assert r["hvp_max_error"] < 1e-12


def test_01_gradcheck_passes_and_catches_the_bug(run):
    r = run("01").results
    assert r["gradcheck_passed"] is True
    assert r["gradgradcheck_passed"] is True
    assert r["buggy_backward_caught"] is True


def test_01_draws_the_neuron_graph(run):
    result = run("01")
    dot = (result.folder / "01_neuron_graph.dot").read_text()
    assert dot.startswith("digraph") and "Sigmoid" in dot and "MatMul" in dot
    assert result.results["graph_functions"] >= 10
    assert result.results["graph_tensors"] > result.results["graph_functions"]


# ------------------------------------------------------------------ 02 linear regression
def test_02_gradient_descent_reaches_the_closed_form(run):
    r = run("02").results
    assert r["gd_weight_relative_error"] < 1e-3
    assert 0 <= r["gd_loss_relative_gap"] < 1e-6
    assert abs(r["gd_test_r2"] - r["closed_form_test_r2"]) < 1e-3
    assert r["closed_form_test_r2"] > 0.4  # diabetes: about 0.5 on this split


def test_02_sgd_gets_close_but_not_exact(run):
    r = run("02").results
    assert 0 < r["sgd_loss_relative_gap"] < 0.05
    assert r["sgd_test_r2"] > 0.4


def test_02_correlated_features_are_worse_conditioned(run):
    r = run("02").results
    well, badly = r["pair_condition_numbers"]
    assert badly > 5 * well
    assert r["condition_number"] > 100


def test_02_timing_runs_reach_the_least_squares_loss(run):
    timing = run("02").results["timing"]
    assert len(timing["lstsq_s"]) == len(timing["gd_s"]) == len(timing["d"]) >= 4
    assert all(t > 0 for t in timing["lstsq_s"] + timing["gd_s"])
    assert max(timing["loss_gap"]) < 1e-3


# ------------------------------------------------------------------ 03 optimizers
def test_03_momentum_and_adam_beat_plain_gd_on_rosenbrock(run):
    distance = run("03").results["rosenbrock_final_distance"]
    assert all(np.isfinite(d) for d in distance.values())
    assert distance["momentum"] < distance["GD"] / 5
    assert distance["Nesterov"] < distance["GD"] / 5
    assert distance["Adam"] < 0.5


def test_03_every_minibatch_optimizer_learns_the_digits(run):
    r = run("03").results
    accuracy, loss = r["digits_test_accuracy"], r["digits_final_train_loss"]
    assert set(accuracy) == {"GD (full batch)", "SGD", "momentum", "Nesterov", "AdaGrad",
                             "RMSprop", "Adam"}
    for name, value in accuracy.items():
        if name != "GD (full batch)":
            assert value > 0.85, f"{name}: test accuracy {value}"
    assert max(accuracy.values()) > 0.93
    assert loss["GD (full batch)"] > 5 * loss["momentum"]  # one step per epoch is slow


# ------------------------------------------------------------------ 04 logistic regression
def test_04_autograd_hessian_equals_the_formula(run):
    r = run("04").results
    assert r["hessian_autograd_vs_formula_max_relative_error"] < 1e-10
    assert r["hessian_vs_classic_relative_error"] < 1e-10


def test_04_newton_converges_in_a_few_steps_to_the_classic_model(run):
    r = run("04").results
    assert 3 <= r["newton_steps"] <= 15
    assert r["newton_vs_classic_max_parameter_difference"] < 1e-6
    assert r["newton_test_accuracy"] > 0.95  # always saying "ham" scores 0.876


def test_04_sgd_and_naive_bayes_are_good_too(run):
    r = run("04").results
    assert r["sgd_steps"] > 50 * r["newton_steps"]
    assert r["sgd_loss_relative_gap"] > 1e-6  # not at the minimum...
    assert r["sgd_test_accuracy"] > 0.93      # ...but a fine classifier
    assert r["bayes_test_accuracy"] > 0.95
    assert r["weight_correlation"] > 0.5
