package planner

// Pods: the net, ipc and uts namespaces an environment creates and others
// join by name, held by a process of their own so that each environment
// of the pod may be restarted alone.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// PodsDir is the folder of a project's state directory where its pods'
// holders are recorded (Hold.Record).
const PodsDir = ".pods"

// podTypes are the namespace types a pod's holder may hold: those a
// Kubernetes pod's containers share (net, ipc, uts). A pid namespace
// needs its PID 1, a mount namespace its root: those are joined from the
// environment as before.
var podTypes = []string{spec.NSNet, spec.NSIPC, spec.NSUTS}

// pods are, for each environment of s, the namespaces of podTypes it
// creates that another environment joins by name: a holder holds them
// (Hold), and the environment and those that join it enter the holder's.
// Decided on the whole spec, not on the environments applied, so that
// applying one of them alone (a restart) finds the same pod.
//
// A namespace belongs to the user namespace it was made in, and only a
// process with privilege there may configure it (or, rootless, make or
// enter it): rootless, the holder holds a user namespace too, mapped as
// the environment's would be (podMaps), and the environment joins it; so
// an environment owns a pod only if its user namespace would be one nsup
// can map without a helper (no idmap) and of its own (no joins). As root,
// an environment with a user namespace of its own makes no pod: the
// holder would be in a user namespace that root made, in which every
// process of uid 0 on the host, however confined, has every capability
// (user_namespaces(7): the owner's), so one without a pid namespace of its
// own could ptrace the holder, whose root is the host's. Any environment
// that makes no pod keeps the rule before pods: those that join it enter
// its own namespaces, from its processes (a note says so).
func pods(s *spec.Spec, privileged bool) map[string]CloneFlags {
	out := map[string]CloneFlags{}
	for _, e := range s.Environments {
		for _, t := range podTypes {
			j := e.Joined(t)
			if j == nil || j.IsPath() {
				continue
			}
			o := s.Env(j.Ref)
			if o == nil || !o.HasNamespace(t) || privileged && o.HasNamespace(spec.NSUser) || !privileged && !rootlessPod(o) {
				continue
			}
			out[j.Ref] |= nsFlag(t)
			if !privileged {
				out[j.Ref] |= nsFlag(spec.NSUser)
			}
		}
	}
	return out
}

// rootlessPod: rootless, e would be in a new user namespace of its own,
// mapped without a helper.
func rootlessPod(e *spec.Environment) bool {
	if e.IDMap != nil {
		return false
	}
	for _, t := range spec.JoinOrder {
		if e.Joined(t) != nil {
			return false
		}
	}
	return true
}

// podMaps are the maps of the user namespace of pod owner's holder: the
// spec's idmap, or the caller mapped to 0; deny: setgroups is denied in it
// (rootless, as an unprivileged writer of gid_map must).
func (c *compiler) podMaps(owner *spec.Environment) (uid, gid []spec.IDRange, deny bool) {
	uid = []spec.IDRange{{Inside: 0, Outside: c.caller.UID, Count: 1}}
	gid = []spec.IDRange{{Inside: 0, Outside: c.caller.GID, Count: 1}}
	if owner != nil && owner.IDMap != nil {
		uid, gid = owner.IDMap.UID, owner.IDMap.GID
	}
	return uid, gid, !c.caller.Privileged
}

// inPod says whether join j enters a pod's holder.
func (ec *envCompiler) inPod(j joinRef) bool {
	return !j.isPath() && ec.compiler.pods[j.ref]&nsFlag(j.t) != 0
}

// podUsers are the environments that join pod's namespaces by name.
func (c *compiler) podUsers(pod string) []string {
	var out []string
	for _, e := range c.s.Environments {
		for _, t := range podTypes {
			if j := e.Joined(t); j != nil && j.Ref == pod && !slices.Contains(out, e.Name) && c.s.Env(pod) != nil && c.s.Env(pod).HasNamespace(t) {
				out = append(out, e.Name)
			}
		}
	}
	return out
}

// holds plans the Hold steps of the pods the environment enters (its
// own, and those of the environments whose pod namespaces it joins), on
// the host before any fork (the copy inherits the fds), and returns the
// namespaces of its own pod, which it enters instead of creating.
func (ec *envCompiler) holds(pos spec.Pos) CloneFlags {
	e, c := ec.e, ec.compiler
	own := c.pods[e.Name]
	var pods []string
	if own != 0 {
		pods = append(pods, e.Name)
		ec.notes = append(ec.notes, fmt.Sprintf("pod %s: its namespaces %s, joined by name by %s, are held by a process of their own (the pod's holder): each of them may be restarted and find the others' still there",
			e.Name, strings.Join(own.Types(), ", "), strings.Join(c.podUsers(e.Name), ", ")))
	}
	if own == 0 && c.opts.Detach {
		if users := c.podUsers(e.Name); len(users) > 0 {
			why := fmt.Sprintf("rootless: %s has id maps or joins namespaces, so no holder holds what %s join (a holder makes a user namespace nsup maps without a helper, of its own)", e.Name, strings.Join(users, ", "))
			if ec.caller.Privileged {
				why = fmt.Sprintf("%s has a user namespace of its own, so no holder holds what %s join (a holder in a user namespace root made would be open to every process of uid 0 on the host, the owner's rule of user_namespaces(7))", e.Name, strings.Join(users, ", "))
			}
			ec.notes = append(ec.notes, fmt.Sprintf("%s: they enter its own, and a restart of %s leaves them in the old ones (down and apply them too)", why, e.Name))
		}
	}
	for _, j := range ec.joins {
		if ec.inPod(j) && !slices.Contains(pods, j.ref) {
			pods = append(pods, j.ref)
		}
	}
	for _, pod := range pods {
		h := Hold{Pod: pod, Types: c.pods[pod], Record: filepath.Join(c.projectDir, PodsDir, pod+".json")}
		if h.Types&nsFlag(spec.NSUser) != 0 {
			u, g, deny := c.podMaps(c.s.Env(pod))
			h.UIDMap, h.GIDMap, h.DenySetgroups = mapLines(u), mapLines(g), deny
		}
		if h.Types&nsFlag(spec.NSNet) != 0 {
			h.Network = podNetwork(c.s.Env(pod))
		}
		ec.add(Host, pos, h)
	}
	return own
}

// podNetwork is Hold.Network for the pod of environment e.
func podNetwork(e *spec.Environment) string {
	if e == nil || e.Net == nil || e.Net.Network != spec.NetworkUser {
		return ""
	}
	if e.Net.HostLoopback != nil && e.Net.HostLoopback.Value {
		return "user, host_loopback"
	}
	return "user"
}
