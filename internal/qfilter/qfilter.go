// Package qfilter is Ganeti's query filter language (lib/qlang.py), the
// argument of -F/--filter on list commands:
//
//	pnode == "node1" and status == "running"
//	not (name =~ m/^web/i or "prod" in tags)
//	admin_state != "up" and mem > 512
//
// Conditions are a field name alone (true when the value is), a field
// compared with ==, =, !=, <, <=, >, >= to a number or a quoted string,
// `VALUE in FIELD` and `VALUE not in FIELD` on list fields, =~ and !~
// with a regular expression (/re/, m/re/i, #re#, ^re^ or |re|), =* and !*
// with a DNS-name glob ("*.site"); combined with not, and, or (in that
// order of precedence) and parentheses.
package qfilter

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Expr is a parsed filter.
type Expr interface {
	// Eval tells whether a row passes; get gives a field's value (false:
	// no such field).
	Eval(get func(field string) (any, bool)) (bool, error)
	fields(add func(string))
}

// Fields lists the field names e uses, so that a caller can refuse
// unknown ones before evaluating anything.
func Fields(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	e.fields(func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	})
	return out
}

// LooksLikeFilter reports whether a single list argument is a filter
// rather than a name, as Ganeti decides (its FILTER_DETECTION_CHARS).
func LooksLikeFilter(arg string) bool {
	return strings.ContainsAny(arg, "()=/!~'\"\\<> \t\n")
}

// Parse reads a filter.
func Parse(text string) (Expr, error) {
	p := &parser{src: text}
	p.next()
	e, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("failed to parse query filter %q: %w", text, err)
	}
	if p.tok.kind != tEOF {
		return nil, fmt.Errorf("failed to parse query filter %q: unexpected %q at %d", text, p.tok.text, p.tok.pos)
	}
	return e, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tRegexp
	tOp
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string // identifier, operator, string contents, or regexp
	num  int64
	pos  int
}

type parser struct {
	src string
	pos int
	tok token
	err error
}

// next reads the next token; a lexing error ends the input.
func (p *parser) next() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tEOF, pos: start}
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '(':
		p.pos++
		p.tok = token{kind: tLParen, text: "(", pos: start}
	case c == ')':
		p.pos++
		p.tok = token{kind: tRParen, text: ")", pos: start}
	case c == '"' || c == '\'':
		s, err := p.quoted(c)
		if err != nil {
			p.fail(err)
			return
		}
		p.tok = token{kind: tString, text: s, pos: start}
	case c >= '0' && c <= '9' || (c == '-' || c == '+') && p.pos+1 < len(p.src) && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9':
		p.pos++
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		n, err := strconv.ParseInt(p.src[start:p.pos], 10, 64)
		if err != nil {
			p.fail(err)
			return
		}
		p.tok = token{kind: tNumber, text: p.src[start:p.pos], num: n, pos: start}
	case unicode.IsLetter(rune(c)):
		for p.pos < len(p.src) {
			r := rune(p.src[p.pos])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '/' && r != '.' {
				break
			}
			p.pos++
		}
		p.tok = token{kind: tIdent, text: p.src[start:p.pos], pos: start}
	default:
		for _, op := range []string{"==", "!=", "<=", ">=", "=~", "!~", "=*", "!*", "=", "<", ">"} {
			if strings.HasPrefix(p.src[p.pos:], op) {
				p.pos += len(op)
				p.tok = token{kind: tOp, text: op, pos: start}
				return
			}
		}
		p.fail(fmt.Errorf("unexpected %q at %d", c, start))
	}
}

func (p *parser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
	p.tok = token{kind: tEOF, pos: p.pos}
	p.pos = len(p.src)
}

