// Package view renders everything ganetictl prints: Ganeti-shaped list tables,
// info trees, cluster verify reports, failures, progress lines and JSON.
//
// It is the only package of ganetictl that writes to the user. Core packages
// hand it data (values, not formatted strings) and the CLI picks the human or
// the JSON form once, from --json. Human output reproduces the shapes of a
// real Ganeti 3.0.2 cluster byte for byte where ganetictl has the same data
// (see the golden tests); JSON output is additive-only: consumers must ignore
// fields they do not know.
//
// Renderers take an io.Writer; nothing here touches os.Stdout except
// StdStreams. Output is plain ASCII layout without colour.
//
// This package should be considered internal; its API is not stable.
package view
