package seccomp_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/seccomp"
)

// The program compiled at build time is the one Compile makes now, for
// the capability set nsup gives by default; another set is compiled.
func TestDefaultPrecompiled(t *testing.T) {
	caps := planner.DefaultCapabilities
	got, digest, ok := seccomp.DefaultProgram(caps, runtime.GOARCH)
	if !ok {
		if runtime.GOARCH == "amd64" {
			t.Fatal("no precompiled default program for amd64: run go generate in planner/seccomp")
		}
		t.Skipf("no precompiled program for %s", runtime.GOARCH)
	}
	rules, err := seccomp.Default(caps)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := seccomp.Compile(rules, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, seccomp.Bytes(prog)) || digest != seccomp.Digest(prog) {
		t.Fatalf("the precompiled program (%s) is not what Compile makes now (%s): run go generate in planner/seccomp", digest, seccomp.Digest(prog))
	}
	// The set, not its order, names the program.
	rev := make([]string, len(caps))
	for i, c := range caps {
		rev[len(caps)-1-i] = c
	}
	if _, d, ok := seccomp.DefaultProgram(rev, runtime.GOARCH); !ok || d != digest {
		t.Fatalf("reversed capability set: %v %q", ok, d)
	}
	if _, _, ok := seccomp.DefaultProgram(append(caps[:len(caps):len(caps)], "CAP_SYS_ADMIN"), runtime.GOARCH); ok {
		t.Fatal("a program for a set that was not precompiled")
	}
	if _, _, ok := seccomp.DefaultProgram(caps, "riscv64"); ok {
		t.Fatal("a program for another GOARCH")
	}
}

// zdefault.go is what `go generate` writes.
func TestDefaultGenerated(t *testing.T) {
	seccomp.CheckGenerated(t, "./internal/gendefault", "zdefault.go", 1)
}
