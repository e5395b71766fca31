package main

// nsup plan, and the plans it saves (-o) that apply loads back.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/internal/regfile"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

const planHelp = `Compiles FILE into the plan apply would perform and prints it: one line
per step, each syscall with its arguments, its stage (host: nsup itself;
child: nsup inside the new namespaces; init: PID 1 of the environment), and
the YAML line that caused it. With ENV names, only those environments (and
the ones they join). With -d, the plan of nsup apply -d: the same steps and
those that record the environments (state directory, lock, log, control
socket, state file) and release them. If FILE.lock exists (nsup lock), a
rootfs that differs from it is refused, file by file, unless --update-lock
accepts it (and rewrites FILE.lock). The plan opens with the spec's
variables: each reference, its value, and where that came from. Needs no
privilege and touches nothing else. FILE defaults to nsup.yaml in this
folder or the nearest folder above that has one, as for nsup run (the first
argument is FILE when it has a dot or a slash, which an ENV name never has:
a spec without an extension is ./FILE).`

func runPlan(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("plan", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if rest, err = withSpecFile(rest, ios); err != nil {
		return err
	}
	idx := planner.NewIndex(planner.DefaultCacheDir())
	p, err := compileFor(rest[0], rest[1:], idx, pf.detach, isTerminal(ios.stdin), pf.vars(), pf.project)
	if err != nil {
		return err
	}
	if err := checkLock(p, idx, len(rest) == 1, pf.updateLock, ios); err != nil {
		return err
	}
	if pf.out != "" {
		if folder, field := p.WritableHolding(pf.out); folder != "" {
			return usageError{fmt.Sprintf("%s is in %s, which %s lets an environment write: root inside could replace the saved plan with the plan of a spec of its own, which nsup apply would apply; save it in a folder no environment writes", pf.out, folder, field)}
		}
		b, err := planner.MarshalIndent(p)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(pf.out, lifecycle.JSONSafe(b), 0o600); err != nil {
			return err
		}
	}
	if pf.json {
		b, err := planner.MarshalIndent(p)
		if err != nil {
			return err
		}
		// A spec's strings may hold C1 controls (U+009B is CSI) and
		// bidirectional overrides, which encoding/json leaves as they
		// are: escaped, the JSON means the same.
		_, err = ios.stdout.Write(lifecycle.JSONSafe(b))
		return err
	}
	if pf.out != "" {
		fmt.Fprintf(ios.stderr, "nsup: plan saved to %s; apply it with: nsup apply %s\n", pf.out, pf.out)
		return nil
	}
	return planner.Render(ios.stdout, p)
}

// writeFileAtomic writes name (mode perm, 0644 or 0600) through a new
// temporary sibling (O_EXCL, random name: never a file or symlink someone
// else put there) and a rename. A saved plan and an OCI config hold the
// environments' variables (a token a 0600 .env gave): 0600, the caller's
// alone (helper-131's review: another uid read it in a 0644 plan).
func writeFileAtomic(name string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil && perm != 0o600 { // CreateTemp's
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return replaceError(name, err)
	}
	return nil
}

// replaceError says why name could not be replaced, without the
// temporary file's name: in a sticky folder (/tmp), only a file's owner
// (or the folder's) may replace it.
func replaceError(name string, err error) error {
	errno := err
	if le, ok := err.(*os.LinkError); ok {
		errno = le.Err
	}
	msg := fmt.Sprintf("%s: cannot replace it: %v", name, errno)
	fi, lerr := os.Lstat(name)
	di, derr := os.Stat(filepath.Dir(name))
	if lerr == nil && derr == nil && di.Mode()&os.ModeSticky != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			msg += fmt.Sprintf(" (it is uid %d's, in %s, a sticky folder, where only a file's owner may replace it); write to another name", st.Uid, filepath.Dir(name))
		}
	}
	return errors.New(msg)
}

// loadPlan reads a saved plan and checks that it still describes what
// the spec and the host say now: it is compiled again from the spec, and
// any difference (the spec's bytes, a library of a closure, a command's
// path) refuses the plan rather than applying something stale.
func loadPlan(file string, b []byte, idx *planner.Index) (*planner.Plan, error) {
	p, err := planner.Unmarshal(b)
	if err != nil {
		return nil, invalidError{fmt.Errorf("%s: %w", file, err)}
	}
	var envs []string
	for _, e := range p.Environments {
		envs = append(envs, e.Name)
	}
	// Its variables from where they came then: a value changed since
	// refuses the plan below, as a changed file does.
	vars := spec.CallerVars()
	if p.EnvFile != filepath.Join(filepath.Dir(p.Spec), ".env") {
		vars.EnvFile = p.EnvFile // --env-file's (the .env beside the spec is read anyway)
	}
	// The files the plan names are parsed, and their lines or values
	// shown, only once they are the files it was made from: a saved plan
	// of a repository's named ~/.git-credentials as its spec or its
	// --env-file, and apply printed its lines as their errors, or a value
	// of ~/.aws/credentials in the difference below.
	data, dir, err := spec.ReadFile(p.SpecPath)
	if err != nil {
		return nil, invalidError{fmt.Errorf("%s: the plan's spec %s: %w", file, p.SpecPath, err)}
	}
	if d := spec.Digest(data); d != p.SpecDigest {
		return nil, invalidError{fmt.Errorf("%s: refused: the spec %s changed since the plan was made (%s, now %s); plan again", file, p.SpecPath, p.SpecDigest, d)}
	}
	if vars.EnvFile != "" {
		b, err := regfile.ReadBounded(vars.EnvFile, spec.MaxSize)
		if d := spec.Digest(b); err != nil || d != p.EnvFileDigest {
			return nil, invalidError{fmt.Errorf("%s: refused: the env file %s is not the one the plan was made with; plan again", file, vars.EnvFile)}
		}
		// Parsed from these bytes, not read again: the file checked is
		// the file parsed.
		vars.EnvFileData = append([]byte{}, b...)
	}
	s, err := spec.ParseBytesVars(p.SpecPath, dir, data, vars)
	if err != nil {
		return nil, invalidError{fmt.Errorf("%s: the plan's spec %s no longer parses:\n%w", file, p.SpecPath, err)}
	}
	s.File = p.Spec // origins are printed with the name the plan was made with
	// Planned for a terminal or not, as it was saved: apply relays a
	// planned terminal whatever its stdin is now.
	terminal, term := false, ""
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			switch op := st.Op.(type) {
			case planner.Openpty:
				terminal = true
			case planner.Execve:
				// The caller's TERM when the plan was made.
				for _, kv := range op.Env {
					if v, ok := strings.CutPrefix(kv, "TERM="); ok && term == "" {
						term = v
					}
				}
			}
		}
	}
	now, err := planner.Compile(s, planner.Options{Envs: envs, Index: idx, Detach: p.Detach, Terminal: terminal, Term: term, Project: p.Project})
	if err != nil {
		return nil, invalidError{fmt.Errorf("%s: refused: the spec no longer plans on this host:\n%w", file, err)}
	}
	now.SpecPath = p.SpecPath
	saved, _ := planner.MarshalIndent(p)
	fresh, err := planner.MarshalIndent(now)
	if err != nil {
		return nil, err
	}
	if string(saved) != string(fresh) {
		return nil, invalidError{fmt.Errorf("%s: refused: a rootfs input or the host changed since the plan was made (- saved, + now):\n%s",
			file, lineDiff(string(saved), string(fresh), 40))}
	}
	return p, nil
}
