package spec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestUnresolvedReadOn: a ${...} that cannot be resolved (a required
// variable unset, a form that is none) is an error of the field it is
// in, not of the whole file: the rest is read on, and its errors come
// with the reference's (before, they waited for the next run). The
// field's own text gives no second error ("${PIDS:?}" is no number),
// and the environment it is in is not one the host checks take. A
// reference in name or volumes, which every environment takes, leaves
// none to them.
func TestUnresolvedReadOn(t *testing.T) {
	const envs = `environments:
  unset:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    limits: {pids: "${NSUP_T_PIDS:?give the pids}"}
    processes: [{name: m, command: [/bin/sh]}]
  syntax:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, uts]
    hostname: "x${bad syntax}"
    processes: [{name: m, command: ["${NSUP_T_CMD}"]}]
  typo: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], procesess: []}
  good: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], processes: [{name: m, command: [/bin/sh]}]}
`
	want := []string{
		`t.yaml:7:21: NSUP_T_PIDS is not set: give the pids`,
		`t.yaml:12:17: "${bad syntax}": unknown form after bad: use ${bad}, ${bad:-default}, ${bad-default}, ${bad:?message}, ${bad?message}, ${bad:+alternative} or ${bad+alternative}`,
		`t.yaml:13:38: NSUP_T_CMD is not set: set it in nsup's environment or in a .env file beside the spec, or give a default: ${NSUP_T_CMD:-VALUE}`,
		`t.yaml:14:3: environments.typo: missing required key "processes"`,
		`t.yaml:14:59: environments.typo.procesess: unknown key "procesess" (did you mean "processes"?)`,
	}
	unset := Vars{Lookup: func(string) (string, bool) { return "", false }}
	for _, c := range []struct {
		name, head string
		more       []string // errors of head, first
		readable   []string // nil: no spec
	}{
		{"envs", "version: 1\n# every head two lines long\n", nil, []string{"good"}},
		{"name", "version: 1\nname: ${NSUP_T_NAME:?name it}\n", []string{`t.yaml:2:7: NSUP_T_NAME is not set: name it`}, nil},
		{"volumes", "version: 1\nvolumes: {v: {mode: \"${NSUP_T_MODE?}\"}}\n", []string{`t.yaml:2:22: NSUP_T_MODE is not set: required`}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.head + envs
			s, err := ParseBytesVarsReadable("t.yaml", "/", []byte(src), unset)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want errors", err)
			}
			if got, w := err.Error(), strings.Join(append(slices.Clone(c.more), want...), "\n"); got != w {
				t.Errorf("errors:\n%s\nwant\n%s", got, w)
			}
			var got []string
			if s != nil {
				for _, e := range s.Environments {
					got = append(got, e.Name)
				}
			}
			if !slices.Equal(got, c.readable) || (s == nil) != (c.readable == nil) {
				t.Errorf("readable: %q, want %q", got, c.readable)
			}
		})
	}
}

// TestUnresolvedEchoEnds: what the decoding says of a value that kept its
// ${...} text is dropped as the reference's echo, and nothing after that
// text is. Before, a value with newlines was taken to span as many lines
// after its first as it has newlines, and one more: its escapes on one
// line ("${X:?}\n\n\n"), or a block scalar's text, covered the lines
// after it, and the errors of another environment there were dropped:
// it was one the host checks took, its errors untold.
func TestUnresolvedEchoEnds(t *testing.T) {
	const b = "  b: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], procesess: []}\n"
	unset := Vars{Lookup: func(string) (string, bool) { return "", false }}
	for _, c := range []struct{ name, value, ref string }{
		{"escapes", `"${X:?}\n\n\n"`, "7:16"},
		{"block", "|\n      ${X:?}\n      y", "8:7"},
	} {
		src := "version: 1\nenvironments:\n  a:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [mnt, uts]\n    processes: [{name: m, command: [/bin/sh]}]\n    hostname: " + c.value + "\n" + b
		line := strings.Count(src, "\n")
		want := strings.Join([]string{
			"t.yaml:" + c.ref + ": X is not set: required",
			fmt.Sprintf(`t.yaml:%d:3: environments.b: missing required key "processes"`, line),
			fmt.Sprintf(`t.yaml:%d:56: environments.b.procesess: unknown key "procesess" (did you mean "processes"?)`, line),
		}, "\n")
		s, err := ParseBytesVarsReadable("t.yaml", "/", []byte(src), unset)
		if err == nil || err.Error() != want {
			t.Errorf("%s: errors:\n%v\nwant\n%s", c.name, err, want)
		}
		if s != nil {
			t.Errorf("%s: %d environments readable, want none", c.name, len(s.Environments))
		}
	}
}
