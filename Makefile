# Convenience targets; each runs the same task as `python3 dev.py <target>` (which needs only Python 3.10+).
PYTHON ?= python3

.PHONY: demo test bench lint wheel
demo test bench lint wheel:
	$(PYTHON) dev.py $@
