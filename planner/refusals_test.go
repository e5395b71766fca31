package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// refusalTree makes, in dir, a dir root rootfs holding /bin/sh, the
// folders dirs (paths from dir) and the symlinks links (path from dir:
// what it points to).
func refusalTree(t *testing.T, dir string, dirs []string, links map[string]string) {
	t.Helper()
	for _, d := range append([]string{"rootfs/bin"}, dirs...) {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	for l, to := range links {
		if err := os.Symlink(to, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
}

// refusal is one spec of checkRefusals: its mounts, what follows them
// in its environment, and what its refusal must say ("": it plans).
type refusal struct{ mounts, rest, want string }

// checkRefusals plans each case as environment "a" of a spec in dir
// (rootfs its dir root, ns its namespaces, tail after the environments)
// with opts, and checks that it plans, or is refused saying want.
func checkRefusals(t *testing.T, dir, ns, tail string, opts Options, cases []refusal) {
	t.Helper()
	checkRefusalsIn(t, dir, "{dir: ./rootfs}", ns, tail, opts, cases)
}

// checkRefusalsIn is checkRefusals with the rootfs given.
func checkRefusalsIn(t *testing.T, dir, rootfs, ns, tail string, opts Options, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: " + rootfs + "\n    namespaces: [" + ns + "]\n    mounts:\n" + c.mounts + c.rest +
			"    processes: [{name: main, command: [/bin/sh]}]\n" + tail
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, opts)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s%s: %v, want planned", c.mounts, c.rest, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s%s: %v, want refused: %q", c.mounts, c.rest, err, c.want)
		}
	}
}
