package spec

// The values of a spec that nsup's caller gave (a ${VAR} the .env file
// beside the spec or nsup's environment set), which an export made to be
// shared (an image, a manifest) leaves out or refuses.

import (
	"fmt"
	"strings"
)

// CallerValued returns the variable references in v's value whose value
// came from nsup's caller (its environment or the .env file), not from
// the spec: a reference's own default, or unset, is the spec's.
func (s *Spec) CallerValued(v EnvVar) []VarUse {
	return s.CallerValuedAt(v.ValuePos, Pos{}, v.Value)
}

// CallerValuedAt is CallerValued of the value written at at: the
// references from at up to next (the next item of its list, when it has
// one on the same line: command: [app, "--token=${T}"]), or else on its
// line from at on, and a block scalar's lines.
func (s *Spec) CallerValuedAt(at, next Pos, value string) []VarUse {
	last := at.Line + strings.Count(value, "\n") + 1 // a block scalar's lines
	var out []VarUse
	for _, u := range s.Vars {
		in := u.Pos.Line == at.Line && u.Pos.Col >= at.Col || u.Pos.Line > at.Line && u.Pos.Line <= last && strings.Contains(value, "\n")
		if next.Line != 0 && (u.Pos.Line > next.Line || u.Pos.Line == next.Line && u.Pos.Col >= next.Col) {
			in = false
		}
		if in && u.From != FromDefault && u.From != FromUnset {
			out = append(out, u)
		}
	}
	return out
}

// CallerArg is a value of an environment's main process's command, or of
// its working folder, holding references whose values came from nsup's
// caller (CallerValuedAt): what an export that is shared cannot leave out.
type CallerArg struct {
	Pos  Pos
	Key  string // below the environment's key: processes[0].command[2], cwd, user
	Cwd  bool
	User bool // the ids the main process runs as
	Uses []VarUse
}

// CallerArgs are e's main process's command items, its working folder
// and its user (the process's, or else e's), that hold values of nsup's
// caller.
func (s *Spec) CallerArgs(e *Environment) []CallerArg {
	if len(e.Process) == 0 {
		return nil
	}
	p := e.Process[0]
	var out []CallerArg
	for i, a := range p.Command {
		if i >= len(p.CommandPos) {
			break
		}
		var next Pos
		if i+1 < len(p.CommandPos) {
			next = p.CommandPos[i+1]
		}
		if uses := s.CallerValuedAt(p.CommandPos[i], next, a); len(uses) > 0 {
			out = append(out, CallerArg{Pos: p.CommandPos[i], Key: fmt.Sprintf("processes[0].command[%d]", i), Uses: uses})
		}
	}
	cwd, key := p.Cwd, "processes[0].cwd"
	if cwd == nil {
		cwd, key = e.Cwd, "cwd"
	}
	if cwd != nil {
		if uses := s.CallerValuedAt(cwd.Pos, Pos{}, cwd.Value); len(uses) > 0 {
			out = append(out, CallerArg{Pos: cwd.Pos, Key: key, Cwd: true, Uses: uses})
		}
	}
	u, key := p.User, "processes[0].user"
	if u == nil {
		u, key = e.User, "user"
	}
	if u != nil {
		// "UID" or "UID:GID", on its line, up to the process's next key
		// there ({name: main, user: "${UID}", command: [...]}).
		next := Pos{}
		after := func(q Pos) {
			if q.Line == u.Pos.Line && q.Col > u.Pos.Col && (next.Line == 0 || q.Col < next.Col) {
				next = q
			}
		}
		after(p.NamePos)
		for _, q := range p.CommandPos {
			after(q)
		}
		if p.Cwd != nil {
			after(p.Cwd.Pos)
		}
		for _, v := range p.Env {
			after(v.Pos)
		}
		if uses := s.CallerValuedAt(u.Pos, next, ""); len(uses) > 0 {
			out = append(out, CallerArg{Pos: u.Pos, Key: key, User: true, Uses: uses})
		}
	}
	return out
}

// CallerProject is the references of the spec's name (its project) whose
// values came from nsup's caller (CallerValuedAt): an export writes the
// project in the image's labels and name, the manifest's labels and
// claims.
func (s *Spec) CallerProject() []VarUse {
	if s.Name == "" {
		return nil
	}
	return s.CallerValuedAt(s.NamePos, Pos{}, s.Name)
}

// UsesFrom says where the values of uses came from, for messages:
// "${API_TOKEN} from .env:1, $HOME from environment".
func UsesFrom(uses []VarUse) string {
	out := make([]string, len(uses))
	for i, u := range uses {
		out[i] = u.Text + " from " + u.From
	}
	return strings.Join(out, ", ")
}
