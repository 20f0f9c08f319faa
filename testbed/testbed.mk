# Test-bed targets; the top-level Makefile includes this file.
#   make testbed-up NODES=3    bring up the bed $(TESTBED_ID) (default 0) in $(TESTBED_DIR)
#   make testbed-down          tear it down (nothing left behind)
#   make testbed-status
NODES ?= 3
TESTBED_DIR ?= /tmp/ganetictl-testbed
TESTBED_ID ?= 0
TESTBED_CLI := bin/testbed

.PHONY: testbed-up testbed-down testbed-status $(TESTBED_CLI)

$(TESTBED_CLI):
	go build -o $(TESTBED_CLI) ./testbed/cmd/testbed

testbed-up: $(TESTBED_CLI)
	$(TESTBED_CLI) up -n $(NODES) -id $(TESTBED_ID) -dir $(TESTBED_DIR)

testbed-down: $(TESTBED_CLI)
	$(TESTBED_CLI) down -id $(TESTBED_ID) -dir $(TESTBED_DIR)

testbed-status: $(TESTBED_CLI)
	$(TESTBED_CLI) status -dir $(TESTBED_DIR)
