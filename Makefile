# Tasks for the template itself (the rendered project has its own Makefile).
# Run `make` to list them.

PYTHON ?= python3
# Where `make demo` renders the default extension (git-ignored).
DEMO_DIR := .demo
DEMO_PROJECT := $(DEMO_DIR)/my-lambda-extension

.DEFAULT_GOAL := help
.PHONY: help demo test clean

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[A-Za-z0-9_-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# The demo lives inside this repository's work tree, so Go's VCS stamp would
# describe the template's repository: leave it out.
demo: ## Render the default extension into .demo/ and build its layer zip
	rm -rf $(DEMO_DIR)
	$(PYTHON) -m cookiecutter --no-input --output-dir $(DEMO_DIR) .
	GOFLAGS="$(GOFLAGS) -buildvcs=false" $(MAKE) -C $(DEMO_PROJECT) layer
	@echo "Layer: $$(ls $(DEMO_PROJECT)/dist/*.zip)"

# CI (.ci/run) runs exactly this target.
test: ## Run the template's test suite (what CI runs)
	$(PYTHON) -m pytest --durations=10

clean: ## Remove .demo/ and test caches
	rm -rf $(DEMO_DIR) .pytest_cache tests/__pycache__
