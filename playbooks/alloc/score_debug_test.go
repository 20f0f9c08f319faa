package alloc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDebugScores(t *testing.T) {
	if os.Getenv("ALLOC_DEBUG") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob("testdata/htools/*.data")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		c, err := LoadText(string(b))
		if err != nil {
			fmt.Println(filepath.Base(f), "ERR", err)
			continue
		}
		if _, err := c.Finish(FinishOptions{}); err != nil {
			fmt.Println(filepath.Base(f), "ERR", err)
			continue
		}
		for g := range c.Groups {
			var ns []*Node
			for _, n := range c.Nodes {
				if n.Group == g {
					ns = append(ns, n)
				}
			}
			fmt.Printf("%s %s %.8f\n", filepath.Base(f), c.Groups[g].Name, Score(ns))
		}
	}
}

func TestDebugBalance(t *testing.T) {
	if os.Getenv("ALLOC_DEBUG") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob("testdata/htools/*.data")
	if f := os.Getenv("ALLOC_FILE"); f != "" {
		files = []string{f}
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		c, err := LoadText(string(b))
		if err != nil {
			continue
		}
		if _, err := c.Finish(FinishOptions{}); err != nil {
			continue
		}
		for g := range c.Groups {
			for _, hb := range []bool{true, false} {
				o := DefaultBalanceOptions()
				o.Hbal = hb
				r, err := Balance(c, g, o)
				if err != nil {
					fmt.Println(filepath.Base(f), err)
					continue
				}
				fmt.Printf("%s %s hbal=%v ini=%.8f fin=%.8f moves=%d balanced=%v compressed=%d\n", filepath.Base(f), c.Groups[g].Name, hb, r.InitialScore, r.FinalScore, len(r.Moves), r.Balanced, r.Compressed)
				if os.Getenv("ALLOC_FILE") != "" {
					for _, m := range r.Moves {
						fmt.Printf("  %s %s:%s => %s:%s %.8f a=%s\n", m.Instance, m.OldPrimary, m.OldSecondary, m.Primary, m.Secondary, m.Score, m.Code)
					}
				}
			}
		}
	}
}
