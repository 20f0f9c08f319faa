package main

// Placeholder imports that pin the design's dependencies in go.mod until the
// packages that use them land. Remove once each is imported for real.
import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/alecthomas/kong"
	_ "github.com/google/uuid"
	_ "github.com/pkg/sftp"
	_ "github.com/sourcegraph/conc/pool"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/ssh/agent"
	_ "golang.org/x/crypto/ssh/knownhosts"
)

func main() {}
