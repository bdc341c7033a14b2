# make run       - the main demo (tutorial 10); installs only what minidl needs to run
# make test      - the whole test suite; adds the test tools and PyTorch (the reference)
# make bench     - speed against NumPy/BLAS and PyTorch
# make notebooks - the tutorials as .ipynb, with a Jupyter kernel to open them
# make exercises - the student edition in build/student/ (FORCE=1 replaces a student's work)
# make grade     - grade the reference solutions; make grade STUDENT=path grades a student tree

# make mutation  - mutation testing of the core: how many planted bugs the tests catch
#                  (a measurement, not part of `make test`; narrow it with
#                  MUTATE="minidl/optim minidl/autograd.py" MUTATE_TESTS="tests/test_optim.py")
# Each target first builds what it needs in .venv, from nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME   := $(VENV)/.runtime
TESTING   := $(VENV)/.testing
NOTEBOOKS := $(VENV)/.notebooks
MUTATION  := $(VENV)/.mutation

.PHONY: test run bench notebooks exercises grade mutation clean

$(RUNTIME): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# PyTorch (CPU) is the reference many tests and the benchmarks compare against. Where it
# cannot be installed those comparisons skip, except under CI, where they fail.
$(TESTING): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m pip install --quiet 'torch==2.13.0' \
		|| echo "PyTorch could not be installed: the comparisons with it will be skipped"
	touch $@

$(MUTATION): $(TESTING)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	touch $@

$(NOTEBOOKS): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	$(BIN)/python -m ipykernel install --sys-prefix --name minidl --display-name "minidl (.venv)"
	touch $@

# The CUDA kernels run in numba's simulator in a session of their own: the simulator
# must be chosen before numba.cuda is first imported (the main session compiles them).
# The tutorials run a second time under OpenBLAS's Prescott kernels, which every x86-64
# CPU has: a check that holds only under one CPU's rounding fails here on any machine.
test: $(TESTING)
	$(BIN)/python -m pytest
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -m cudasim
	OPENBLAS_CORETYPE=Prescott $(BIN)/python -m pytest tests/test_tutorials.py

run: $(RUNTIME)
	$(BIN)/python tutorials/10_big_vs_small.py

bench: $(TESTING)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/kernels.py
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/denormals.py
	$(BIN)/python benchmarks/digits.py
	$(BIN)/python benchmarks/gpu.py
	$(BIN)/python benchmarks/train_step.py --device cuda

notebooks: $(NOTEBOOKS)
	$(BIN)/python -m jupytext --to ipynb --set-kernel minidl tutorials/[0-9]*.py
	@echo "open them with: $(BIN)/jupyter notebook tutorials/"

# The student edition: minidl, kernels, exercises and tutorials with every solution block
# replaced by a stub (tools/make_student.py). It refuses to overwrite a student's changes.
STUDENT_EDITION := build/student
exercises: $(TESTING)
	$(BIN)/python tools/make_student.py $(STUDENT_EDITION) $(if $(FORCE),--force)

# The graders of exercises/ on a tree: this one (the reference solutions) by default.
STUDENT ?= .
grade: $(TESTING)
	$(BIN)/python tools/grade.py --student $(STUDENT)

# Prints the surviving mutants and, last, `mutation score: K/N killed`. The default scope is
# the whole core with its fast tests (hours on a small machine): see tools/mutation.py.
mutation: $(MUTATION)
	$(BIN)/python tools/mutation.py $(if $(MUTATE),--mutate $(MUTATE)) \
		$(if $(MUTATE_TESTS),--tests $(MUTATE_TESTS))

clean:
	rm -rf $(VENV) build dist *.egg-info mutants
