package standin

import (
	"fmt"
	"strconv"
	"strings"
)

type optKind int

const (
	optNum    optKind = iota // number with a scale suffix
	optBool                  // --x or --x=yes|no
	optFlag                  // --x, no value
	optEnum                  // plain word
	optString                // shown double-quoted
	optAddr                  // address (connect's alternate addresses)
)

// optField describes one drbdsetup 8.4 option as drbd-utils' config_flags
// does: how it parses, its default (not shown by "show") and the scale and
// unit "show" prints.
type optField struct {
	name  string
	kind  optKind
	scale byte // for optNum: '1', 's' (sectors), 'k' (KiB)
	unit  string
	def   string
}

// Field tables in drbd-utils' order, which is the order "show" prints.
var (
	diskFields = []optField{
		{"on-io-error", optEnum, 0, "", "pass_on"},
		{"fencing", optEnum, 0, "", "dont-care"},
		{"disk-barrier", optBool, 0, "", "no"},
		{"disk-flushes", optBool, 0, "", "yes"},
		{"disk-drain", optBool, 0, "", "yes"},
		{"md-flushes", optBool, 0, "", "yes"},
		{"resync-rate", optNum, 'k', "bytes/second", "250k"},
		{"resync-after", optNum, '1', "", "-1"},
		{"al-extents", optNum, '1', "", "1237"},
		{"al-updates", optBool, 0, "", "yes"},
		{"discard-zeroes-if-aligned", optBool, 0, "", "yes"},
		{"disable-write-same", optBool, 0, "", "no"},
		{"c-plan-ahead", optNum, '1', "1/10 seconds", "20"},
		{"c-delay-target", optNum, '1', "1/10 seconds", "10"},
		{"c-fill-target", optNum, 's', "bytes", "100s"},
		{"c-max-rate", optNum, 'k', "bytes/second", "102400k"},
		{"c-min-rate", optNum, 'k', "bytes/second", "250k"},
		{"disk-timeout", optNum, '1', "1/10 seconds", "0"},
		{"read-balancing", optEnum, 0, "", "prefer-local"},
		{"rs-discard-granularity", optNum, '1', "", "0"},
	}
	attachFields = append([]optField{
		{"size", optNum, 's', "bytes", "0s"},
		{"max-bio-bvecs", optNum, '1', "", "0"},
	}, diskFields...)
	netFields = []optField{
		{"protocol", optEnum, 0, "", "C"},
		{"timeout", optNum, '1', "1/10 seconds", "60"},
		{"max-epoch-size", optNum, '1', "", "2048"},
		{"max-buffers", optNum, '1', "", "2048"},
		{"unplug-watermark", optNum, '1', "", "128"},
		{"connect-int", optNum, '1', "seconds", "10"},
		{"ping-int", optNum, '1', "seconds", "10"},
		{"sndbuf-size", optNum, '1', "bytes", "0"},
		{"rcvbuf-size", optNum, '1', "bytes", "0"},
		{"ko-count", optNum, '1', "", "7"},
		{"allow-two-primaries", optBool, 0, "", "no"},
		{"cram-hmac-alg", optString, 0, "", ""},
		{"shared-secret", optString, 0, "", ""},
		{"after-sb-0pri", optEnum, 0, "", "disconnect"},
		{"after-sb-1pri", optEnum, 0, "", "disconnect"},
		{"after-sb-2pri", optEnum, 0, "", "disconnect"},
		{"always-asbp", optBool, 0, "", "no"},
		{"rr-conflict", optEnum, 0, "", "disconnect"},
		{"ping-timeout", optNum, '1', "1/10 seconds", "5"},
		{"data-integrity-alg", optString, 0, "", ""},
		{"tcp-cork", optBool, 0, "", "yes"},
		{"on-congestion", optEnum, 0, "", "block"},
		{"congestion-fill", optNum, 's', "bytes", "0s"},
		{"congestion-extents", optNum, '1', "", "1237"},
		{"csums-alg", optString, 0, "", ""},
		{"csums-after-crash-only", optBool, 0, "", "no"},
		{"verify-alg", optString, 0, "", ""},
		{"use-rle", optBool, 0, "", "yes"},
		{"socket-check-timeout", optNum, '1', "", "0"},
	}
	connectFields = append([]optField{
		{"tentative", optFlag, 0, "", ""},
		{"discard-my-data", optFlag, 0, "", ""},
		{"alternate-address", optAddr, 0, "", ""},
		{"alternate-peer-address", optAddr, 0, "", ""},
	}, netFields...)
	resourceFields = []optField{
		{"cpu-mask", optString, 0, "", ""},
		{"on-no-data-accessible", optEnum, 0, "", "io-error"},
	}
	waitFields = []optField{
		{"wfc-timeout", optNum, '1', "seconds", "0"},
		{"degr-wfc-timeout", optNum, '1', "seconds", "0"},
		{"outdated-wfc-timeout", optNum, '1', "seconds", "0"},
		{"wait-after-sb", optBool, 0, "", "no"},
	}
	resizeFields = []optField{
		{"size", optNum, 's', "bytes", "0s"},
		{"assume-peer-has-space", optFlag, 0, "", ""},
		{"assume-clean", optFlag, 0, "", ""},
		{"al-stripes", optNum, '1', "", "1"},
		{"al-stripe-size-kB", optNum, '1', "", "32"},
	}
	forceFields  = []optField{{"force", optFlag, 0, "", ""}}
	showFields   = []optField{{"show-defaults", optFlag, 0, "", ""}}
	noFields     = []optField{}
	statusFields = []optField{{"verbose", optFlag, 0, "", ""}, {"statistics", optFlag, 0, "", ""}, {"color", optEnum, 0, "", ""}}
)

