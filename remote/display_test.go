package remote

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A command carrying a secret shows its Display form in errors and logs.
func TestDisplayHidesArgv(t *testing.T) {
	var logged []string
	l := NewLocal("n1")
	_, err := l.Run(t.Context(), Command{Argv: []string{"sh", "-c", "exit 3", "s3cr3t"}, Display: []string{"sh", "-c", "exit 3", "<masked>"}})
	var xe *ExitError
	if !errors.As(err, &xe) || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(strings.Join(xe.Argv, " "), "s3cr3t") {
		t.Fatalf("error shows the secret: %v (%v)", err, xe)
	}
	logRun(func(f string, a ...any) { logged = append(logged, strings.Join(strings.Fields(sprintf(f, a...)), " ")) },
		"n1", Command{Argv: []string{"x", "s3cr3t"}, Display: []string{"x", "<masked>"}}.display([]string{"x", "s3cr3t"}), Result{}, nil)
	if len(logged) != 1 || strings.Contains(logged[0], "s3cr3t") {
		t.Errorf("log shows the secret: %v", logged)
	}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
