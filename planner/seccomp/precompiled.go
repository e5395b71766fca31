package seccomp

import (
	"slices"
	"strings"
)

//go:generate go run ./internal/gendefault zdefault.go

// precompiled is Docker's default profile compiled when nsup was built,
// for one GOARCH and capability set (zdefault.go): Bytes and Digest of
// Compile(Default(caps), goarch).
type precompiled struct {
	goarch, caps string // caps sorted, comma-separated
	prog         string
	digest       string
}

// DefaultProgram returns Bytes and Digest of Compile(Default(caps),
// goarch) without compiling, when that program was compiled as nsup was
// built (`go generate`, for the capability sets nsup gives by default):
// compiling it costs about 0.3 ms in a fresh process, once per apply.
// TestDefaultPrecompiled compiles each again and compares.
//
// Default(caps) depends on the running kernel only through rules for
// kernels older than 4.8, which nsup does not run on (it needs
// mount_setattr(2), Linux 5.12).
func DefaultProgram(caps []string, goarch string) (prog []byte, digest string, ok bool) {
	key := CapsKey(caps)
	for i := range defaultPrograms {
		if p := &defaultPrograms[i]; p.goarch == goarch && p.caps == key {
			return []byte(p.prog), p.digest, true
		}
	}
	return nil, "", false
}

// CapsKey is a capability set as a precompiled program names it: sorted,
// comma-separated.
func CapsKey(caps []string) string {
	s := slices.Clone(caps)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}
