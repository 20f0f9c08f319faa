package inventory

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex maps TOML key paths to the lines that define them. The TOML
// decoder keeps key positions to itself, so the text is scanned once more
// with a small scanner that understands tables, arrays of tables, dotted and
// quoted keys, and multi-line strings and arrays well enough to find lines.
type lineIndex struct {
	first map[string]int   // indexed path ("nodes.1.name", "nodes.1", "ssh.port") -> line
	occ   map[string][]int // plain path ("nodes.name") -> lines of every occurrence
}

// line returns the line of key, or of its nearest ancestor, or 0.
func (li *lineIndex) line(key string) int {
	if li == nil {
		return 0
	}
	for key != "" {
		if n, ok := li.first[key]; ok {
			return n
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

func indexLines(data []byte) *lineIndex {
	li := &lineIndex{first: map[string]int{}, occ: map[string][]int{}}
	add := func(indexed, plain string, n int) {
		if _, ok := li.first[indexed]; !ok {
			li.first[indexed] = n
		}
		li.occ[plain] = append(li.occ[plain], n)
	}
	var (
		prefix, plainPrefix []string
		arrays              = map[string]int{}
		inString            string // closing delimiter of an open multi-line string
		depth               int    // open brackets of a multi-line value
	)
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if inString != "" {
			if strings.Contains(line, inString) {
				inString = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(line)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			path := parseKey(strings.TrimPrefix(line, "[["), ']')
			p := strings.Join(path, ".")
			idx := arrays[p]
			arrays[p]++
			prefix = append(slices.Clone(path), strconv.Itoa(idx))
			plainPrefix = path
			add(strings.Join(prefix, "."), p, n)
			continue
		}
		if line[0] == '[' {
			path := parseKey(line[1:], ']')
			prefix, plainPrefix = path, path
			p := strings.Join(path, ".")
			add(p, p, n)
			continue
		}
		key := parseKey(line, '=')
		if key == nil {
			continue
		}
		full := strings.Join(append(slices.Clone(prefix), key...), ".")
		plain := strings.Join(append(slices.Clone(plainPrefix), key...), ".")
		add(full, plain, n)
		_, val, _ := strings.Cut(line, "=")
		val = strings.TrimSpace(val)
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(val, q) && !strings.Contains(val[3:], q) {
				inString = q
			}
		}
		if inString == "" {
			depth = max(bracketDelta(val), 0)
		}
	}
	return li
}

// parseKey reads a possibly dotted, possibly quoted key up to end; it
// returns nil when the line holds no such key.
func parseKey(s string, end byte) []string {
	var parts []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil
		}
		switch s[0] {
		case '"', '\'':
			j := strings.IndexByte(s[1:], s[0])
			if j < 0 {
				return nil
			}
			k := s[1 : j+1]
			if s[0] == '"' {
				if u, err := strconv.Unquote(s[:j+2]); err == nil {
					k = u
				}
			}
			parts = append(parts, k)
			s = s[j+2:]
		default:
			j := strings.IndexFunc(s, func(r rune) bool {
				return !(isAlnum(r) || r == '_' || r == '-')
			})
			if j == 0 {
				return nil
			}
			if j < 0 {
				j = len(s)
			}
			parts = append(parts, s[:j])
			s = s[j:]
		}
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil
		}
		switch s[0] {
		case '.':
			s = s[1:]
		case end:
			return parts
		default:
			return nil
		}
	}
}

// bracketDelta counts [ minus ] outside strings and comments.
func bracketDelta(s string) int {
	d := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return d
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

// schemaKeys lists the keys each table of the schema accepts, from the
// toml tags of file; free-form tables (parameters) map to nil.
var schemaKeys = func() map[string][]string {
	m := map[string][]string{}
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for f := range t.Fields() {
			name := f.Tag.Get("toml")
			m[path] = append(m[path], name)
			walk(strings.TrimPrefix(path+"."+name, "."), f.Type)
		}
	}
	walk("", reflect.TypeFor[file]())
	return m
}()

// freeForm are the tables whose keys are parameter names; their values must
// be scalars or arrays, not tables.
var freeForm = []string{"defaults.beparams", "defaults.nicparams", "hypervisors"}

// unknownKeys reports every undecoded key with its line.
func unknownKeys(name string, keys []toml.Key, li *lineIndex) error {
	var errs []error
	seen := map[string]int{}
	var reported []string
	for _, k := range keys {
		p := strings.Join(k, ".")
		idx := seen[p]
		seen[p]++
		if slices.ContainsFunc(reported, func(r string) bool { return strings.HasPrefix(p, r+".") }) {
			continue
		}
		reported = append(reported, p)
		loc := name
		if lines := li.occ[p]; idx < len(lines) {
			loc = fmt.Sprintf("%s:%d", name, lines[idx])
		}
		parent := strings.Join(k[:len(k)-1], ".")
		var msg string
		if slices.ContainsFunc(freeForm, func(f string) bool {
			return strings.HasPrefix(parent, f+".") || (f == "hypervisors" && strings.HasPrefix(parent, "hypervisors."))
		}) {
			msg = fmt.Sprintf("key %q: parameter values must be plain values (string, number, bool or array), not tables", p)
		} else {
			msg = fmt.Sprintf("unknown key %q", p)
			if s := suggest(k[len(k)-1], schemaKeys[parent]); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(k) == 1 {
				msg += " (top-level tables are " + strings.Join(schemaKeys[""], ", ") + ")"
			}
		}
		errs = append(errs, fmt.Errorf("%s: %s", loc, msg))
	}
	return errors.Join(errs...)
}

// suggest returns the candidate closest to s when it is close enough.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	norm := func(x string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(x)) }
	for _, c := range candidates {
		if norm(c) == norm(s) {
			return c
		}
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
