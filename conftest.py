"""pytest: make the checkout importable even before `pip install -e .`."""
