package playbooks

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/ganetictl/ganetictl/statefile"
)

// checkNDParams refuses node parameters Ganeti does not know, and an
// oob_program that is neither an absolute path, "" nor "!" (no OOB).
func checkNDParams(p statefile.Params) error {
	var unknown []string
	for k := range p {
		if _, ok := NDDefaults[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return prereq(ErrWrongInput, "Unknown node parameter(s): %s", strings.Join(unknown, ", "))
	}
	if v, ok := p["oob_program"]; ok {
		s, isStr := v.(string)
		if !isStr || s != "" && s != "!" && (!path.IsAbs(s) || strings.ContainsAny(s, " \t\n")) {
			return prereq(ErrWrongInput, "oob_program must be an absolute path (or \"!\": no out-of-band management), not %v", v)
		}
	}
	return nil
}

// OOBProgram is the out-of-band program of node: its effective
// oob_program, or "" when it has none (unset, or "!": opted out).
func OOBProgram(st *statefile.State, name string) string {
	n := st.Nodes[name]
	if n == nil {
		return ""
	}
	p, _ := EffectiveND(st, n.Group, n.NDParams)["oob_program"].(string)
	if p == "!" {
		return ""
	}
	return p
}

var _ = fmt.Sprintf
