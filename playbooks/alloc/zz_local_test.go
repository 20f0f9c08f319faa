package alloc

import (
	"fmt"
	"os"
	"testing"
)

func TestLocalHspace(t *testing.T) {
	f := os.Getenv("HSPACE_FILE")
	if f == "" {
		t.Skip()
	}
	b, _ := os.ReadFile(f)
	c, err := LoadText(string(b))
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	c.Finish(FinishOptions{})
	o := CapacityOptions{MaxLength: -1, NoCapacityChecks: os.Getenv("NOCAP") != "", AcceptExisting: os.Getenv("ACCEPT") != "", IndependentGroups: os.Getenv("INDEP") != ""}
	r, err := c.Capacity(o)
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	for _, kv := range r.Keys() {
		fmt.Printf("HTS_%s=%s\n", kv.Key, Quote(kv.Value))
	}
}
