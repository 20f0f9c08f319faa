//go:build !unix

package remote

import "os/exec"

func setProcessGroup(cmd *exec.Cmd) {}

func exitSignal(e *exec.ExitError) int { return 0 }
