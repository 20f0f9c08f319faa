package remote

// signals maps the signal names of SSH exit-signal messages (RFC 4254 §6.10,
// without "SIG") to their Linux numbers.
var signals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
	"KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

// signalCode is the exit code a shell reports for a command killed by the
// named signal: 128+number, or -1 for a signal it does not know.
func signalCode(name string) int {
	if n, ok := signals[name]; ok {
		return 128 + n
	}
	return -1
}

// signalName is the SSH name of signal number n, or "" when unknown.
func signalName(n int) string {
	for name, num := range signals {
		if num == n {
			return name
		}
	}
	return ""
}
