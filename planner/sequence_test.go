package planner

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSequence: a detached plan lists each environment's held steps (the
// end of its parent-death signal) where apply makes them: db's before
// web's wait for it to be healthy (the first such wait; api's waits for
// a db already released), the others' after every environment, in plan
// order; the text plan lists every step once, in Sequence's order. A
// foreground plan is each environment's steps in turn.
func TestSequence(t *testing.T) {
	const yaml = `
version: 1
environments:
  db:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh]
        healthcheck: {command: [/bin/sh, -c, "true"], interval: 1s, timeout: 2s, retries: 2}
  web:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {db: healthy}
    processes: [{name: main, command: [/bin/sh]}]
  api:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {db: healthy}
    processes: [{name: main, command: [/bin/sh]}]
  cron:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
`
	for _, detach := range []bool{false, true} {
		t.Run(fmt.Sprint("detach=", detach), func(t *testing.T) {
			p, err := compileText(t, yaml, Options{Detach: detach, StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			idx := map[string]int{}
			var want []StepRef
			for i, e := range p.Environments {
				idx[e.Name] = i
				for j := range e.Steps {
					want = append(want, StepRef{i, j})
				}
			}
			if detach {
				// Each environment's last step is its release, alone
				// after its state.
				last := map[int]StepRef{}
				for i, e := range p.Environments {
					n := len(e.Steps) - 1
					if op, ok := e.Steps[n].Op.(Prctl); !ok || op.Option != prSetPdeathsig || op.Arg != 0 || e.HeldFrom(true) != n {
						t.Fatalf("%s's last step %v, held from %d", e.Name, e.Steps[n].Op, e.HeldFrom(true))
					}
					last[i] = StepRef{i, n}
				}
				want = want[:0]
				for i, e := range p.Environments {
					for j := range e.Steps[:len(e.Steps)-1] {
						if w, ok := e.Steps[j].Op.(WaitHealthy); ok && e.Name == "web" {
							if !w.Release || w.Env != "db" {
								t.Fatalf("web's wait: %+v", w)
							}
							want = append(want, last[idx["db"]])
						}
						want = append(want, StepRef{i, j})
					}
				}
				for _, n := range []string{"web", "api", "cron"} {
					want = append(want, last[idx[n]])
				}
			}
			got := p.Sequence()
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Sequence (-want +got):\n%s", d)
			}
			// The text lists the steps in that order, each once.
			var txt bytes.Buffer
			if err := Render(&txt, p); err != nil {
				t.Fatal(err)
			}
			line := regexp.MustCompile(`^(\w+) +(host|child|init|proc|fork) +(\d+)  `)
			var listed []StepRef
			for _, l := range strings.Split(txt.String(), "\n") {
				if m := line.FindStringSubmatch(l); m != nil {
					n, _ := strconv.Atoi(m[3])
					listed = append(listed, StepRef{idx[m[1]], n})
				}
			}
			if d := cmp.Diff(got, listed); d != "" {
				t.Errorf("the text plan's order (-Sequence +text):\n%s\n%s", d, txt.String())
			}
			if detach && !strings.Contains(txt.String(), "# every environment is up and recorded: each one's last steps, in turn") {
				t.Errorf("no note over the held steps:\n%s", txt.String())
			}
		})
	}
}

// TestSequenceReleasedAmongWaits (helper-81's review of a039c8a): b
// waits for x, then for a; c depends on b and waits for z. The detached
// plan lists x's and a's last steps among b's steps (each just before
// b's wait for it) and z's among c's, under a note that says they are
// made there, without a condition: apply -d makes them there even when
// it records b (or c) as not started before (b's wait for x failed),
// which executor's TestRootReleaseListedNotStarted checks (it releases
// ReleasedAmong's).
func TestSequenceReleasedAmongWaits(t *testing.T) {
	const yaml = `
version: 1
environments:
  x:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh]
        healthcheck: {command: [/bin/sh, -c, "true"], interval: 1s, timeout: 2s, retries: 2}
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh]
        healthcheck: {command: [/bin/sh, -c, "true"], interval: 1s, timeout: 2s, retries: 2}
  z:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh]
        healthcheck: {command: [/bin/sh, -c, "true"], interval: 1s, timeout: 2s, retries: 2}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {x: healthy, a: healthy}
    processes: [{name: main, command: [/bin/sh]}]
  c:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {b: started, z: healthy}
    processes: [{name: main, command: [/bin/sh]}]
`
	p, err := compileText(t, yaml, Options{Detach: true, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Where each held step is, in Sequence: just before which step.
	seq := p.Sequence()
	before := map[string]string{}
	for k, ref := range seq {
		e := &p.Environments[ref.Env]
		if ref.Step == e.HeldFrom(true) && k+1 < len(seq) {
			n := seq[k+1]
			w, _ := p.Environments[n.Env].Steps[n.Step].Op.(WaitHealthy)
			before[e.Name] = p.Environments[n.Env].Name + " wait " + w.Env
		}
	}
	for env, want := range map[string]string{"x": "b wait x", "a": "b wait a", "z": "c wait z"} {
		if before[env] != want {
			t.Errorf("%s's last steps before %q, want %q", env, before[env], want)
		}
	}
	// What executor's releaseListed releases for a waiter not started.
	names := func(is []int) string {
		var ns []string
		for _, i := range is {
			ns = append(ns, p.Environments[i].Name)
		}
		return strings.Join(ns, " ")
	}
	for i, e := range p.Environments {
		want := map[string]string{"b": "x a", "c": "z"}[e.Name]
		if got := names(p.ReleasedAmong(i)); got != want {
			t.Errorf("released among %s's steps: %q, want %q", e.Name, got, want)
		}
	}
	var b bytes.Buffer
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ env, waiter string }{{"x", "b"}, {"a", "b"}, {"z", "c"}} {
		note := fmt.Sprintf("# %s's last steps, made now: %s waits for it to be healthy, which its init checks once released\n", c.env, c.waiter)
		if !strings.Contains(b.String(), note) {
			t.Errorf("no note %q:\n%s", note, b.String())
		}
	}
	if strings.Contains(b.String(), "not started by then") {
		t.Errorf("a release said to be made later:\n%s", b.String())
	}
}
