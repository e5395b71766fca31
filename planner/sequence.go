package planner

import "fmt"

// The order apply makes a plan's steps in, across its environments, which
// is the order the text plan lists them in.

// StepRef names one step of a plan: step Step of environment Env
// (indexes into Plan.Environments and Env.Steps).
type StepRef struct{ Env, Step int }

// HeldFrom is the index of a detached environment's first held-back
// step: its last run of steps made inside it, after its last host step
// (the end of its parent-death signal, after its state is recorded).
// Apply makes them only once every environment of the plan is up, so
// that until then a later environment's failure, or nsup's end, takes
// this one back too; or earlier, when a later environment waits for it
// to be healthy (WaitHealthy.Release). len(e.Steps) when nothing is held:
// a foreground plan, or no step inside the environment after the last
// host step.
func (e *Env) HeldFrom(detach bool) int {
	if !detach {
		return len(e.Steps)
	}
	k := len(e.Steps)
	for k > 0 && e.Steps[k-1].Stage != Host && e.Steps[k-1].Stage != Forked {
		k--
	}
	if k == 0 {
		return len(e.Steps) // nothing on the host: no run to hold
	}
	return k
}

// releases says where each detached environment's held steps are made:
// before (by the step they come just before: the first later wait for
// that environment to be healthy which releases it), else at the end,
// once every environment is up, in plan order. Both are empty for a
// foreground plan.
func (p *Plan) releases() (before map[StepRef][]int, atEnd []int) {
	if !p.Detach {
		return nil, nil
	}
	index := make(map[string]int, len(p.Environments))
	released := map[int]bool{}
	for i := range p.Environments {
		e := &p.Environments[i]
		index[e.Name] = i
		for j, st := range e.Steps[:e.HeldFrom(true)] {
			w, ok := st.Op.(WaitHealthy)
			if !ok || !w.Release {
				continue
			}
			o, ok := index[w.Env]
			if !ok || o == i || released[o] || p.Environments[o].HeldFrom(true) == len(p.Environments[o].Steps) {
				continue
			}
			if before == nil {
				before = map[StepRef][]int{}
			}
			before[StepRef{i, j}] = append(before[StepRef{i, j}], o)
			released[o] = true
		}
	}
	for i := range p.Environments {
		e := &p.Environments[i]
		if !released[i] && e.HeldFrom(true) < len(e.Steps) {
			atEnd = append(atEnd, i)
		}
	}
	return before, atEnd
}

// ReleasedAmong are the environments whose held steps Sequence places
// among environment i's (each just before i's wait for it to be
// healthy), in that order: apply makes them there whether or not i's own
// steps go on (an earlier wait of i's failed, or i needs an environment
// not started).
func (p *Plan) ReleasedAmong(i int) []int {
	before, _ := p.releases()
	var out []int
	for j := range p.Environments[i].Steps {
		out = append(out, before[StepRef{i, j}]...)
	}
	return out
}

// walk visits every step of the plan in the order apply makes them, each
// with the note the text plan puts before it ("" for none): each
// environment's steps in turn, but a detached environment's held steps
// (HeldFrom) just before the wait of a later environment that releases
// it, or else after every environment, in plan order.
func (p *Plan) walk(visit func(ref StepRef, note string)) {
	before, atEnd := p.releases()
	held := func(o int, note string) {
		e := &p.Environments[o]
		for j := e.HeldFrom(true); j < len(e.Steps); j++ {
			visit(StepRef{o, j}, note)
			note = ""
		}
	}
	for i := range p.Environments {
		e := &p.Environments[i]
		for j := range e.Steps[:e.HeldFrom(p.Detach)] {
			for _, o := range before[StepRef{i, j}] {
				held(o, fmt.Sprintf("%s's last steps, made now: %s waits for it to be healthy, which its init checks once released", p.Environments[o].Name, e.Name))
			}
			visit(StepRef{i, j}, "")
		}
	}
	note := ""
	if len(atEnd) > 1 || len(atEnd) == 1 && atEnd[0] != len(p.Environments)-1 {
		note = "every environment is up and recorded: each one's last steps, in turn (until now a failure, or nsup's end, takes every environment back)"
	}
	for _, o := range atEnd {
		held(o, note)
		note = ""
	}
}

// Sequence lists every step of the plan in the order apply makes them
// (walk). Steps made inside an environment (child, init, proc) may
// overlap a later environment's in the foreground, where each
// environment's init goes on once it is set up; the host's steps, and
// the held steps, are made in exactly this order.
func (p *Plan) Sequence() []StepRef {
	var out []StepRef
	p.walk(func(ref StepRef, _ string) { out = append(out, ref) })
	return out
}

// renderSequence appends a detached plan's lines in Sequence's order,
// each environment's notes before its first step, and a note before
// held steps listed away from their environment's.
func renderSequence(buf []byte, p *Plan, width int) []byte {
	p.walk(func(ref StepRef, note string) {
		e := &p.Environments[ref.Env]
		if ref.Step == 0 {
			buf = renderHead(buf, e)
		}
		if note != "" {
			buf = append(append(append(buf, "# "...), note...), '\n')
		}
		buf = renderStep(buf, e, ref.Step, width)
	})
	return buf
}
