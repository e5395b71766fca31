package seccomp

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The exact programs, not only their semantics: these digests were taken
// from Compile before it was optimised, so a change of layout (an order of
// blocks, a trampoline) shows here. Update them only for an intended change
// of output, and say so. Changed once so far: for the searches over one
// argument's values, the exceptions of a search's leaves and the rets and
// blocks shared by the sections (amd64: 682 instructions to 245), whose
// programs TestSameAsBefore checks against the old ones.
//
// testdata/default.json is Docker's default profile as Default resolved it
// for defaultCaps on amd64 (Linux 6.18): Default's result depends on the
// kernel (minKernel), a file does not.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/default.json")
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		goarch string
		len    int
		digest string
	}{
		{"amd64", 245, "sha256:d0b750ef633ccfa4ab7cbdb01811edb364e5f6da2ebee208039851b0c84496b4"},
		// The same profile for arm64: its aarch64 section only (the
		// profile lists x86 arches), names resolved for amd64.
		{"arm64", 90, "sha256:db5ec138d3125e3aa0f8505bedb2086b886d36537e1a6530bbf4a57393c8cfc5"},
	} {
		prog, err := Compile(&s, c.goarch)
		if err != nil {
			t.Fatal(err)
		}
		if got := Digest(prog); len(prog) != c.len || got != c.digest {
			t.Errorf("%s: %d instructions, %s; want %d, %s", c.goarch, len(prog), got, c.len, c.digest)
		}
	}
}

// Random profiles (every arch listed or not, conditions, errnos, long
// jumps) compiled for both GOARCHes: one digest over all the programs.
func TestGoldenRandom(t *testing.T) {
	const want = "sha256:64309b5285b46ab8b5da412ef84b07c8e97e509ef88c90f1753fd8c53af2c6df"
	rng := rand.New(rand.NewSource(1))
	gen := profileGen{rng: rng, names: sortedNames(), arches: true}
	h := sha256.New()
	for range 300 {
		s, _ := gen.profile()
		for _, goarch := range []string{"amd64", "arm64"} {
			prog, err := Compile(s, goarch)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(Bytes(prog))
		}
	}
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != want {
		t.Errorf("random programs: %s, want %s", got, want)
	}
}

// Compile alone, as planning runs it after Default.
func BenchmarkCompile(b *testing.B) {
	s, err := Default(defaultCaps)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s, runtime.GOARCH); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Default(defaultCaps); err != nil {
			b.Fatal(err)
		}
	}
}
