"""Tutorials 15-17: the numbers their text states, checked against their fast-mode runs.

The runs come from the `run` fixture of test_tutorials.py (imported, so that each
tutorial runs once per session); the generic checks there (it runs, it saves its
figures, it is a notebook) cover these tutorials too. Training in fast mode is short,
so the checks on trained networks are floors and gaps with wide margins, never the
value of one trajectory.
"""
import math

import numpy as np

from test_tutorials import run  # noqa: F401  (the fixture, with the runs it shares)

KINDS_15 = ("plain", "plain, He init", "batch norm", "residual", "residual + batch norm")


# ------------------------------------------------------------------ 15 batch norm, residual
def test_15_same_weights_with_or_without_shortcuts(run):
    parameters = run("15").results["parameters_at_depth_32"]
    plain = 32 * (64 * 64 + 64) + (64 * 10 + 10)
    assert parameters["plain"] == parameters["plain, He init"] == parameters["residual"] == plain
    assert parameters["batch norm"] == plain + 32 * 2 * 64  # γ and β per normalized layer
    assert parameters["residual + batch norm"] == plain + 33 * 2 * 64  # and one on top


def test_15_at_init_the_gradient_vanishes_explodes_or_holds_as_the_text_says(run):
    r = run("15").results
    factor, gradient, signal = (r["gradient_factor_per_layer"], r["gradient_norm_at_init"],
                                r["signal_rms_at_init"])
    for kind in KINDS_15:
        assert len(gradient[kind]) == 32 and all(g > 0 for g in gradient[kind]), kind
    # plain: "a factor of about 2 per layer", "less than a billionth"
    assert 1.8 < 1 / factor["plain"] < 2.8
    assert gradient["plain"][0] / gradient["plain"][-1] < 1e-9
    # He init: level; the signal within a small factor of its first size
    assert 0.9 < factor["plain, He init"] < 1.1
    assert max(signal["plain, He init"]) / min(signal["plain, He init"]) < 5
    # batch norm: the signal at √½ at every layer; "between 1.1 and 1.3", "hundreds of times"
    assert all(abs(s - math.sqrt(0.5)) < 0.08 for s in signal["batch norm"])
    assert 1.1 < factor["batch norm"] < 1.3
    assert 100 < gradient["batch norm"][0] / gradient["batch norm"][-1] < 1000
    # residual: about the same at every layer; the signal grows a little
    assert 0.95 < factor["residual"] < 1.05
    assert 1 < signal["residual"][-1] / signal["residual"][0] < 3
    # residual + batch norm: the signal grows steadily, the gradient "a few per cent per layer"
    assert np.all(np.diff(signal["residual + batch norm"]) > 0)
    assert 1.01 < factor["residual + batch norm"] < 1.15


def test_15_depth_breaks_the_plain_network_and_the_shortcut_repairs_it(run):
    r = run("15").results
    training, deep = r["training"], str(r["depths"][-1])
    assert r["depths"][-1] >= 16
    for kind in KINDS_15:
        assert len(training[kind][deep]["losses"]) == r["epochs"], kind
    # the plain network guesses at its greatest depth: a loss of ln 10, a tenth right
    assert abs(training["plain"][deep]["losses"][-1] - math.log(10)) < 0.05
    assert training["plain"][deep]["test_accuracy"] < 0.2
    # the residual network learns there, far better than plain and batch norm alone
    residual = training["residual"][deep]
    assert residual["losses"][-1] < 0.5 * residual["losses"][0]
    assert residual["test_accuracy"] > 0.6
    assert residual["test_accuracy"] > training["plain"][deep]["test_accuracy"] + 0.4
    assert residual["test_accuracy"] > training["batch norm"][deep]["test_accuracy"] + 0.2


def test_15_prints_what_the_run_shows(run):
    result = run("15")
    assert "what this run shows:" in result.stdout
    r = result.results
    accuracy = r["training"]["residual"][str(r["depths"][-1])]["test_accuracy"]
    assert f"{accuracy:.0%} at {r['depths'][-1]}" in result.stdout


