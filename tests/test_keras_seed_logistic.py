"""The seeds' logistic regression on the digits, twice, each listing with only its imports
changed: scikit-learn's (LogisticRegression -> minidl.classic) and the same model in Keras
(one Dense layer with a softmax, trained by Adam -> minidl.keras). Both learn, and agree."""
from types import SimpleNamespace

import numpy as np
import pytest

from minidl.classic import LogisticRegression     # was: from sklearn.linear_model import ...
from minidl.data import load_digits, train_test_split   # was: sklearn.datasets / model_selection
from minidl.keras.layers import Dense              # was: from tensorflow.keras.layers import ...
from minidl.keras.models import Sequential
from minidl.keras.utils import set_random_seed
from minidl.metrics import accuracy_score          # was: from sklearn.metrics import ...

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run():
    set_random_seed(0)
    X, y = load_digits()   # scikit-learn: load_digits(return_X_y=True); minidl's returns (X, y)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2,
                                                        random_state=0)
    # ---- the scikit-learn listing ----------------------------------------------------
    clf = LogisticRegression(max_iter=100)
    clf.fit(X_train, y_train)
    sklearn_accuracy = accuracy_score(y_test, clf.predict(X_test))
    # ---- the Keras listing -------------------------------------------------------------
    model = Sequential([Dense(10, activation="softmax", input_shape=(64,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=30, batch_size=32, verbose=0)
    loss, keras_accuracy = model.evaluate(X_test, y_test, verbose=0)
    # -------------------------------------------------------------------------------------
    return SimpleNamespace(clf=clf, model=model, X_test=X_test, y_test=y_test,
                           sklearn_accuracy=sklearn_accuracy, keras_accuracy=keras_accuracy)


def test_both_learn_the_digits(run):
    assert run.sklearn_accuracy >= 0.94
    assert run.keras_accuracy >= 0.92      # 30 epochs of Adam: near the exact optimum


def test_the_two_models_mostly_agree(run):
    keras_predictions = run.model.predict(run.X_test, verbose=0).argmax(1)
    assert np.mean(keras_predictions == run.clf.predict(run.X_test)) >= 0.9


def test_the_same_parameters(run):
    # Keras: one Dense layer, (64 + 1) * 10; scikit-learn: coef_ (10, 64) and intercept_ (10,)
    assert run.model.count_params() == (64 + 1) * 10 == 650
    assert run.clf.coef_.shape == (10, 64) and run.clf.intercept_.shape == (10,)
    kernel, bias = run.model.get_weights()
    assert kernel.shape == (64, 10) and bias.shape == (10,)   # Keras's layout: (in, units)
