package spec

// What of an invalid spec the host checks can still take: its environments whose own part reads without error.

import "strings"

// ParseVarsReadable is ParseVars; for an invalid spec it returns, with
// the Errors, the spec cut down to its readable environments (Readable),
// or nil when none is: the caller checks those on the host too, so that
// a file's errors come at once, not in rounds. Such a spec is for
// finding more errors only, never for a plan that is applied.
func ParseVarsReadable(path string, vars Vars) (*Spec, error) {
	data, dir, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBytesVarsReadable(path, dir, data, vars)
}

// ParseBytesVarsReadable is ParseBytesVars as ParseVarsReadable is
// ParseVars.
func ParseBytesVarsReadable(name, dir string, data []byte, vars Vars) (*Spec, error) {
	d := &decoder{file: name, dir: dir, vars: vars}
	s := d.parse(data)
	if len(d.errs) == 0 {
		return s, nil
	}
	errs := d.errs.Sorted()
	return d.readable(s, errs), errs
}

// readable is s (what parse made of an invalid spec) with only the
// environments that no error is about and that join or depend on
// (depends_on), transitively, only such environments: what the host
// checks of one take from those it joins or waits for is then as the
// file means it, and no error of theirs is the echo of one reported
// already (an unresolved ${...} is an error of the field it is in). An
// error of the file as a whole (its syntax, an alias, .env), of its name
// or of its volumes, which every
// environment's plan takes, leaves none; an error of version or of an
// unknown top-level key leaves them all.
func (d *decoder) readable(s *Spec, errs Errors) *Spec {
	if s == nil {
		return nil
	}
	broken := map[string]bool{}
	for _, e := range errs {
		path := e.Path
		if path == "" {
			path = d.blamed[e] // a ${...} of that field's
		}
		if e.File != d.file || path == "" || path == "name" || path == "environments" || under(path, "volumes") {
			return nil
		}
		for _, st := range d.envs {
			if under(path, st.path) {
				broken[st.env.Name] = true
			}
		}
	}
	byName := map[string]*Environment{}
	for _, e := range s.Environments {
		if _, dup := byName[e.Name]; dup {
			broken[e.Name] = true
		}
		byName[e.Name] = e
	}
	// good says whether name and all it joins or depends on read
	// well; a cycle (reported) is not.
	const visiting, bad, ok = 1, 2, 3
	state := map[string]int{}
	var good func(name string) bool
	good = func(name string) bool {
		switch state[name] {
		case visiting, bad:
			return false
		case ok:
			return true
		}
		e := byName[name]
		if e == nil || broken[name] {
			state[name] = bad
			return false
		}
		state[name] = visiting
		for _, n := range e.After() {
			if !good(n) {
				state[name] = bad
				return false
			}
		}
		state[name] = ok
		return true
	}
	out := *s
	out.Environments = nil
	for _, e := range s.Environments {
		if good(e.Name) {
			out.Environments = append(out.Environments, e)
		}
	}
	if len(out.Environments) == 0 {
		return nil
	}
	return &out
}

// under says whether path is at or below the field at.
func under(path, at string) bool {
	rest, ok := strings.CutPrefix(path, at)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}