// quoted reads a string quoted with q, backslash escaping.
func (p *parser) quoted(q byte) (string, error) {
	var b strings.Builder
	for p.pos++; p.pos < len(p.src); p.pos++ {
		c := p.src[p.pos]
		switch {
		case c == '\\' && p.pos+1 < len(p.src):
			p.pos++
			b.WriteByte(p.src[p.pos])
		case c == q:
			p.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}

// regexpValue reads a regular expression after =~ or !~: an optional m,
// a delimiter of /#^|, the expression, the delimiter, flags i and s.
func (p *parser) regexpValue() (*regexp.Regexp, error) {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == 'm' {
		p.pos++
	}
	if p.pos >= len(p.src) || !strings.ContainsRune("/#^|", rune(p.src[p.pos])) {
		return nil, fmt.Errorf("a regular expression (/re/, m/re/i) is wanted at %d", p.pos)
	}
	delim := p.src[p.pos]
	var b strings.Builder
	closed := false
	for p.pos++; p.pos < len(p.src); p.pos++ {
		c := p.src[p.pos]
		if c == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == delim {
			p.pos++
			b.WriteByte(delim)
			continue
		}
		if c == delim {
			p.pos++
			closed = true
			break
		}
		b.WriteByte(c)
	}
	if !closed {
		return nil, fmt.Errorf("unterminated regular expression")
	}
	flags := ""
	for p.pos < len(p.src) && unicode.IsLetter(rune(p.src[p.pos])) {
		if !strings.ContainsRune("is", rune(p.src[p.pos])) {
			return nil, fmt.Errorf("unknown regular expression flags: '%c'", p.src[p.pos])
		}
		flags += string(p.src[p.pos])
		p.pos++
	}
	re := b.String()
	if flags != "" {
		re = "(?" + flags + ")" + re
	}
	return regexp.Compile(re)
}

func (p *parser) or() (Expr, error) {
	return p.chain("or", p.and, func(a, b Expr) Expr { return orExpr{a, b} })
}

func (p *parser) and() (Expr, error) {
	return p.chain("and", p.not, func(a, b Expr) Expr { return andExpr{a, b} })
}

func (p *parser) chain(word string, sub func() (Expr, error), join func(a, b Expr) Expr) (Expr, error) {
	e, err := sub()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tIdent && p.tok.text == word {
		p.next()
		r, err := sub()
		if err != nil {
			return nil, err
		}
		e = join(e, r)
	}
	return e, nil
}

func (p *parser) not() (Expr, error) {
	if p.tok.kind == tIdent && p.tok.text == "not" {
		p.next()
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	if p.err != nil {
		return nil, p.err
	}
	switch p.tok.kind {
	case tLParen:
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.wanted("')'")
		}
		p.next()
		return e, nil
	case tNumber, tString: // VALUE [not] in FIELD
		v := value(p.tok)
		p.next()
		neg := false
		if p.tok.kind == tIdent && p.tok.text == "not" {
			neg = true
			p.next()
		}
		if p.tok.kind != tIdent || p.tok.text != "in" {
			return nil, p.wanted("'in'")
		}
		p.next()
		if p.tok.kind != tIdent {
			return nil, p.wanted("a field name")
		}
		var e Expr = containsExpr{field: p.tok.text, value: v}
		p.next()
		if neg {
			e = notExpr{e}
		}
		return e, p.err
	case tIdent:
		field := p.tok.text
		p.pos = p.tok.pos + len(field)
		p.next()
		if p.tok.kind != tOp {
			return truthExpr{field}, p.err
		}
		op := p.tok.text
		switch op {
		case "=~", "!~":
			re, err := p.regexpValue()
			if err != nil {
				return nil, err
			}
			p.next()
			var e Expr = regexpExpr{field, re}
			if op == "!~" {
				e = notExpr{e}
			}
			return e, p.err
		}
		p.next()
		if p.tok.kind != tNumber && p.tok.kind != tString {
			return nil, p.wanted("a number or a quoted string")
		}
		v := value(p.tok)
		p.next()
		switch op {
		case "=*", "!*":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s wants a quoted glob", op)
			}
			var e Expr = regexpExpr{field, globRegexp(s)}
			if op == "!*" {
				e = notExpr{e}
			}
			return e, p.err
		}
		return compareExpr{field: field, op: op, value: v}, p.err
	}
	return nil, p.wanted("a condition")
}

func (p *parser) wanted(what string) error {
	if p.err != nil {
		return p.err
	}
	if p.tok.kind == tEOF {
		return fmt.Errorf("%s is wanted at the end", what)
	}
	return fmt.Errorf("%s is wanted at %d, not %q", what, p.tok.pos, p.tok.text)
}

func value(t token) any {
	if t.kind == tNumber {
		return t.num
	}
	return t.text
}

// globRegexp is Ganeti's DnsNameGlobPattern: * and ? within a DNS label,
// and "web*" also matching "web1.example.com".
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString("[^.]*")
		case '?':
			b.WriteString("[^.]")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`(\..*)?$`)
	return regexp.MustCompile(b.String())
}