# ------------------------------------------------------------------ 16 encoder-decoder
def test_16_parameters_are_the_layer_formulas(run):
    r = run("16").results
    gru = 3 * 64 * (32 + 64) + 2 * 3 * 64
    common = (r["input_characters"] + 1) * 32 + gru + (11 + 1) * 32 + gru
    assert r["parameters"]["without"] == common + 64 * 11 + 11
    assert r["parameters"]["with attention"] == common + 2 * 64 * 11 + 11


def test_16_attention_learns_the_dates_and_the_bottleneck_does_not_yet(run):
    r = run("16").results
    exact = r["test_exact_match"]
    assert exact["with attention"] > 0.7
    assert exact["with attention"] > exact["without attention"] + 0.4
    assert np.mean(r["accuracy_per_position"]["with attention"]) > 0.95
    for name, curve in r["training"].items():
        assert len(curve["losses"]) == r["epochs"] and curve["losses"][-1] < curve["losses"][0]
        assert curve["test_exact_match"][-1] == exact[name]
        assert np.isclose(np.mean([v for v in r["exact_match_per_format"][name].values()]),
                          exact[name], atol=0.1)  # six formats of about equal counts


def test_16_without_attention_the_year_read_last_is_remembered_best(run):
    r = run("16").results
    position = np.array(r["accuracy_per_position"]["without attention"])
    learned = r["without_attention_first_epoch_90_percent_right"]
    assert learned["year"] is not None
    assert learned["month and day"] is None or learned["month and day"] > learned["year"]
    assert np.allclose(r["training"]["without attention"]["right_per_position"][-1],
                       r["accuracy_per_position"]["without attention"])
    year, dashes, month_and_day = position[:4], position[[4, 7]], position[[5, 6, 8, 9]]
    assert year.mean() > 0.9 and dashes.min() > 0.9
    assert month_and_day.mean() < year.mean() - 0.2


def test_16_attention_aligns_the_year_with_the_year(run):
    result = run("16")
    r = result.results
    assert r["attention_share_on_the_year"] > 0.5
    assert r["attention_share_on_the_year"] > 2 * r["year_share_of_the_input"]
    assert f"{r['attention_share_on_the_year']:.0%} of its attention" in result.stdout


# ------------------------------------------------------------------ 17 pretraining
def test_17_parameters_are_the_layer_formulas(run):
    r = run("17").results
    assert r["parameters"] == 96 * 32 + (3 * 128 * (32 + 128) + 2 * 3 * 128) + (128 * 96 + 96)
    assert r["uniform_bits"] == np.log2(96)


def test_17_the_pretrained_model_reads_sms_better_than_guessing(run):
    r = run("17").results
    assert r["pretrain_book_val_bits"] < 3.5
    assert r["pretrained_only_test_bits"] < r["uniform_bits"] - 1


def test_17_fine_tuning_beats_scratch_most_when_the_data_are_few(run):
    r = run("17").results
    scratch, tuned = r["test_bits"]["from scratch"], r["test_bits"]["fine-tuned"]
    assert len(scratch) == len(tuned) == len(r["sizes"]) >= 2
    assert tuned[0] < scratch[0] - 0.15                       # a little SMS text: pretraining wins
    assert tuned[0] < r["pretrained_only_test_bits"] - 0.15   # and fine-tuning helps
    assert r["bits_saved_by_pretraining"][0] > r["bits_saved_by_pretraining"][-1]
    assert scratch[-1] < scratch[0]                           # more data helps the scratch model


def test_17_early_stopping_keeps_the_best_validation_score(run):
    r = run("17").results
    for name, curve in r["validation_curves"].items():
        steps, bits = zip(*curve)
        assert steps[0] == 0 and steps[-1] == r["steps"], name
        assert min(bits) < bits[0], name


def test_17_prints_what_the_run_shows(run):
    result = run("17")
    r = result.results
    gap = r["bits_saved_by_pretraining"][0]
    assert f"pretraining saves {gap:.2f} bits per character" in result.stdout
    for sample in r["samples"].values():
        assert len(sample) > 100
