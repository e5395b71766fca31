package executor

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestHeldTable: the child stage keeps one fd per held target, so a step
// may be beneath any mount an earlier step held, whatever steps came
// between, each taking its own slot of the table; a step beneath a
// target no earlier step held, or one whose fd the root switch (or a
// step outside the root) has closed, is refused when the plan is loaded.
func TestHeldTable(t *testing.T) {
	in := func(m planner.Mount) planner.Step {
		m.Root, m.InRoot = "/r", true
		return planner.Step{Stage: planner.Child, Op: m}
	}
	bind := func(src, target string, held bool, beneath string) planner.Step {
		return in(planner.Mount{Source: src, Target: target, Flags: unix.MS_BIND, Create: "dir", Held: held, Beneath: beneath})
	}
	tmpfs := func(target, beneath string) planner.Step {
		return in(planner.Mount{Source: "tmpfs", Target: target, FSType: "tmpfs", Flags: unix.MS_NODEV, Create: "dir", Beneath: beneath})
	}
	cwd := func(p, below string) planner.Step {
		return planner.Step{Stage: planner.Child, Op: planner.MakeCwd{Path: p, Root: "/r", Below: below}}
	}
	start := []planner.Step{
		{Stage: planner.Child, Op: planner.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}},
		{Stage: planner.Child, Op: planner.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}},
		bind("/host/a", "/a", true, ""),
		bind("/host/b", "/b", true, ""),
		tmpfs("/other", ""),
		bind("/host/c", "/a/c", true, "/a"), // held itself, beneath /a
		in(planner.Mount{Source: "proc", Target: "/b/proc", FSType: "proc", Flags: unix.MS_NOSUID, Create: "dir", Held: true, Beneath: "/b"}),
		tmpfs("/a/x", "/a"),
		tmpfs("/b/y", "/b"),
		tmpfs("/a/c/z", "/a/c"),
		tmpfs("/b/proc/w", "/b/proc"),
	}
	for _, tc := range []struct {
		name  string
		extra []planner.Step
		want  string // "" for a plan that loads
	}{
		{"any earlier held mount", nil, ""},
		{"never held", []planner.Step{tmpfs("/c/x", "/c")}, "beneath /c, which no earlier step holds"},
		{"after the root switch", []planner.Step{
			{Stage: planner.Child, Op: planner.Chdir{Path: "/r"}},
			{Stage: planner.Child, Op: planner.PivotRoot{NewRoot: ".", PutOld: "."}},
			tmpfs("/a/x2", "/a"),
		}, "beneath /a, which no earlier step holds"},
		// A working directory made beneath a held mount (MakeCwd.Below),
		// whatever came between; one not held is refused, and so is a
		// path not below it.
		{"cwd beneath a held mount", []planner.Step{cwd("/a/c/new/er", "/a/c"), tmpfs("/b/y2", "/b")}, ""},
		{"cwd beneath no held mount", []planner.Step{cwd("/other/new", "/other")}, "beneath /other, which no earlier step holds"},
		{"cwd not below", []planner.Step{cwd("/ab/new", "/a")}, "not below /a"},
		{"cwd at the mount", []planner.Step{cwd("/a", "/a")}, "not below /a"},
		{"cwd with ..", []planner.Step{cwd("/a/../etc/x", "/a")}, `".." in a path`},
		{"after a mount outside the root", []planner.Step{
			{Stage: planner.Child, Op: planner.Mount{Source: "tmpfs", Target: "/elsewhere", FSType: "tmpfs"}},
			tmpfs("/a/x2", "/a"),
		}, "beneath /a, which no earlier step holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := append(append([]planner.Step(nil), start...), tc.extra...)
			b, ok := buildHeld(t, steps, tc.want)
			if !ok {
				return
			}
			if len(b.prog.held) != 4 {
				t.Errorf("a table of %d slots, want 4 (/a, /b, /a/c, /b/proc)", len(b.prog.held))
			}
			// Each step's slot is its own held mount's.
			slot := map[string]uintptr{}
			for i, o := range b.prog.ops {
				m, ok := steps[i].Op.(planner.Mount)
				if c, isCwd := steps[i].Op.(planner.MakeCwd); isCwd {
					m, ok = planner.Mount{Target: c.Path, Beneath: c.Below}, true
				}
				if !ok {
					t.Fatalf("step %d: %T", i, steps[i].Op)
				}
				if m.Held {
					if o.flag&rawMountHeld == 0 {
						t.Errorf("%s: not held", m.Target)
					}
					slot[m.Target] = o.slot
				}
				if m.Beneath != "" {
					if o.flag&rawMountBeneath == 0 || o.under != slot[m.Beneath] {
						t.Errorf("%s: beneath slot %d (flag %#x), want %d (%s)", m.Target, o.under, o.flag, slot[m.Beneath], m.Beneath)
					}
				}
			}
			if len(slot) != 4 || slot["/a"] == slot["/b"] || slot["/a/c"] == slot["/b/proc"] {
				t.Errorf("slots %v: one per held target", slot)
			}
		})
	}
}

