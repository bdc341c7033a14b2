# make test  - the whole test suite        make run   - the main demo (tutorial 10)
# make bench - speed against NumPy/PyTorch make notebooks - tutorials as .ipynb
# Each target first builds .venv (once) from nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.ready

.PHONY: test run bench notebooks clean

$(READY): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
# PyTorch (CPU) is the reference the layer tests and benchmarks compare against; where
# it cannot be installed those tests skip and the benchmark columns say so
	$(BIN)/python -m pip install --quiet 'torch==2.13.0' \
		|| echo "PyTorch could not be installed: the comparisons with it will be skipped"
	touch $(READY)

# The tutorials run a second time under OpenBLAS's Prescott kernels, which every x86-64
# CPU has: a check that holds only under one CPU's rounding fails here on any machine.
test: $(READY)
	$(BIN)/python -m pytest
	OPENBLAS_CORETYPE=Prescott $(BIN)/python -m pytest tests/test_tutorials.py

run: $(READY)
	$(BIN)/python tutorials/10_big_vs_small.py

bench: $(READY)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/kernels.py
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/digits.py
	$(BIN)/python benchmarks/gpu.py
	$(BIN)/python benchmarks/train_step.py --device cuda

notebooks: $(READY)
	$(BIN)/python -m jupytext --to ipynb tutorials/[0-9]*.py

clean:
	rm -rf $(VENV) build dist *.egg-info
