package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/kube"
	"github.com/nsup/nsup/spec"
)

// exportKube prints the Kubernetes manifests of environments envs of s
// (all when none), and on stderr each key that has no equivalent.
func exportKube(s *spec.Spec, envs []string, pf *planFlags, ios ioSet) error {
	p, err := planner.Compile(s, planner.Options{Envs: envs})
	if err != nil {
		return invalidError{err}
	}
	project := pf.project
	if project == "" {
		project = s.Project()
	}
	out, notes, err := kube.Export(s, p, envs, kube.Options{Image: func(env string) string { return imageRef(pf.registry, project, env) }})
	if err != nil {
		return invalidError{err}
	}
	for _, n := range notes {
		fmt.Fprintf(ios.stderr, "nsup: export: %s\n", n)
	}
	_, err = ios.stdout.Write(out)
	return err
}

// importKube prints the nsup spec of a Kubernetes Pod manifest, and on
// stderr each key that has no equivalent.
func importKube(file string, ios ioSet) error {
	data, err := readManifest(file)
	if err != nil {
		return invalidError{err}
	}
	out, notes, err := kube.Import(file, data)
	if err != nil {
		return invalidError{err}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	// What nsup prints, nsup must accept.
	if _, err := spec.ParseBytes(file+" (imported)", filepath.Dir(abs), out); err != nil {
		return invalidError{fmt.Errorf("%s: the translation is not a valid nsup spec:\n%w\n%s", file, err, printable(out))}
	}
	for _, n := range notes {
		fmt.Fprintf(ios.stderr, "nsup: import: %s\n", n)
	}
	_, err = ios.stdout.Write(out)
	return err
}

// readManifest reads a regular file of at most kube.MaxManifest bytes
// (and one more, for Import to refuse): a FIFO, a device or a symlink to
// one (a repository may hold such) is refused, never read until it ends.
func readManifest(file string) ([]byte, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", file, st.Mode().Type())
	}
	return io.ReadAll(io.LimitReader(f, kube.MaxManifest+1))
}

// printable is text with its control characters (but newline and tab)
// written as \xNN: what a manifest's strings hold never reaches the
// terminal as escape sequences.
func printable(b []byte) string {
	var sb strings.Builder
	for _, r := range string(b) {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&sb, "\\x%02x", r)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
