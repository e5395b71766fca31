package executor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRawCallsNoRuntime: the code of the raw stages, which runs in a copy
// of nsup (or in nsup's memory, on a stack of its own) while nsup's Go
// runtime believes it is still its own, calls nothing of that runtime: no
// write barrier (a pointer written while the garbage collector marks
// would enter it), no stack growth, no allocation, no scheduler. It reads
// the machine code of nsup, built as make build does but with its symbols.
func TestRawCallsNoRuntime(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		skipOrFail(t, "needs the go tool (go tool objdump)")
	}
	bin := filepath.Join(t.TempDir(), "nsup")
	build := exec.Command(goBin, "build", "-o", bin, "../cmd/nsup")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(goBin, "tool", "objdump", "-s", `^github.com/nsup/nsup/executor\.(raw[A-Z]|launchCopy|launchChild)`, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump: %v\n%s", err, out)
	}
	fn := regexp.MustCompile(`^TEXT (\S+)`)
	call := regexp.MustCompile(`CALL (runtime\.\S+)`)
	var current string
	funcs := 0
	for _, l := range strings.Split(string(out), "\n") {
		if m := fn.FindStringSubmatch(l); m != nil {
			current = m[1]
			funcs++
			continue
		}
		m := call.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		// Bounds checks (panicIndex and the like) end the program if
		// ever reached, as a failed step does; everything else is a bug.
		if strings.HasPrefix(m[1], "runtime.panic") || strings.HasPrefix(m[1], "runtime.goPanic") {
			continue
		}
		t.Errorf("%s calls %s", current, m[1])
	}
	if funcs < 20 {
		t.Fatalf("only %d raw functions found in the binary:\n%s", funcs, out)
	}
}
