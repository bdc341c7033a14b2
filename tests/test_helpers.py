"""The test helpers that decide between skipping and failing: a reference that is missing
skips locally and fails under CI, so no comparison silently vanishes there."""
import pytest
from helpers import missing, require


def test_require_returns_the_module():
    assert require("numpy.linalg").__name__ == "numpy.linalg"


def test_a_missing_module_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_reference_module"):
        require("no_such_reference_module")


@pytest.mark.parametrize("value", ["true", "1"])
def test_a_missing_module_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI is set but no_such_reference_module"):
        require("no_such_reference_module")
    with pytest.raises(pytest.fail.Exception, match="CI is set but the data"):
        missing("the data is not there")
