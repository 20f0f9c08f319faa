package view

import (
	"fmt"
	"io"
)

// Confirm asks question on Err and reads the answer from in: only "y" or
// "yes" confirms; anything else, or nothing to read, refuses.
func Confirm(s Streams, in io.Reader, question string) bool {
	fmt.Fprintf(s.Err, "%s\ny/[n]: ", question)
	var answer string
	if _, err := fmt.Fscanln(in, &answer); err != nil {
		return false
	}
	return answer == "y" || answer == "yes"
}