func findField(fields []optField, name string) (optField, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return optField{}, false
}

// usageError is a command line error; drbdsetup exits 20 on those.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseOpts splits args into positional arguments and options like getopt
// with permutation does, normalising option values to the form "show"
// prints (numbers in the field's scale, booleans yes/no).
func parseOpts(args []string, fields []optField) (pos []string, opts []optValue, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || a == "--" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		f, ok := findField(fields, name)
		if !ok {
			return nil, nil, &usageError{fmt.Sprintf("unrecognized option '--%s'", name)}
		}
		switch f.kind {
		case optFlag:
			if hasVal && val != "yes" && val != "no" {
				return nil, nil, &usageError{fmt.Sprintf("option '--%s' doesn't allow an argument", name)}
			}
			if !hasVal {
				val = "yes"
			}
		case optBool:
			if !hasVal {
				val = "yes"
			}
			if val != "yes" && val != "no" {
				return nil, nil, &usageError{fmt.Sprintf("invalid argument '%s' for option '--%s'", val, name)}
			}
		default:
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, &usageError{fmt.Sprintf("option '--%s' requires an argument", name)}
				}
				i++
				val = args[i]
			}
			if f.kind == optNum {
				n, err := parseSize(val, f.scale)
				if err != nil {
					return nil, nil, &usageError{fmt.Sprintf("%s: %v", name, err)}
				}
				val = formatScaled(n, f.scale)
			}
		}
		opts = optSet(opts, name, val)
	}
	return pos, opts, nil
}

func optGet(opts []optValue, name string) string {
	for _, o := range opts {
		if o.Name == name {
			return o.Value
		}
	}
	return ""
}

// optSet replaces or appends name=value.
func optSet(opts []optValue, name, value string) []optValue {
	for i, o := range opts {
		if o.Name == name {
			opts[i].Value = value
			return opts
		}
	}
	return append(opts, optValue{name, value})
}

func scaleBytes(c byte) int64 {
	switch c {
	case 's', 'S':
		return 512
	case 'k', 'K':
		return 1 << 10
	case 'm', 'M':
		return 1 << 20
	case 'g', 'G':
		return 1 << 30
	case 't', 'T':
		return 1 << 40
	}
	return 1
}

// parseSize parses a drbdsetup number with an optional unit suffix; without
// one, the field's default scale applies. The result is in bytes for scaled
// fields and plain for scale '1'.
func parseSize(v string, def byte) (int64, error) {
	if v == "" {
		return 0, fmt.Errorf("empty number")
	}
	unit := def
	if c := v[len(v)-1]; strings.IndexByte("sSkKmMgGtT", c) >= 0 {
		unit = c
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", v)
	}
	if def == '1' || def == 0 {
		return n * scaleBytes(unit) / scaleBytes('1'), nil
	}
	return n * scaleBytes(unit), nil
}

func formatScaled(n int64, scale byte) string {
	if scale == '1' || scale == 0 {
		return strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n/scaleBytes(scale), 10) + string(scale)
}

// showOptions prints a "sect { ... }" block of the non-default options the
// way drbdsetup's print_options does: "%-16s\t%s;" plus a unit comment.
func showOptions(b *strings.Builder, indent int, sect string, fields []optField, opts []optValue) {
	pad := strings.Repeat(" ", 4*indent)
	fmt.Fprintf(b, "%s%s {\n", pad, sect)
	for _, f := range fields {
		v := optGet(opts, f.name)
		if v == "" || v == f.def || f.kind == optFlag || f.kind == optAddr {
			continue
		}
		if f.kind == optString {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(b, "%s    %-16s\t%s;", pad, f.name, v)
		if f.unit != "" {
			fmt.Fprintf(b, " # %s", f.unit)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%s}\n", pad)
}
