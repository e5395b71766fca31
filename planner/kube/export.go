package kube

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// Labels and annotations Export writes (and Import reads back).
// maxPodmanValue is the longest annotation value podman kube play 4.3
// takes.
const maxPodmanValue = 63

const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelProject   = "nsup.dev/project"
	// AnnotationSpec and AnnotationDigest are the spec file's name and
	// the digest of its bytes (spec.Spec.Digest) the Pod was exported
	// from; the digest is cut to 63 characters ("sha256:" and 56 of its
	// 64 hex digits), as podman kube play 4.3 refuses a longer annotation
	// value (Kubernetes does not: 63 is its limit for a label's).
	AnnotationSpec   = "nsup.dev/spec"
	AnnotationDigest = "nsup.dev/spec-digest"
	// AnnotationProcesses names each container's main process, as
	// "CONTAINER=PROCESS" separated by commas, so that Import gives the
	// processes their names back.
	AnnotationProcesses = "nsup.dev/processes"
	// AnnotationVolume, on a PersistentVolumeClaim, is the name of the
	// spec's volume (the claim's is PROJECT-NAME).
	AnnotationVolume = "nsup.dev/volume"
)

// podman kube play's annotations: a PersistentVolumeClaim's volume owner,
// a container's pids limit (podman-kube-play(1)).
const (
	podmanVolumeUID = "volume.podman.io/uid"
	podmanVolumeGID = "volume.podman.io/gid"
	podmanPidsLimit = "io.podman.annotations.pids-limit/"
)

// claimSize is what a PersistentVolumeClaim asks for: Kubernetes needs a
// size and an nsup volume has none (podman kube play ignores it).
const claimSize = "1Gi"

// Note is a key of one side that has no exact equivalent on the other: it
// was translated into something close, or not carried, as Msg says.
type Note struct {
	// File and Pos are where the key is: the spec's (Export) or the
	// manifest's (Import).
	File string
	Pos  spec.Pos
	// Key is the spec's field path (environments.web.rlimits.nofile) or
	// the manifest's (spec.containers[0].securityContext.privileged).
	Key string
	Msg string
}

// String is "FILE:LINE:COL: KEY: MSG".
func (n Note) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", n.File, n.Pos.Line, n.Pos.Col, n.Key, n.Msg)
}

// Options tune Export.
type Options struct {
	// Image is the image reference of an environment's container, e.g.
	// "localhost/nsup/PROJECT/ENV:latest"; nil means DefaultImage.
	Image func(env string) string
	// Project is the project the objects are labelled with and their
	// claims named after (nsup export -p); "" means the spec's.
	Project string
}

// DefaultImage is the image of environment env of project: a name in
// podman's local store (localhost/), which nothing pulls.
func DefaultImage(project, env string) string {
	return "localhost/nsup/" + project + "/" + env + ":latest"
}

