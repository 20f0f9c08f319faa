package playbooks

// Test helpers shown to the external test package playbooks_test
// (golden_test.go). The golden harness renders plans with internal/view,
// which imports playbooks: only an external test package can import both.
var (
	// UpdateFlag is -update (rewrite golden files).
	UpdateFlag = update
	// GoodFactsFor is a healthy node's facts (goodFacts).
	GoodFactsFor = goodFacts
	// DefaultInitArgs are the test cluster's init arguments (initArgs).
	DefaultInitArgs = initArgs
	// RecoverFixtureFor and RecoverInventory are the recovery tests'
	// cluster, facts and probes, and inventory.
	RecoverFixtureFor = recoverFixture
	RecoverInventory  = testInventory
)
