//go:build !nostandin

package main

import "github.com/ganetictl/ganetictl/testbed/standin"

var standinMain = standin.Main
