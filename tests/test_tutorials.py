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

from helpers import need_fashion_mnist, require

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Tutorials on data that does not ship with minidl: without it they are skipped (failed
# where CI is set, see helpers.need_fashion_mnist); the tutorial itself then stops with
# load_fashion_mnist's FileNotFoundError, which says how to get the files.
NEEDS_DATA = {"11": need_fashion_mnist}


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


# The runs made so far in this test session: other test files that import the `run`
# fixture (tests/test_tutorials_15_17.py) share them, so no tutorial runs twice.
RUNS = {}


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """run("02") -> the Run of tutorials/02_*.py, made once per test session."""

    def get(number):
        if number in NEEDS_DATA:
            NEEDS_DATA[number]()
        if number not in RUNS:
            path = next(p for p in TUTORIALS if p.name.startswith(f"{number}_"))
            RUNS[number] = Run(path, tmp_path_factory.mktemp(f"tutorial_{number}"))
        return RUNS[number]

    return get


def test_the_tutorials_are_found():
    numbers = [p.name[:2] for p in TUTORIALS]
    assert numbers[:10] == [f"{n:02d}" for n in range(1, 11)]
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
def test_tutorial_prints_its_expected_run_time_first(path, run):
    """Before any work, the time tutorials/run_times.json holds for it in fast mode (or
    that it was never measured); docs/syllabus.md shows the same file."""
    first = run(path.name[:2]).stdout.splitlines()[0]
    measured = json.loads((ROOT / "tutorials" / "run_times.json").read_text())
    seconds = measured["tutorials"].get(path.name[:2], {}).get("fast_s")
    if seconds is None:
        assert first.startswith("expected run time: not measured yet in fast mode"), first
    else:
        sys.path.insert(0, str(ROOT / "tutorials"))
        from _common import format_seconds
        assert first.startswith(f"expected run time: about {format_seconds(seconds)} in "
                                "fast mode"), first


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_a_percent_format_notebook(path):
    jupytext = require("jupytext")
    notebook = jupytext.reads(path.read_text(), fmt="py:percent")
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown", "a tutorial opens with a markdown cell saying what it asks"
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3


# ------------------------------------------------------------------ 01 autograd
def test_01_hand_derived_and_engine_gradients_agree(run):
    r = run("01").results
    assert r["scalar_grad_max_error"] < 1e-12
    assert r["neuron_grad_max_error"] < 1e-12
    assert r["reference_walk_max_error"] < 1e-12
    assert r["tanh_second_derivative_max_error"] < 1e-12
    assert r["hvp_max_error"] < 1e-12


def test_01_gradcheck_passes_and_catches_the_bug(run):
    r = run("01").results
    assert r["gradcheck_passed"] is True
    assert r["gradgradcheck_passed"] is True
    assert r["buggy_backward_caught"] is True


def test_01_the_table_and_the_data_are_what_the_text_says(run):
    r = run("01").results
    forward = r["scalar_forward"]  # the table of section 1
    assert forward["u"] == pytest.approx(-1.0, abs=5e-5)
    assert forward["t"] == pytest.approx(0.4621, abs=5e-5)
    assert forward["f"] == pytest.approx(-0.5379, abs=5e-5)
    assert r["images"][1] == 64 and r["pixel_range"] == [0.0, 16.0]  # 8×8, values 0..16


def png_size(path):
    """(width, height) in pixels, from the PNG's header."""
    header = path.read_bytes()[:24]
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_01_draws_the_neuron_graph_readably(run):
    result = run("01")
    dot = (result.folder / "01_neuron_graph.dot").read_text()
    assert dot.startswith("digraph") and "Sigmoid" in dot and "MatMul" in dot
    assert "rankdir=TB" in dot  # drawn top to bottom, as the text says
    assert f"X\\n({result.results['images'][0]}, 64)" in dot
    assert result.results["graph_functions"] >= 10
    assert result.results["graph_tensors"] > result.results["graph_functions"]
    width, height = png_size(result.folder / "01_neuron_graph.png")
    assert width <= 1200 < height  # fits a notebook's width; the long chain goes down
    # the printout shows the first lines of the DOT text, not all of it
    assert sum("[label=" in line for line in result.stdout.splitlines()) <= 1


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


def test_02_the_data_and_the_numbers_in_the_text(run):
    r = run("02").results
    assert r["patients"] == {"train": 353, "test": 89}  # 442 patients, 80/20
    assert r["correlations"]["s1, s2"] == pytest.approx(0.89, abs=0.005)
    assert r["correlations"]["bmi, s5"] < 0.5  # "weakly correlated"
    assert r["sgd_steps_per_epoch"] == 353 // 32 == 11


def test_02_step_sizes_below_two_over_lambda_max_converge_and_above_it_blow_up(run):
    gap = run("02").results["step_size_final_gap"]  # loss gap at the last step / the first
    assert gap["2.05"] > 1e3
    for factor in ("0.2", "1.0", "1.95"):
        assert gap[factor] < 1e-2, factor
    assert gap["0.2"] > gap["1.0"]  # a small step is slow


def test_02_sgd_gets_close_first_then_gd_passes_it(run):
    r = run("02").results
    reach = r["epochs_to_2_percent"]
    assert reach["SGD"] is not None and reach["GD"] is not None
    assert reach["SGD"] < reach["GD"] / 2  # many cheap steps per epoch
    assert 0.002 < r["gd_gap_at_epoch_30"] < 0.05  # the plateau above the minimum
    assert r["gd_loss_relative_gap"] < r["sgd_loss_relative_gap"] / 100
    assert abs(r["sgd_test_r2"] - r["closed_form_test_r2"]) < 0.02  # "all three as good"


def test_02_timing_runs_reach_the_least_squares_loss(run):
    timing = run("02").results["timing"]
    assert len(timing["lstsq_s"]) == len(timing["gd_s"]) == len(timing["d"]) >= 4
    assert all(t > 0 for t in timing["lstsq_s"] + timing["gd_s"])
    assert max(timing["loss_gap"]) < 1e-3
    assert timing["gd_steps"] == sorted(timing["gd_steps"])  # creeps up as d approaches n


# ------------------------------------------------------------------ 03 optimizers
def test_03_momentum_and_adam_beat_plain_gd_on_rosenbrock(run):
    r = run("03").results
    distance = r["rosenbrock_final_distance"]
    assert all(np.isfinite(d) for d in distance.values())
    assert distance["momentum"] < distance["GD"] / 5
    assert distance["Nesterov"] < distance["GD"] / 5
    assert distance["Adam"] < 0.5
    assert r["rosenbrock_gd_lr"] == pytest.approx(1 / 1001.6, rel=1e-4)  # half of 2 / λ_max
    assert r["rosenbrock_gd_10x_lr_finite"] is False  # "ten times more" blows up


def test_03_each_adaptive_optimizer_runs_at_the_best_rate_of_its_grid(run):
    r = run("03").results
    for name, search in r["rosenbrock_lr_search"].items():
        assert len(search) == 7
        best = r["rosenbrock_lr"][name]
        assert search[str(best)] == min(d for d in search.values() if np.isfinite(d)), name
        # the path drawn is the run the search kept
        assert r["rosenbrock_final_distance"][name] == pytest.approx(search[str(best)]), name


def test_03_every_minibatch_optimizer_learns_the_digits(run):
    r = run("03").results
    accuracy, loss = r["digits_test_accuracy"], r["digits_final_train_loss"]
    assert set(accuracy) == {"GD (full batch)", "SGD", "momentum", "Nesterov", "AdaGrad",
                             "RMSprop", "Adam"}
    minibatch = [name for name in accuracy if name != "GD (full batch)"]
    for name in minibatch:
        assert accuracy[name] > 0.85, f"{name}: test accuracy {accuracy[name]}"
    assert max(accuracy.values()) > 0.93
    assert max(accuracy[n] for n in minibatch) - min(accuracy[n] for n in minibatch) < 0.1
    assert loss["GD (full batch)"] > 5 * loss["momentum"]  # one step per epoch is slow
    for name, search in r["digits_lr_search"].items():  # kept: the best of its three
        assert len(search) == 3 and loss[name] == min(search.values()), name


def test_03_what_the_text_says_about_the_digits_runs(run):
    r = run("03").results
    loss, curves = r["digits_final_train_loss"], r["digits_train_loss_curves"]
    for name in ("momentum", "Nesterov", "Adam", "RMSprop"):
        assert loss[name] < loss["SGD"], name
    assert r["digits_lr_search"]["Adam"]["0.001"] > 2 * r["digits_lr_search"]["Adam"]["0.01"]
    assert curves["AdaGrad"][0] < min(curves["SGD"][0], curves["momentum"][0])  # quick start
    assert loss["AdaGrad"] > loss["Adam"]  # ...then slows


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

# ------------------------------------------------------------------ 09 inside the kernels
def test_09_three_matmuls_agree_and_their_speeds_are_recorded(run):
    # speeds are printed by the run, never asserted: a test does not time anything
    r = run("09").results
    assert r["matmul_max_difference"] < 1e-4
    assert np.isfinite(r["numba_over_python"]) and r["numba_over_python"] > 0
    assert np.isfinite(r["blas_over_python"]) and r["blas_over_python"] > 0
    assert len(r["matmul_gflops"]["numba"]) == len(r["matmul_sizes"])
    assert len(r["matmul_gflops"]["Python loops"]) == len(r["matmul_python_sizes"])
    assert np.isfinite(r["numba_over_blas_largest"]) and r["numba_over_blas_largest"] > 0


def test_09_im2col_turns_the_convolution_into_one_matmul(run):
    r = run("09").results
    assert r["im2col_first_column"] == [0, 1, 2, 4, 5, 6, 8, 9, 10]
    assert r["im2col_conv_max_difference"] < 1e-12


def test_09_roofline_big_matmul_is_compute_bound_pooling_and_relu_memory_bound(run):
    r = run("09").results
    roofline = r["roofline"]
    assert r["ridge_ops_per_byte"] == pytest.approx(r["peak_gflops"] / r["bandwidth_gb_s"])
    assert roofline[f"matmul {max(r['matmul_sizes'])}, NumPy/BLAS"]["bound"] == "compute"
    for name in ("max_pool2d, numba", "max_pool2d, numpy", "ReLU, np.maximum"):
        assert roofline[name]["bound"] == "memory", name
    direct = roofline["conv2d forward, numpy"]["intensity"]
    assert 40 < direct < 60  # about 48 operations per byte, as the text says
    assert roofline["conv2d forward, numpy, im2col bytes"]["intensity"] < direct / 5


def test_09_numba_cache_and_set_kernels(run):
    r = run("09").results
    assert r["cached_first_call_s"] > 10 * r["warm_call_s"]  # loading is a one-off cost
    if "compile_s" in r:  # measured in full mode only
        assert r["compile_s"] > r["cached_first_call_s"]
    assert r["set_kernels_loss_max_difference"] < 1e-4  # same network, same numbers
    losses = r["set_kernels_losses"]
    assert losses[-1] < losses[0]
    assert set(r["training_step_ms"]) == {"numba", "numpy"}
    assert r["kernels_restored"] is True


def test_09_the_profile_of_a_training_step(run):
    result = run("09")
    r = result.results
    assert r["profile_flops_per_step"] == r["hand_counted_flops_per_step"]
    for share in r["profile_python_share"].values():
        assert 0 < share < 1
    assert len(r["profile_top_ops"]) == 5
    assert "training step" in result.stdout and "Self CPU time total" in result.stdout
    trace = json.loads((result.folder / "09_training_steps_trace.json").read_text())
    names = {event["name"] for event in trace["traceEvents"]}
    assert {"training step", "Conv2d", "Conv2d.backward"} <= names


def test_09_gpu_section_runs_or_says_why_not(run):
    result = run("09")
    if result.results["gpu"] is None:
        assert "No GPU here" in result.stdout
    else:
        assert min(result.results["gpu"]["matmul_gflops"]) > 0


# ------------------------------------------------------------------ 10 big vs small
def test_10_prints_a_markdown_table_of_every_model(run):
    result = run("10")
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| data | model |")
    assert len(lines) == 2 + 11  # header, rule, one row per model
    r = result.results
    assert set(r["score"]) == set(r["parameters"]) == set(r["train_s"]) == set(r["latency_ms"])
    assert len(r["score"]) == 11


def test_10_small_models_are_strong_baselines(run):
    score = run("10").results["score"]
    assert score["digits: logistic regression"] > 0.95
    assert score["SMS spam: multinomial naive Bayes"] > 0.97  # always "not spam": 0.876
    assert score["SMS spam: logistic regression"] > 0.95
    assert score["diabetes: linear regression"] > 0.45
    assert score["diabetes: linear regression"] > score["diabetes: MLP 10-64-64-1"]


def test_10_big_models_have_many_more_parameters(run):
    r = run("10").results
    parameters, kind = r["parameters"], r["kind"]
    assert parameters["digits: logistic regression"] == 64 * 10 + 10
    assert parameters["digits: CNN"] == (9 * 16 + 16) + (16 * 9 * 32 + 32) + (128 * 64 + 64) + (
        64 * 10 + 10)
    for data in ("digits", "SMS spam", "diabetes"):
        small = [n for name, n in parameters.items() if name.startswith(f"{data}:")
                 and kind[name] == "small"]
        big = [n for name, n in parameters.items() if name.startswith(f"{data}:")
               and kind[name] == "big"]
        assert small and big and min(big) > 5 * max(small), data


def test_10_learning_curves_small_model_first_big_model_steeper(run):
    r = run("10").results
    assert r["digits_sizes"] == sorted(r["digits_sizes"]) and r["digits_sizes"][-1] == 1347
    small, big = r["digits_curves"]["logistic regression"], r["digits_curves"]["CNN"]
    assert small[0] > big[0]                        # little data: the small model wins
    assert big[-1] - big[0] > small[-1] - small[0]  # the big one gains more from data
    bayes, lstm = r["spam_curves"]["naive Bayes"], r["spam_curves"]["LSTM"]
    assert all(b >= n for b, n in zip(bayes, lstm))  # naive Bayes ahead at every size
    assert lstm[-1] > 0.9                           # yet the LSTM does learn


def test_10_the_numbers_in_the_text(run):
    r = run("10").results
    assert 0.11 < r["spam_fraction"] < 0.14  # about one message in eight
    assert 0.45 < r["score"]["diabetes: linear regression"] < 0.55  # "about half"
    assert set(r["digits_error"]) == {"logistic regression", "MLP 64-128-128-10", "CNN"}
    for model, error in r["digits_error"].items():
        assert error == pytest.approx(1 - r["score"][f"digits: {model}"])


# ------------------------------------------------------------------ 05 digits three ways
def test_05_all_three_models_learn_the_digits(run):
    models = run("05").results["models"]
    assert set(models) == {"logistic regression", "MLP", "CNN"}
    assert models["logistic regression"]["test_accuracy"] > 0.93  # the same in both modes
    assert models["MLP"]["test_accuracy"] > 0.85   # a few epochs only in fast mode
    assert models["CNN"]["test_accuracy"] > 0.8
    assert all(m["train_seconds"] > 0 and m["inference_seconds_per_image"] > 0
               for m in models.values())


def test_05_parameter_counts_are_the_layer_formulas(run):
    models = run("05").results["models"]
    assert models["logistic regression"]["parameters"] == 10 * (64 + 1)
    assert models["MLP"]["parameters"] == (64 * 512 + 512) + (512 * 10 + 10)
    assert models["CNN"]["parameters"] == ((1 * 9 * 32 + 32) + (32 * 9 * 32 + 32)
                                           + (32 * 9 * 64 + 64) + (256 * 10 + 10))
    assert models["CNN"]["parameters"] < models["MLP"]["parameters"]  # as the text says
    # "about 60 times the parameters" of logistic regression
    assert 55 < models["MLP"]["parameters"] / models["logistic regression"]["parameters"] < 65


def test_05_networks_training_loss_falls(run):
    r = run("05").results
    for name in ("mlp_loss_per_epoch", "cnn_loss_per_epoch"):
        assert len(r[name]) >= 2 and r[name][-1] < 0.8 * r[name][0], name


def test_05_confusion_matrix_and_errors_match_the_best_accuracy(run):
    r = run("05").results
    best = r["models"][r["best_model"]]["test_accuracy"]
    assert best == max(m["test_accuracy"] for m in r["models"].values())
    cm = np.array(r["best_confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 450
    assert np.trace(cm) / cm.sum() == pytest.approx(best)
    errors = cm.sum() - np.trace(cm)
    assert r["best_misclassified_shown"] == min(12, errors)
    assert 0 <= r["misclassified_by_all_three"] <= errors


# ------------------------------------------------------------------ 06 text classification
def test_06_naive_bayes_is_a_strong_spam_filter(run):
    bayes = run("06").results["models"]["naive Bayes"]
    assert bayes["accuracy"] > 0.95         # always "ham": 0.876
    assert bayes["spam_f1"] > 0.85
    assert bayes["parameters"] == 2 * 2000 + 2  # a log-probability per word and class, 2 priors


def test_06_lstm_and_transformer_learn_to_catch_spam(run):
    r = run("06").results
    for name in ("LSTM", "transformer"):
        model = r["models"][name]
        assert model["accuracy"] > 1 - r["test_spam_fraction"], name  # beats always "ham"
        assert model["spam_recall"] > 0.3, name
    # the LSTM is a Keras model: one bias per gate (PyTorch's nn.LSTM has two)
    assert r["models"]["LSTM"]["parameters"] == (2000 * 32 + 4 * 32 * (32 + 32 + 1)
                                                 + (32 * 16 + 16) + (16 + 1))
    assert r["models"]["transformer"]["parameters"] == (
        2000 * 32 + 4 * (32 * 32 + 32) + (32 * 64 + 64) + (64 * 32 + 32) + 2 * 2 * 32 + 33)


def test_06_f1_is_the_harmonic_mean_of_precision_and_recall(run):
    for name, m in run("06").results["models"].items():
        p, r = m["spam_precision"], m["spam_recall"]
        assert m["spam_f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0), name


def test_06_attention_weights_are_a_distribution_over_the_real_words(run):
    r = run("06").results
    assert 1 <= len(r["attention_words"]) <= 40
    assert r["attention_rows_sum_to_one"] < 1e-5
    assert r["attention_on_padding"] == 0.0


# ------------------------------------------------------------------ 07 long dependencies
def test_07_rnn_gradients_vanish_or_explode_and_the_open_lstm_keeps_them(run):
    ratio = run("07").results["gradient_ratio_far_to_near"]  # 79 steps back / last step
    assert ratio["RNN, default init"] < 1e-10
    assert ratio["LSTM, default init"] < 1e-8
    assert ratio["RNN, default init"] < ratio["RNN, gain 1"] < 1 < ratio["RNN, gain 3"]
    assert ratio["RNN, gain 3"] > 1e4
    assert 0.05 < ratio["LSTM, forget gate open"] < 20
    assert ratio["RNN, default init"] == min(ratio.values())  # "shrinks fastest of all"


def test_07_the_open_lstm_remembers_at_the_lag_where_the_rnn_fails(run):
    r = run("07").results
    accuracy, chance = r["accuracy_by_lag"], r["chance_accuracy"]
    assert 0.15 < chance < 0.25  # the space
    assert accuracy["RNN, default init"][0] > 0.9  # a short lag is easy for both
    assert accuracy["LSTM, forget gate open"][0] > 0.9
    assert accuracy["RNN, default init"][-1] < chance + 0.1  # the longest: the RNN guesses
    assert min(accuracy["LSTM, forget gate open"]) > 0.9  # "at every lag"
    assert r["parameters"]["LSTM"] - r["parameters"]["RNN"] == 3 * (64 * (16 + 64) + 2 * 64)


def test_07_clipping_tames_the_exploding_rnn(run):
    """An unclipped run is chaotic (its final loss differs from CPU to CPU), so the checks
    are about what every seed shows, and medians over the seeds, never one trajectory."""
    clipping = run("07").results["clipping"]
    plain, clipped = clipping["no clipping"], clipping["clipped to norm 1"]
    assert len(plain) == len(clipped) >= 4
    for p, c in zip(plain, clipped):
        assert p["largest_gradient_norm"] > 5  # every unclipped run meets a cliff
        assert p["loss_spikes"] >= 1 and c["loss_spikes"] <= 2
        assert c["final_loss"] < 0.5 * c["first_loss"]  # every clipped run learns
    assert sum(p["loss_spikes"] for p in plain) > 5 * max(1, sum(c["loss_spikes"] for c in clipped))

    def median(runs, key):
        return float(np.median([r[key] for r in runs]))

    assert median(plain, "final_loss") > 0.6 * median(plain, "first_loss")
    assert median(clipped, "final_loss") < 0.4 * median(plain, "final_loss")
    assert median(clipped, "test_accuracy") > 0.6 > median(plain, "test_accuracy")


# ------------------------------------------------------------------ 08 attention
def test_08_attention_written_out_equals_the_layers(run):
    r = run("08").results
    for key in ("by_hand_vs_sdpa", "by_hand_vs_multihead_1", "causal_by_hand_vs_sdpa",
                "causal_by_hand_vs_multihead", "multihead_by_hand_vs_layer",
                "multihead_weights_by_hand_vs_layer", "head_1_by_slicing_vs_reshape",
                "shuffle_equivariance_error", "positional_encoding_error",
                "layer_norm_by_hand_vs_layer", "encoder_layer_by_hand_vs_layer"):
        assert r[key] < 1e-5, key  # float32 rounding


def test_08_the_causal_mask_hides_the_future(run):
    r = run("08").results
    assert r["earlier_outputs_moved_causal"] < 1e-6
    assert r["earlier_outputs_moved_full"] > 1e-3


def test_08_positional_encodings_of_nearby_positions_are_alike(run):
    band = run("08").results["pe_similarity_by_distance"]
    assert band[0] == pytest.approx(32.0)  # 32 pairs of sin² + cos²
    assert band[0] > band[1] > band[2] > band[3]


def test_08_language_models_predict_moby_dick(run):
    r = run("08").results
    bits = r["ngram_val_bits"]
    assert bits["5"] < bits["4"] < bits["3"] < bits["2"] < bits["1"] < np.log2(83)
    assert 2.0 < bits["4"] < 2.8
    assert r["transformer_parameters"] == 110_675
    assert r["transformer_last_loss_bits"] < r["transformer_first_loss_bits"] - 0.5
    assert r["transformer_val_bits"] < bits["1"]  # fast mode: past the letter frequencies
    for sample in r["samples"].values():
        assert sample.startswith("The whale ") and len(sample) > 100


def test_08_the_numbers_in_the_text(run):
    r = run("08").results
    assert 1.15e6 < r["characters"] < 1.25e6 and r["vocabulary"] == 83  # "1.2 million", 83
    heads = r["attention_parameters"]
    assert heads["1 head"] == heads["4 heads"] == 4 * (16 * 16 + 16)  # heads cost nothing
    assert r["transformer_parameters"] < 2 * r["ngram_4_stored_numbers"]  # "about as many"
    assert r["ngram_4_stored_numbers"] < 2 * r["transformer_parameters"]
    assert r["longest_line"] < 100  # the book's lines are short


# ------------------------------------------------------------------ 12 CNN robustness
def test_12_the_image_changes_are_right(run):
    r = run("12").results
    assert r["rotate_360_error"] < 1e-5 and r["rotate_90_vs_rot90_error"] < 1e-5
    assert r["train_images"] + r["test_images"] == 1797
    assert r["parameters"]["MLP"] == (144 * 128 + 128) + (128 * 10 + 10)
    assert r["parameters"]["CNN"] == (9 * 16 + 16) + (16 * 9 * 32 + 32) + (288 * 10 + 10)


def test_12_what_the_text_says_about_shift_rotation_and_noise(run):
    r = run("12").results
    shifted, turned, noisy = (r["robustness"][k] for k in ("shift", "rotation", "noise"))
    angle, sigma = r["angles"].index, r["sigmas"].index
    for name in ("MLP", "CNN", "CNN, augmented"):
        assert shifted[name][0] > 0.85, name  # every model learns the clean digits
        assert turned[name][angle(90)] < 0.3, name  # 90°: near chance for all
        assert turned[name][angle(180)] > turned[name][angle(90)] + 0.1, name  # 0, 1, 8
        assert turned[name][angle(15)] > turned[name][angle(45)] > turned[name][angle(90)]
        assert noisy[name][0] - noisy[name][sigma(0.1)] < 0.05, name  # mild noise: little
        assert noisy[name][0] - noisy[name][sigma(0.8)] > 0.3, name   # strong: a lot
    for name in ("MLP", "CNN"):  # trained on centred digits: two pixels undo them
        assert shifted[name][2] < shifted[name][0] - 0.5, name
        assert shifted[name][1] < shifted[name][0] - 0.2, name  # one pixel costs a lot
    assert shifted["CNN"][1] + shifted["CNN"][2] > shifted["MLP"][1] + shifted["MLP"][2]
    assert abs(turned["CNN"][angle(30)] - turned["MLP"][angle(30)]) < 0.15  # no better
    for s in (0.6, 0.8):  # strong noise: the CNN below the MLP
        assert noisy["CNN"][sigma(s)] < noisy["MLP"][sigma(s)], s


def test_12_augmentation_fixes_what_it_shows(run):
    r = run("12").results
    shifted, turned, noisy = (r["robustness"][k] for k in ("shift", "rotation", "noise"))
    angle, sigma = r["angles"].index, r["sigmas"].index
    plain, augmented = "CNN", "CNN, augmented"
    assert shifted[augmented][2] > 0.7 and shifted[augmented][2] > shifted[plain][2] + 0.4
    assert shifted[augmented][0] > shifted[plain][0] - 0.02  # as good on clean images
    assert turned[augmented][angle(15)] > turned[plain][angle(15)] + 0.05  # within ±30°
    assert turned[augmented][angle(90)] < 0.3  # not beyond
    assert noisy[plain][sigma(0.4)] < noisy[augmented][sigma(0.4)] < noisy["MLP"][sigma(0.4)]


# ------------------------------------------------------------------ 13 GRU vs LSTM
def test_13_parameters_are_three_and_four_gates(run):
    r = run("13").results
    one_gate = 64 * (16 + 64) + 2 * 64  # weights on x and h, PyTorch's two biases
    assert r["recurrent_parameters"] == {"RNN": one_gate, "GRU": 3 * one_gate,
                                         "LSTM": 4 * one_gate}
    shared = 27 * 16 + (64 * 27 + 27)  # embedding and output layer
    for name, row in r["language_model"].items():
        assert row["parameters"] == r["recurrent_parameters"][name] + shared, name
        assert row["ms_per_step"] > 0


def test_13_gated_layers_model_the_text_better_and_close_to_each_other(run):
    r = run("13").results
    final = {name: row["test_bits"][-1] for name, row in r["language_model"].items()}
    for name, row in r["language_model"].items():
        assert len(row["test_bits"]) == len(r["checkpoints"])
        assert final[name] < row["test_bits"][0] - 0.3 and final[name] < 4.75, name
    assert final["RNN"] > min(final["GRU"], final["LSTM"])
    assert abs(final["GRU"] - final["LSTM"]) < 0.25  # "close to each other"


def test_13_the_gru_remembers_where_the_default_lstm_does_not(run):
    r = run("13").results
    memory, chance, lags = r["memory_accuracy"], r["chance_accuracy"], r["lags"]
    assert 0.15 < chance < 0.25
    for name in ("RNN", "GRU", "LSTM"):
        assert memory[name][0] > 0.9, name  # the shortest lag: all three
    lag_20 = lags.index(20)
    assert memory["GRU"][lag_20] > 0.9
    assert memory["RNN"][lag_20] < chance + 0.1 and memory["LSTM"][lag_20] < chance + 0.1
    reach = r["gradient_reach_20_steps"]  # untrained: GRU and LSTM alike, RNN far below
    assert 0.1 < reach["GRU"] / reach["LSTM"] < 10
    assert reach["RNN"] < min(reach["GRU"], reach["LSTM"]) / 3


# ------------------------------------------------------------------ 14 depth and width
def test_14_parameters_follow_the_formula(run):
    r = run("14").results
    assert len(r["grid"]) == len(r["widths"]) * len(r["depths"])
    for row in r["grid"]:
        w, d = row["width"], row["depth"]
        assert row["parameters"] == row["formula"] == (64 * w + w) + (d - 1) * (w * w + w) + (
            10 * w + 10), (w, d)
        assert row["train_seconds"] > 0 and row["inference_us"] > 0


def test_14_what_the_text_says_about_width_and_depth(run):
    r = run("14").results
    widths, depths = r["widths"], r["depths"]
    accuracy = {(row["width"], row["depth"]): row["test_accuracy"] for row in r["grid"]}
    narrow, wide = widths[0], widths[-1]
    for d in depths:  # width first: the widest far above the narrowest, at every depth
        assert accuracy[wide, d] > accuracy[narrow, d] + 0.1, d
        assert accuracy[wide, d] > 0.9, d
        gain_first = accuracy[widths[1], d] - accuracy[narrow, d]  # steeply, then slowly
        assert gain_first > accuracy[wide, d] - accuracy[widths[-2], d], d
    for d in depths[1:]:  # narrow: depth does not help
        assert accuracy[narrow, d] < accuracy[narrow, depths[0]] + 0.02, d
    deeper = [accuracy[wide, d] for d in depths[1:]]  # wide: a little, then about nothing
    assert max(deeper) > accuracy[wide, depths[0]] - 0.005
    assert max(deeper) - min(deeper) < 0.03
    best, smallest = r["best"], r["smallest_within_0.01"]
    assert best["test_accuracy"] == max(accuracy.values())
    assert smallest["test_accuracy"] >= best["test_accuracy"] - 0.01
    assert smallest["parameters"] <= best["parameters"]


# ------------------------------------------------------------------ 11 Fashion-MNIST
SMALL_11 = ("logistic, 14×14", "linear SVM, 14×14", "linear SVM, 28×28")


def test_11_every_model_learns_fashion_mnist(run):
    r = run("11").results
    models = r["models"]
    assert set(models) == set(SMALL_11) | {"MLP", "CNN"}
    assert r["train_images"] >= 2000 and r["test_images"] >= 1000
    # fast mode: a few thousand images, 2 epochs of the MLP, 1 of the CNN; always
    # "T-shirt" would score 0.1. The full run's accuracies are in the report.
    floors = {"logistic, 14×14": 0.78, "linear SVM, 14×14": 0.74, "linear SVM, 28×28": 0.78,
              "MLP": 0.72, "CNN": 0.6}
    for name, floor in floors.items():
        assert models[name]["test_accuracy"] > floor, name
        assert models[name]["train_seconds"] > 0
        assert models[name]["inference_seconds_per_image"] > 0
    assert 1 <= r["logistic_newton_steps"] < 100 and all(1 <= e < 2000
                                                          for e in r["svm_epochs"].values())


def test_11_parameter_counts_are_the_layer_formulas(run):
    models = run("11").results["models"]
    assert models["logistic, 14×14"]["parameters"] == 10 * (14 * 14 + 1)
    assert models["linear SVM, 14×14"]["parameters"] == 10 * (14 * 14 + 1)
    assert models["linear SVM, 28×28"]["parameters"] == 10 * (28 * 28 + 1)
    assert models["MLP"]["parameters"] == (784 * 256 + 256) + (256 * 10 + 10)
    assert models["CNN"]["parameters"] == ((1 * 9 * 16 + 16) + (16 * 9 * 64 + 64)
                                           + (64 * 7 * 7 * 10 + 10))
    assert models["CNN"]["parameters"] < 100_000  # as the README's "under 100K" network


def test_11_networks_training_loss_falls(run):
    r = run("11").results
    for name in ("mlp_loss_per_epoch", "cnn_loss_per_epoch"):
        losses = r[name]
        assert len(losses) >= 2 and losses[-1] < 0.8 * losses[0], name


def test_11_confusion_matrices_and_errors_in_lookalike_blocks(run):
    r = run("11").results
    assert r["best_small_model"] == max(SMALL_11, key=lambda n: r["models"][n]["test_accuracy"])
    for name, cm in r["confusion_matrices"].items():
        cm = np.array(cm)
        assert cm.shape == (10, 10) and cm.sum() == r["test_images"]
        assert np.trace(cm) / cm.sum() == pytest.approx(r["models"][name]["test_accuracy"])
        assert cm.sum(axis=1).tolist() == [r["test_images"] // 10] * 10  # a stratified test set
    for name, fraction in r["errors_within_a_block"].items():
        assert fraction > 0.6, name  # most errors: tops with tops, shoes with shoes
    for name, accuracies in r["per_class_accuracy"].items():
        assert np.mean(accuracies) == pytest.approx(r["models"][name]["test_accuracy"])


def test_11_prints_the_published_numbers_beside_the_measured_ones(run):
    result = run("11")
    published = result.results["published"]
    # quoted from the paper (arXiv:1708.07747, table 3) and the dataset's README
    assert sorted(published.values()) == [0.839, 0.842, 0.870, 0.897, 0.916, 0.925]
    assert "published by the dataset's authors" in result.stdout
    for name, value in published.items():
        assert f"{value:.3f}" in result.stdout, name
