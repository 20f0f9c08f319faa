package inventory

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxTagLen is Ganeti's limit on the length of a tag.
const MaxTagLen = 128

// ValidHostname checks a node, instance or cluster name against Ganeti's
// hostname rules (RFC 1123): dot-separated labels of ASCII letters, digits and
// '-', not starting or ending with '-', each 1..63 characters, 255 in total.
// Anything else, in particular shell metacharacters, whitespace and non-ASCII
// characters, is refused, so a valid name is safe as a command argument.
func ValidHostname(s string) error {
	if s == "" {
		return errors.New("invalid hostname: empty")
	}
	if len(s) > 255 {
		return fmt.Errorf("invalid hostname %q: %d characters, at most 255 allowed", trunc(s), len(s))
	}
	for i, r := range s {
		if !(r == '.' || r == '-' || isAlnum(r)) {
			return fmt.Errorf("invalid hostname %q: character %s at offset %d is not allowed (only letters, digits, '-' and '.')", s, quoteRune(r), i)
		}
	}
	for label := range strings.SplitSeq(s, ".") {
		switch {
		case label == "":
			return fmt.Errorf("invalid hostname %q: empty label (leading, trailing or double dot)", s)
		case len(label) > 63:
			return fmt.Errorf("invalid hostname %q: label %q is %d characters, at most 63 allowed", trunc(s), trunc(label), len(label))
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("invalid hostname %q: label %q starts or ends with '-'", s, label)
		}
	}
	return nil
}

// ValidTag checks a tag against Ganeti's rules: 1..128 characters from
// [A-Za-z0-9.+*/:@_-].
func ValidTag(s string) error {
	if s == "" {
		return errors.New("invalid tag: empty")
	}
	if len(s) > MaxTagLen {
		return fmt.Errorf("invalid tag %q: %d characters, at most %d allowed", trunc(s), len(s), MaxTagLen)
	}
	for i, r := range s {
		if !isAlnum(r) && !strings.ContainsRune(".+*/:@_-", r) {
			return fmt.Errorf("invalid tag %q: character %s at offset %d is not allowed (only letters, digits and . + * / : @ _ -)", s, quoteRune(r), i)
		}
	}
	return nil
}

// ParseSize parses a size as Ganeti does (gnt-* -s, --disk size=): a
// non-negative decimal number, optionally with a fraction, and an optional
// unit m/mb/mib (the default), g/gb/gib or t/tb/tib in any case; "10g" is
// 10240 MiB. Like Ganeti, the result is rounded up to a whole MiB and then to a
// multiple of 4 MiB ("1" gives 4). Negative numbers, exponents, unknown units
// and sizes above 2^40 MiB are refused.
func ParseSize(s string) (int64, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < utf8.RuneSelf && isLetter(r) })
	unit := strings.ToLower(strings.TrimLeft(s[len(num):], " "))
	num = strings.TrimRight(num, " ")
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit m, g or t (e.g. 512, 10g)", s)
	}
	for _, r := range num {
		if !(r >= '0' && r <= '9' || r == '.') {
			return 0, fmt.Errorf("invalid size %q: character %s is not allowed: want a non-negative number with an optional unit m, g or t", s, quoteRune(r))
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %q is not a number", s, num)
	}
	switch unit {
	case "", "m", "mb", "mib":
	case "g", "gb", "gib":
		v *= 1024
	case "t", "tb", "tib":
		v *= 1024 * 1024
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use m, g or t)", s, unit)
	}
	const maxMiB = 1 << 40
	if v > maxMiB {
		return 0, fmt.Errorf("invalid size %q: larger than %d MiB", s, int64(maxMiB))
	}
	mib := int64(math.Ceil(v))
	if r := mib % 4; r != 0 {
		mib += 4 - r
	}
	return mib, nil
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isAlnum(r rune) bool  { return isLetter(r) || r >= '0' && r <= '9' }

func quoteRune(r rune) string {
	if r == ' ' {
		return "' ' (space)"
	}
	return strconv.QuoteRune(r)
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
