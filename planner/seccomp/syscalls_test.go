package seccomp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// The generated tables are go-seccomp-bpf's, entry for entry: this fails
// when go.mod moves to a version whose tables differ, until `go generate`.
func TestSyscallTables(t *testing.T) {
	infos := map[*sysTable]*arch.Info{
		&tableX86_64: arch.X86_64, &tableI386: arch.I386, &tableX32: arch.X32,
		&tableAARCH64: arch.AARCH64, &tableARM: arch.ARM,
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, a := range abisOf(goarch) {
			if infos[a.tab] == nil {
				t.Errorf("%s: table %s is not checked here", goarch, a.tab.name)
			}
		}
	}
	for tab, info := range infos {
		if tab.name != info.Name || tab.audit != uint32(info.ID) || tab.mask != uint32(info.SeccompMask) {
			t.Errorf("%s: audit %#x mask %#x, want %s %#x %#x", tab.name, tab.audit, tab.mask, info.Name, uint32(info.ID), info.SeccompMask)
		}
		if len(tab.calls) != len(info.SyscallNumbers) {
			t.Errorf("%s: %d syscalls, want %d", tab.name, len(tab.calls), len(info.SyscallNumbers))
		}
		sorted := slices.IsSortedFunc(tab.calls, func(a, b sysnr) int {
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return int(a.nr) - int(b.nr)
		})
		if !sorted {
			t.Errorf("%s: not sorted by name and number", tab.name)
		}
		for _, c := range tab.calls {
			if name, ok := info.SyscallNumbers[int(c.nr)]; !ok || name != c.name {
				t.Errorf("%s: %s is %d; go-seccomp-bpf's %d is %q", tab.name, c.name, c.nr, c.nr, name)
			}
		}
		// Each name finds all its numbers, from any finger.
		byName := map[string][]uint32{}
		for nr, name := range info.SyscallNumbers {
			byName[name] = append(byName[name], uint32(nr))
		}
		f := finder{t: tab}
		for _, at := range []int{0, len(tab.calls) / 2, len(tab.calls)} {
			for name, nrs := range byName {
				f.at = at
				var got []uint32
				for _, c := range f.lookup(name) {
					got = append(got, c.nr)
				}
				if slices.Sort(nrs); !slices.Equal(got, nrs) {
					t.Errorf("%s: lookup(%s) from %d = %v, want %v", tab.name, name, at, got, nrs)
				}
			}
		}
		for _, name := range []string{"", "_", "a", "no_such_syscall", "zzz", "read\x00"} {
			if got := f.lookup(name); len(got) != 0 {
				t.Errorf("%s: lookup(%q) = %v", tab.name, name, got)
			}
		}
	}
}

// zsyscalls.go is what `go generate` writes now: regenerating changes
// nothing (the output is sorted, nothing depends on map order).
func TestGenerated(t *testing.T) {
	CheckGenerated(t, "./internal/gen", "zsyscalls.go", 2)
}

// CheckGenerated runs go generate's command cmd runs times, each writing
// file anew, and compares with the committed one. Without the go command
// (go test puts its GOROOT/bin first in PATH) it skips, and under CI=true
// fails.
func CheckGenerated(t *testing.T, cmd, file string, runs int) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the generator")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no go command: %v", err)
		}
		t.Skipf("no go command: %v", err)
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), file)
	for range runs {
		c := exec.Command(goTool, "run", cmd, out)
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c, err, b)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s is not what `go generate` writes: run it", file)
		}
	}
}
