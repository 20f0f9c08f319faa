package view

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Severity of a verify finding.
const (
	SevError   = "ERROR"
	SevWarning = "WARNING"
	SevNotice  = "NOTICE"
)

// Finding is one verify message in JSON form.
type Finding struct {
	Time     time.Time `json:"time"`
	Section  string    `json:"section"`
	Severity string    `json:"severity"`       // ERROR, WARNING, NOTICE
	Code     string    `json:"code,omitempty"` // Ganeti's code: ENODESSH, EINSTANCEDOWN, ...
	Kind     string    `json:"kind,omitempty"` // object kind: cluster, group, node, instance
	Object   string    `json:"object,omitempty"`
	Message  string    `json:"message"`
}

// VerifyOpts configure a Verify printer.
type VerifyOpts struct {
	Now        func() time.Time // clock for the line prefix; nil = time.Now
	ErrorCodes bool             // --error-codes: "ERROR:ENODESSH:node:node2:msg"
	JSON       bool             // collect findings; Close writes them as a JSON array
}

// Verify prints a gnt-cluster verify report as it goes: each call writes its
// line at once, prefixed by the clock in ctime form, e.g.
//
//	Wed Nov 25 07:05:17 2026 * Verifying node status
//	Wed Nov 25 07:05:17 2026   - ERROR: node node2.gref.test: node setup error: ...
//
// In JSON mode nothing is written until Close, which writes []Finding.
// Methods are safe for concurrent use.
//
//	v := view.NewVerify(s.Out, view.VerifyOpts{ErrorCodes: opts.ErrorCodes, JSON: g.JSON})
//	v.Section("Verifying node status")
//	v.Error("ENODESETUP", "node", "node2", "node setup error: ...")
//	defer v.Close()
type Verify struct {
	w    io.Writer
	opts VerifyOpts

	mu       sync.Mutex
	section  string
	findings []Finding
	bad      bool
	err      error
}

// NewVerify returns a Verify printer writing to w.
func NewVerify(w io.Writer, o VerifyOpts) *Verify {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Verify{w: w, opts: o, findings: []Finding{}}
}

// Section starts a verification step: "<time> * <title>".
func (v *Verify) Section(title string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.section = title
	v.line(v.opts.Now(), "* "+title)
}

// Error reports a problem that makes verify fail; object may be "".
func (v *Verify) Error(code, kind, object, msg string) {
	v.report(SevError, code, kind, object, msg)
}

// Warning reports a problem that does not make verify fail.
func (v *Verify) Warning(code, kind, object, msg string) {
	v.report(SevWarning, code, kind, object, msg)
}

// Notice writes "<time>   - NOTICE: <msg>" (the "Other Notes" section).
func (v *Verify) Notice(msg string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.opts.Now()
	v.findings = append(v.findings, Finding{Time: t, Section: v.section, Severity: SevNotice, Message: msg})
	v.line(t, "  - NOTICE: "+msg)
}

// Bad reports whether any Error was reported (verify exits 1 then).
func (v *Verify) Bad() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.bad
}

// Findings returns a copy of the findings reported so far.
func (v *Verify) Findings() []Finding {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Finding{}, v.findings...)
}

// Close writes the JSON array in JSON mode and returns the first write error.
func (v *Verify) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.opts.JSON && v.err == nil {
		v.err = JSON(v.w, v.findings)
	}
	return v.err
}

func (v *Verify) report(sev, code, kind, object, msg string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.opts.Now()
	v.findings = append(v.findings, Finding{t, v.section, sev, code, kind, object, msg})
	if sev == SevError {
		v.bad = true
	}
	if v.opts.ErrorCodes {
		v.line(t, fmt.Sprintf("  - %s:%s:%s:%s:%s", sev, code, kind, object, msg))
	} else {
		v.line(t, fmt.Sprintf("  - %s: %s %s: %s", sev, kind, object, msg))
	}
}

func (v *Verify) line(t time.Time, s string) {
	if v.opts.JSON || v.err != nil {
		return
	}
	_, v.err = fmt.Fprintf(v.w, "%s %s\n", t.Format(time.ANSIC), s)
}
