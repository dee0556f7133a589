package web

import (
	"runtime"
	"runtime/debug"
)

// BuildInfo describes the running binary, as the Go toolchain recorded it.
type BuildInfo struct {
	// Version is the main module's version: a release tag when built with
	// `go install module@version`, "(devel)" when built from a checkout.
	Version string
	// Revision is the VCS commit the binary was built from, with "-dirty" when the checkout had
	// uncommitted changes; "unknown" when the build recorded none (go run, go test, -buildvcs=false).
	Revision string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// ReadBuildInfo returns what the binary says about its build.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	if info.GoVersion != "" {
		b.GoVersion = info.GoVersion
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Revision != "unknown" {
		b.Revision += "-dirty"
	}
	return b
}