// TestHeldDev: the dev's tmpfs, a kernel filesystem with data, is held
// (fsopen("tmpfs") and one fsconfig per option), and its links and
// console are beneath it, each taking its slot; a link or a console
// beneath a target no earlier step holds, or not below it, is refused
// when the plan is loaded, as a mount is; so is a held filesystem with
// data other than a tmpfs's.
func TestHeldDev(t *testing.T) {
	in := func(op planner.Op) planner.Step { return planner.Step{Stage: planner.Child, Op: op} }
	tmpfs := func(target, data string, held bool, fstype string) planner.Step {
		return in(planner.Mount{Source: fstype, Target: target, FSType: fstype, Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: data,
			Root: "/r", InRoot: true, Create: "dir", Held: held})
	}
	link := func(l, beneath string) planner.Step {
		return in(planner.Symlink{Target: "pts/ptmx", Link: l, Root: "/r", Beneath: beneath})
	}
	console := func(target, beneath string) planner.Step {
		return in(planner.Console{Target: target, Root: "/r", Beneath: beneath})
	}
	start := []planner.Step{
		in(planner.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}),
		in(planner.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}),
		tmpfs("/dev", "mode=755,size=65536k,noswap", true, "tmpfs"),
		tmpfs("/other", "", false, "tmpfs"),
		link("/dev/ptmx", "/dev"),
		console("/dev/console", "/dev"),
	}
	for _, tc := range []struct {
		name  string
		extra []planner.Step
		want  string // "" for a plan that loads
	}{
		{"beneath the held dev", nil, ""},
		{"a link beneath a target never held", []planner.Step{link("/other/ptmx", "/other")}, "beneath /other, which no earlier step holds"},
		{"a console beneath a target never held", []planner.Step{console("/other/console", "/other")}, "beneath /other, which no earlier step holds"},
		{"a link after the root switch", []planner.Step{
			in(planner.Chdir{Path: "/r"}),
			in(planner.PivotRoot{NewRoot: ".", PutOld: "."}),
			link("/dev/fd", "/dev"),
		}, "beneath /dev, which no earlier step holds"},
		{"a link not below", []planner.Step{link("/devx/ptmx", "/dev")}, "not below /dev"},
		{"a console at the held mount", []planner.Step{console("/dev", "/dev")}, "not below /dev"},
		{"a held proc with data", []planner.Step{tmpfs("/proc", "hidepid=2", true, "proc")}, "only a tmpfs's data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := append(append([]planner.Step(nil), start...), tc.extra...)
			b, ok := buildHeld(t, steps, tc.want)
			if !ok {
				return
			}
			ops := b.prog.ops
			if ops[2].flag&rawMountHeld == 0 || len(ops[2].conf) != 6 || ops[2].conf[5] != nil {
				t.Errorf("the dev's tmpfs: flag %#x, %d options (want held; mode, size and the flag noswap)", ops[2].flag, len(ops[2].conf)/2)
			}
			for _, o := range ops[4:6] {
				if o.flag&rawMountBeneath == 0 || o.under != ops[2].slot || o.s[0] != nil && o.kind == rawSymlink {
					t.Errorf("step %d: flag %#x, slot %d, want beneath slot %d", o.step, o.flag, o.under, ops[2].slot)
				}
			}
		})
	}
}

// buildHeld prepares steps as the raw program would be, and checks that
// the load is refused with EINVAL and a message holding want when want
// is given (ok false then), else that it is taken.
func buildHeld(t *testing.T, steps []planner.Step, want string) (b *rawBuilder, ok bool) {
	t.Helper()
	b = &rawBuilder{prog: newRawProg(), exe: -1}
	var err error
	for i, st := range steps {
		if err = b.add(i, st); err != nil {
			break
		}
	}
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, unix.EINVAL) {
			t.Fatalf("%v, want %q", err, want)
		}
		return b, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}
