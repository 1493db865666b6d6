# Shortcuts for people who have make; the scripts work without it.
.PHONY: test demo bench lint
test:
	scripts/test
demo:
	scripts/demo
bench:
	scripts/bench
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