type orExpr struct{ a, b Expr }

func (e orExpr) Eval(get func(string) (any, bool)) (bool, error) {
	if ok, err := e.a.Eval(get); ok || err != nil {
		return ok, err
	}
	return e.b.Eval(get)
}
func (e orExpr) fields(add func(string)) { e.a.fields(add); e.b.fields(add) }

type andExpr struct{ a, b Expr }

func (e andExpr) Eval(get func(string) (any, bool)) (bool, error) {
	if ok, err := e.a.Eval(get); !ok || err != nil {
		return false, err
	}
	return e.b.Eval(get)
}
func (e andExpr) fields(add func(string)) { e.a.fields(add); e.b.fields(add) }

type notExpr struct{ e Expr }

func (e notExpr) Eval(get func(string) (any, bool)) (bool, error) {
	ok, err := e.e.Eval(get)
	return !ok && err == nil, err
}
func (e notExpr) fields(add func(string)) { e.e.fields(add) }

func field(get func(string) (any, bool), name string) (any, error) {
	v, ok := get(name)
	if !ok {
		return nil, fmt.Errorf("unknown field %q", name)
	}
	return v, nil
}

type truthExpr struct{ field string }

func (e truthExpr) Eval(get func(string) (any, bool)) (bool, error) {
	v, err := field(get, e.field)
	if err != nil || v == nil {
		return false, err
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String, reflect.Slice, reflect.Map:
		return rv.Len() > 0, nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return rv.Int() != 0, nil
	case reflect.Float64:
		return rv.Float() != 0, nil
	}
	return true, nil
}
func (e truthExpr) fields(add func(string)) { add(e.field) }

type compareExpr struct {
	field string
	op    string
	value any
}

func (e compareExpr) Eval(get func(string) (any, bool)) (bool, error) {
	v, err := field(get, e.field)
	if err != nil {
		return false, err
	}
	c, comparable := compare(v, e.value)
	switch e.op {
	case "==", "=":
		return comparable && c == 0, nil
	case "!=":
		return !comparable || c != 0, nil
	}
	if !comparable {
		return false, nil
	}
	switch e.op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown operator %s", e.op)
}
func (e compareExpr) fields(add func(string)) { add(e.field) }

// compare orders a field's value against a literal: numbers as numbers,
// anything else by its text.
func compare(v, lit any) (int, bool) {
	if n, ok := lit.(int64); ok {
		f, ok := number(v)
		if !ok {
			return 0, false
		}
		switch {
		case f < float64(n):
			return -1, true
		case f > float64(n):
			return 1, true
		}
		return 0, true
	}
	return strings.Compare(text(v), lit.(string)), true
}

func number(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return float64(rv.Uint()), true
	case reflect.Float64, reflect.Float32:
		return rv.Float(), true
	case reflect.String:
		f, err := strconv.ParseFloat(rv.String(), 64)
		return f, err == nil
	}
	return 0, false
}

func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

type containsExpr struct {
	field string
	value any
}

func (e containsExpr) Eval(get func(string) (any, bool)) (bool, error) {
	v, err := field(get, e.field)
	if err != nil || v == nil {
		return false, err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return false, fmt.Errorf("field %q is not a list: `in` tests list fields", e.field)
	}
	for i := 0; i < rv.Len(); i++ {
		if c, ok := compare(rv.Index(i).Interface(), e.value); ok && c == 0 {
			return true, nil
		}
	}
	return false, nil
}
func (e containsExpr) fields(add func(string)) { add(e.field) }

type regexpExpr struct {
	field string
	re    *regexp.Regexp
}

func (e regexpExpr) Eval(get func(string) (any, bool)) (bool, error) {
	v, err := field(get, e.field)
	if err != nil {
		return false, err
	}
	return e.re.MatchString(text(v)), nil
}
func (e regexpExpr) fields(add func(string)) { add(e.field) }
