package executor

// The pause hook of nsup exec's path (Options.pauseExec), for tests: the
// first command nsup exec asks a detached environment's init for stops
// before one of its steps (plan numbering, the named process's proc
// steps), between init's fork of it and its execve, until a byte comes
// through a FIFO inside the environment. Meanwhile init goes on (the
// command is started, as far as it and nsup exec know), and a test plays
// root inside against the paused process: its fds, folders and memory
// are init's there, with nsup's fds still open before the execve's
// close. The hook travels to init with the first request of the setup
// (request.ExecPause), which only a test sets (export_test.go): nothing
// of nsup's command line or environment reaches it.
//
// The paused process is a copy of init (fork), not a process sharing
// its memory until the execve (CLONE_VM|CLONE_VFORK, spawn): init's
// thread must go on. Its dumpable flag and its fds are init's, as the
// shared one's are.

// execPause is the pause hook of this environment's nsup exec, for init
// (request.ExecPause), or nil.
func (r *envRun) execPause() *wireFail {
	p := r.a.opts.pauseExec
	if p == nil || p.Env != r.env.Name {
		return nil
	}
	return &wireFail{Step: p.Step, Resume: p.Resume}
}

// point is the pause w describes, or nil.
func (w *wireFail) point() *failPoint {
	if w == nil {
		return nil
	}
	return &failPoint{Step: w.Step, Resume: w.Resume}
}

// resumable says whether p pauses until a byte comes through a FIFO
// (the exec hook's pause), not for good: spawn then returns its pid once
// it is paused.
func resumable(p *rawProg) bool {
	for i := range p.ops {
		if p.ops[i].kind == rawPause && p.ops[i].s[0] != nil {
			return true
		}
	}
	return false
}