// Export writes the manifests of environments envs of s (every one when
// empty, with those they join or depend on), planned as p: the
// PersistentVolumeClaims of the named volumes they use, then one Pod per
// group of environments that share namespaces by name, as YAML documents
// separated by "---". The same input gives the same bytes. p may be nil;
// when given, it must be the plan of s (its digest is checked): the
// values are read from the spec, with the planner's defaults, so that a
// manifest for another machine needs nothing of this host. Every key
// without an exact equivalent is in the notes, at its FILE:LINE:COL.
func Export(s *spec.Spec, p *planner.Plan, envs []string, opts Options) ([]byte, []Note, error) {
	if p != nil && p.SpecDigest != "" && s.Digest != "" && p.SpecDigest != s.Digest {
		return nil, nil, fmt.Errorf("%s: the plan is of another version of the spec (%s, the file is %s)", s.File, p.SpecDigest, s.Digest)
	}
	selected, unknown := s.JoinOrder(envs...)
	if len(unknown) > 0 {
		return nil, nil, fmt.Errorf("%s: no environment named %s", s.File, strings.Join(unknown, ", "))
	}
	if len(selected) == 0 {
		return nil, nil, fmt.Errorf("%s: no environment to export", s.File)
	}
	x := &exporter{s: s, opts: opts, project: s.Project()}
	if opts.Project != "" {
		x.project = opts.Project
	}
	x.callerProject()
	if x.opts.Image == nil {
		project := x.project
		if project == "" {
			project = "nsup"
		}
		x.opts.Image = func(env string) string { return DefaultImage(project, env) }
	}
	var pods []*pod
	for _, g := range groups(selected) {
		pods = append(pods, x.pod(g))
	}
	if len(x.refused) > 0 {
		return nil, nil, x.refused
	}
	var objs []any
	for _, c := range x.claims() {
		objs = append(objs, c)
	}
	for _, p := range pods {
		objs = append(objs, p)
	}
	out, err := manifest(objs...)
	if err != nil {
		return nil, nil, err
	}
	sort.SliceStable(x.notes, func(i, j int) bool {
		a, b := x.notes[i].Pos, x.notes[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out, x.notes, nil
}

// podTypes are the namespace types that the containers of a Pod share (pid
// with shareProcessNamespace, user with hostUsers: false): environments
// that share one of them by name are one Pod.
var podTypes = []string{spec.NSNet, spec.NSIPC, spec.NSUTS, spec.NSPID, spec.NSUser}

// groups splits envs (in join order: each after those it joins) into the
// Pods' containers: environments that share a podTypes namespace by name
// are one group, ordered by their first environment.
func groups(envs []*spec.Environment) [][]*spec.Environment {
	idx := map[string]int{}
	for i, e := range envs {
		idx[e.Name] = i
	}
	parent := make([]int, len(envs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i, e := range envs {
		for _, j := range e.Join {
			if j.IsPath() || !slices.Contains(podTypes, j.Type) {
				continue
			}
			if k, ok := idx[j.Ref]; ok {
				a, b := find(i), find(k)
				if a < b {
					parent[b] = a
				} else {
					parent[a] = b
				}
			}
		}
	}
	var out [][]*spec.Environment
	at := map[int]int{}
	for i, e := range envs {
		r := find(i)
		k, ok := at[r]
		if !ok {
			k = len(out)
			at[r] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], e)
	}
	return out
}

type exporter struct {
	s       *spec.Spec
	opts    Options
	project string
	notes   []Note
	// refused are the keys it cannot write (export_caller.go).
	refused Refused
	// volumes are the spec's volumes the Pods use, by name.
	volumes map[string]bool
	// The Pod being made: its volumes' names, and the name of each
	// spec volume's claim among them.
	namer     *volumeNamer
	claimVols map[string]string
}

func (x *exporter) note(pos spec.Pos, key, format string, args ...any) {
	x.notes = append(x.notes, Note{File: x.s.File, Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func envKey(e *spec.Environment) string { return "environments." + e.Name }

// nsID says which namespace of type t e is in: "env:NAME" for the one
// environment NAME creates (e's own, or one it joins by name, followed),
// "path:PATH" for one joined by path, "host" for the host's.
func (x *exporter) nsID(e *spec.Environment, t string) string {
	for range len(x.s.Environments) + 1 {
		if e.HasNamespace(t) {
			return "env:" + e.Name
		}
		j := e.Joined(t)
		if j == nil {
			return "host"
		}
		if j.IsPath() {
			return "path:" + j.Ref
		}
		next := x.s.Env(j.Ref)
		if next == nil {
			return "env:" + j.Ref
		}
		e = next
	}
	return "cycle" // refused by spec.Parse
}

// nsPos is where e's namespace of type t is said: its namespaces entry,
// its join, or (the host's) the environment's key.
func nsPos(e *spec.Environment, t string) (spec.Pos, string) {
	for _, n := range e.Namespaces {
		if n.Type == t {
			return n.Pos, envKey(e) + ".namespaces"
		}
	}
	if j := e.Joined(t); j != nil {
		return j.Pos, envKey(e) + ".join." + t
	}
	return e.Pos, envKey(e) + ".namespaces"
}

// describeNS says in words what an nsID is, seen from environment e.
func describeNS(id string, e *spec.Environment) string {
	switch {
	case id == "host":
		return "the host's"
	case id == "env:"+e.Name:
		return "its own"
	case strings.HasPrefix(id, "env:"):
		return strings.TrimPrefix(id, "env:") + "'s"
	}
	return "the one at " + strings.TrimPrefix(id, "path:")
}

// pod makes one Pod of a group's environments, the first of which owns the
// namespaces the others join.
func (x *exporter) pod(g []*spec.Environment) *pod {
	owner := g[0]
	p := &pod{typeMeta: typeMeta{APIVersion: "v1", Kind: "Pod"}}
	p.Metadata = objectMeta{Name: owner.Name,
		Labels:      map[string]string{LabelName: owner.Name, LabelManagedBy: "nsup"},
		Annotations: map[string]string{AnnotationSpec: filepath.Base(x.s.File)}}
	if x.project != "" {
		p.Metadata.Labels[LabelProject] = x.project
	}
	if d := x.s.Digest; d != "" {
		p.Metadata.Annotations[AnnotationDigest] = d[:min(len(d), maxPodmanValue)]
	}
	x.namer, x.claimVols = &volumeNamer{}, map[string]string{}
	x.namespaces(p, g)
	var procs []string
	for _, e := range g {
		c, vols := x.container(p, e)
		p.Spec.Containers = append(p.Spec.Containers, c)
		for _, v := range vols {
			if !hasVolume(p.Spec.Volumes, v.Name) {
				p.Spec.Volumes = append(p.Spec.Volumes, v)
			}
		}
		if len(e.Process) > 0 {
			procs = append(procs, e.Name+"="+e.Process[0].Name)
		}
	}
	p.Metadata.Annotations[AnnotationProcesses] = strings.Join(procs, ",")
	if v := p.Metadata.Annotations[AnnotationProcesses]; len(v) > maxPodmanValue {
		x.note(owner.Pos, "environments."+owner.Name, "the annotation %s is %d characters long: podman kube play 4.3 refuses a value over %d (Kubernetes takes it); shorter names of environments or main processes avoid it", AnnotationProcesses, len(v), maxPodmanValue)
	}
	x.lifecycle(p, g)
	x.network(p, g)
	return p
}

func hasVolume(vs []volume, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return true
		}
	}
	return false
}

// namespaces sets what the Pod shares, from its owner's namespaces, and
// notes each environment whose namespaces differ from what a container of
// that Pod gets.
func (x *exporter) namespaces(p *pod, g []*spec.Environment) {
	owner := g[0]
	for _, e := range g {
		for _, j := range e.Join {
			if j.IsPath() {
				x.note(j.Pos, envKey(e)+".join."+j.Type, "not carried: a Pod joins no namespace by path (%s): the container gets the Pod's %s namespace", j.Ref, j.Type)
			}
		}
	}
	// The namespace each container gets, by type: an nsID, or "" for a
	// container's own.
	pod := map[string]string{}
	noted := map[string]bool{} // e/t: said already
	netID := x.nsID(owner, spec.NSNet)
	if netID == "host" {
		p.Spec.HostNetwork = true
		pos, key := nsPos(owner, spec.NSNet)
		x.note(pos, key, "translated: no network namespace of its own: hostNetwork: true, the host's network (and UTS namespace) for every container of the Pod, which most clusters' policies refuse; nsup keeps the environment from connecting to the host's abstract unix sockets (Landlock); the Pod is not")
		pod[spec.NSNet], pod[spec.NSUTS] = "host", "host"
	} else {
		pod[spec.NSNet] = netID
	}
	ipcID := x.nsID(owner, spec.NSIPC)
	if ipcID == "host" {
		p.Spec.HostIPC = true
		pos, key := nsPos(owner, spec.NSIPC)
		x.note(pos, key, "translated: no IPC namespace of its own: hostIPC: true, the host's, for every container of the Pod; nsup's filter refuses the host's SysV IPC and message queues there; the runtime's default profile does not")
	}
	pod[spec.NSIPC] = ipcID
	if pod[spec.NSUTS] == "" {
		utsID := x.nsID(owner, spec.NSUTS)
		if utsID == "host" {
			pos, key := nsPos(owner, spec.NSUTS)
			x.note(pos, key, "translated: no UTS namespace of its own: a Pod has its own (the host's comes only with hostNetwork), whose hostname is the Pod's name, %s", owner.Name)
			utsID = "env:" + owner.Name
		}
		pod[spec.NSUTS] = utsID
	}
	pidID := x.nsID(owner, spec.NSPID)
	switch {
	case pidID == "host":
		p.Spec.HostPID = true
		pos, key := nsPos(owner, spec.NSPID)
		x.note(pos, key, "translated: no PID namespace of its own: hostPID: true, the host's, for every container of the Pod; nsup keeps the environment from signalling the host's processes (Landlock) and from changing their limits and priorities (its filter); the Pod is kept from neither")
		pod[spec.NSPID] = "host"
	default:
		for _, e := range g[1:] {
			if x.nsID(e, spec.NSPID) == pidID {
				t := true
				p.Spec.ShareProcessNamespace = &t
				pod[spec.NSPID] = pidID
				break
			}
		}
	}
	if x.nsID(owner, spec.NSUser) == "env:"+owner.Name {
		pod[spec.NSUser] = "env:" + owner.Name
		if p.Spec.HostNetwork || p.Spec.HostIPC || p.Spec.HostPID {
			// Kubernetes refuses hostUsers: false with any of them.
			pos, key := nsPos(owner, spec.NSUser)
			x.note(pos, key, "not carried: Kubernetes gives no user namespace (hostUsers: false) to a Pod with the host's network, IPC or PID namespace")
			if p.Spec.HostPID {
				// nsup plans the host's pid namespace only in a user
				// namespace that maps root elsewhere (hostPID).
				x.note(pos, key, "the Pod's root is the host's uid 0 in the host's pid namespace: it may signal (kill -1) and ptrace the host's processes, which nsup's planner refuses without a user namespace that maps root elsewhere (Kubernetes' baseline policy forbids hostPID): add pid to namespaces, or set a non-root user")
			}
			pod[spec.NSUser] = "host"
			noted[owner.Name+"/"+spec.NSUser] = true
		} else {
			f := false
			p.Spec.HostUsers = &f
		}
	} else {
		pod[spec.NSUser] = x.nsID(owner, spec.NSUser)
	}
	for _, e := range g {
		for _, t := range []string{spec.NSMount, spec.NSNet, spec.NSIPC, spec.NSUTS, spec.NSPID, spec.NSUser} {
			want, ok := pod[t]
			if !ok || want == "" {
				want = "env:" + e.Name // a container's own
			}
			have := x.nsID(e, t)
			if noted[e.Name+"/"+t] || have == want || strings.HasPrefix(have, "path:") && e.Joined(t) != nil {
				continue // the same; a join by path is noted above
			}
			pos, key := nsPos(e, t)
			gets := describeNS(want, e)
			if strings.HasPrefix(want, "path:") {
				gets = "the Pod's own" // a Pod joins no namespace by path
			}
			msg := fmt.Sprintf("translated: the container gets %s %s namespace, not %s", gets, t, describeNS(have, e))
			switch t {
			case spec.NSUTS:
				if e.Hostname != nil {
					msg += fmt.Sprintf(" (its hostname %s is not carried)", e.Hostname.Value)
				}
			case spec.NSMount:
				msg = fmt.Sprintf("not carried: a container has a mount namespace of its own, over its image, not %s", describeNS(have, e))
			}
			if t != spec.NSMount && len(g) > 1 {
				msg += ": the containers of a Pod share it"
			}
			x.note(pos, key, "%s", msg)
		}
		for _, t := range []string{spec.NSCgroup, spec.NSTime} {
			if j := e.Joined(t); j != nil && !j.IsPath() {
				x.note(j.Pos, envKey(e)+".join."+t, "not carried: a container cannot join another's %s namespace", t)
			}
		}
		if e.HasNamespace(spec.NSTime) {
			pos, key := nsPos(e, spec.NSTime)
			x.note(pos, key, "not carried: Kubernetes has no time namespace")
		}
		if e.Time != nil {
			x.note(e.Time.Pos, envKey(e)+".time", "not carried: Kubernetes has no time namespace, nor clock offsets")
		}
		if e.IDMap != nil {
			x.note(e.IDMap.Pos, envKey(e)+".idmap", "not carried: with hostUsers: false the kubelet (or podman) picks the Pod's id maps")
		}
	}
	// The hostname: the owner's, when the Pod's UTS namespace is its own.
	if h := owner.Hostname; h != nil {
		switch {
		case pod[spec.NSUTS] != "env:"+owner.Name:
			// Noted with the namespace.
		case !isDNSLabel(h.Value):
			x.note(h.Pos, envKey(owner)+".hostname", "not carried: a Pod's hostname is a DNS label (1 to 63 of a-z, 0-9 and -), %q is not; the Pod's hostname is its name, %s", h.Value, owner.Name)
		default:
			p.Spec.Hostname = h.Value
		}
	}
	for _, e := range g {
		if d := e.Domainname; d != nil {
			x.note(d.Pos, envKey(e)+".domainname", "not carried: Kubernetes sets no NIS domain name (a Pod's subdomain is a DNS name in the cluster, not setdomainname(2))")
		}
	}
}

// isDNSLabel: 1 to 63 of a-z, 0-9 and -, beginning and ending with a
// letter or digit (RFC 1123, as Kubernetes checks names).
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// restartPolicies are Kubernetes' names of nsup's restart policies.
var restartPolicies = map[string]string{spec.RestartNo: "Never", spec.RestartOnFailure: "OnFailure", spec.RestartAlways: "Always"}

// lifecycle sets what a Pod has one of for all its containers: its
// restart policy (the owner's main process's) and its grace period (the
// longest stop_timeout of the main processes), and notes the rest of the
// process tree.
func (x *exporter) lifecycle(p *pod, g []*spec.Environment) {
	policy := func(e *spec.Environment) (string, spec.Pos, string) {
		key := envKey(e) + ".processes[0]"
		if len(e.Process) == 0 {
			return spec.RestartNo, e.Pos, key
		}
		if r := e.Process[0].Restart; r != nil {
			return r.Policy, r.Pos, key + ".restart"
		}
		return spec.RestartNo, e.Process[0].Pos, key
	}
	pol, _, _ := policy(g[0])
	p.Spec.RestartPolicy = restartPolicies[pol]
	for i, e := range g {
		pl, pos, key := policy(e)
		if i > 0 && pl != pol {
			x.note(pos, key, "translated: a Pod has one restart policy for all its containers, its first's (%s: %s), not %s", g[0].Name, p.Spec.RestartPolicy, restartPolicies[pl])
		}
		if len(e.Process) > 0 {
			if r := e.Process[0].Restart; r != nil && r.Max > 0 {
				x.note(r.Pos, key, "translated: Kubernetes restarts without a limit (with a back-off up to 5 minutes), not %d times at most", r.Max)
			}
		}
	}
	// The grace period: whole seconds, the longest.
	var grace int64
	var timeouts []string
	for _, e := range g {
		if len(e.Process) == 0 {
			continue
		}
		ms := int64(planner.DefaultStopTimeout)
		if st := e.Process[0].StopTimeout; st != nil {
			ms = st.Value.Milliseconds()
			if ms%1000 != 0 {
				x.note(st.Pos, envKey(e)+".processes[0].stop_timeout", "translated: terminationGracePeriodSeconds is whole seconds: %ds", (ms+999)/1000)
			}
		}
		sec := (ms + 999) / 1000
		timeouts = append(timeouts, strconv.FormatInt(sec, 10))
		grace = max(grace, sec)
	}
	p.Spec.TerminationGracePeriodSeconds = &grace
	if len(g) > 1 {
		for _, e := range g {
			if len(e.Process) == 0 {
				continue
			}
			if st := e.Process[0].StopTimeout; st != nil && (st.Value.Milliseconds()+999)/1000 != grace {
				x.note(st.Pos, envKey(e)+".processes[0].stop_timeout", "translated: a Pod has one grace period for all its containers, the longest: %ds", grace)
			}
		}
	}
}

// claims are the PersistentVolumeClaims of the volumes the Pods use, in
// the spec's order: a claim, not an emptyDir, because an nsup volume
// outlives the environment (nsup down keeps it), as a claim outlives its
// Pod; podman kube play makes a named volume of each.
func (x *exporter) claims() []*persistentVolumeClaim {
	var out []*persistentVolumeClaim
	for _, v := range x.s.Volumes {
		if !x.volumes[v.Name] {
			continue
		}
		c := &persistentVolumeClaim{typeMeta: typeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}}
		c.Metadata = objectMeta{Name: x.claimName(v.Name),
			Labels:      map[string]string{LabelManagedBy: "nsup"},
			Annotations: map[string]string{AnnotationVolume: v.Name}}
		if x.project != "" {
			c.Metadata.Labels[LabelProject] = x.project
		}
		if o := v.Owner; o != nil {
			c.Metadata.Annotations[podmanVolumeUID] = strconv.FormatUint(uint64(o.UID), 10)
			c.Metadata.Annotations[podmanVolumeGID] = strconv.FormatUint(uint64(o.GID), 10)
			x.note(o.Pos, "volumes."+v.Name+".owner", "translated: podman kube play's annotations %s and %s; Kubernetes has no owner for a claim's volume (a Pod's securityContext.fsGroup gives its group)", podmanVolumeUID, podmanVolumeGID)
		}
		if v.Mode != "0755" {
			x.note(v.Pos, "volumes."+v.Name+".mode", "not carried: a claim's volume has no mode (%s)", v.Mode)
		}
		x.note(v.Pos, "volumes."+v.Name, "translated: a PersistentVolumeClaim %s; Kubernetes needs a size, which an nsup volume has not: it asks for %s (podman ignores it)", c.Metadata.Name, claimSize)
		c.Spec = claimSpec{AccessModes: []string{"ReadWriteOnce"}, Resources: claimResources{Requests: map[string]string{"storage": claimSize}}}
		out = append(out, c)
	}
	return out
}

// claimName is the claim of volume name: PROJECT-NAME, since an nsup
// volume is the project's, and podman's volumes (and a namespace's
// claims) are shared by every project.
func (x *exporter) claimName(name string) string {
	if x.project == "" {
		return name
	}
	return x.project + "-" + name
}
