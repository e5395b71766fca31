package kube

// Export's containers: one environment's main process, identity,
// security, limits, mounts and healthcheck; and a Pod's network.

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// pullPolicy: an image of the local store (localhost/...) exists only
// where it was built, and is never pulled; any other reference is pulled
// when missing.
func pullPolicy(image string) string {
	if strings.HasPrefix(image, "localhost/") {
		return "Never"
	}
	return "IfNotPresent"
}

func escapeAll(args []string, defined func(string) bool) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = escape(a, defined)
	}
	return out
}

// envNames says whether a name is among vars.
func envNames(vars []spec.EnvVar) func(string) bool {
	return func(name string) bool {
		for _, v := range vars {
			if v.Name == name {
				return true
			}
		}
		return false
	}
}

// kubeEnvName: a variable name Kubernetes takes (printable ASCII, no =).
func kubeEnvName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' || s[i] == '=' {
			return false
		}
	}
	return s != ""
}

// volumeNamer gives a Pod's volumes unique names (DNS labels).
type volumeNamer struct{ used map[string]bool }

func (n *volumeNamer) name(base, suffix string) string {
	if n.used == nil {
		n.used = map[string]bool{}
	}
	for k := 0; ; k++ {
		s := suffix
		if k > 0 {
			s += "-" + strconv.Itoa(k)
		}
		b := base
		if len(b)+len(s) > 63 {
			b = strings.TrimRight(b[:63-len(s)], "-")
		}
		name := b + s
		if !n.used[name] {
			n.used[name] = true
			return name
		}
	}
}

// container translates environment e into a container of Pod p, and the
// volumes its mounts need.
func (x *exporter) container(p *pod, e *spec.Environment) (container, []volume) {
	key := envKey(e)
	img := x.opts.Image(e.Name)
	c := container{Name: e.Name, Image: img, ImagePullPolicy: pullPolicy(img)}
	if len(e.Process) == 0 {
		return c, nil // refused by spec.Parse
	}
	main := e.Process[0]
	mkey := key + ".processes[0]"
	env := planner.MergeEnv(e.Env, main.Env)
	c.Command = escapeAll(main.Command, envNames(env))
	x.callerArgs(e)
	for i, v := range env {
		if !kubeEnvName(v.Name) {
			x.note(v.Pos, key+".env."+v.Name, "not carried: Kubernetes takes variable names of printable ASCII only")
			continue
		}
		if x.callerValued(e, v, key, &c) {
			continue
		}
		val := escape(v.Value, envNames(env[:i])) // the kubelet expands the names defined before
		if val != v.Value {
			x.note(v.Pos, key+".env."+v.Name, "translated: written %q, as Kubernetes expands $(VAR) and $$ in a variable's value; podman kube play does not, and gives the value with its $ doubled", val)
		}
		c.Env = append(c.Env, envVar{Name: v.Name, Value: val})
	}
	c.WorkingDir = "/"
	if e.Cwd != nil {
		c.WorkingDir = e.Cwd.Value
	}
	if main.Cwd != nil {
		c.WorkingDir = main.Cwd.Value
	}
	var uid, gid int64
	if u := e.User; u != nil {
		uid, gid = int64(u.UID), int64(u.GID)
	}
	if u := main.User; u != nil {
		uid, gid = int64(u.UID), int64(u.GID)
	}
	sc := &securityContext{RunAsUser: &uid, RunAsGroup: &gid}
	if uid > math.MaxInt32 || gid > math.MaxInt32 {
		pos, ukey := e.Pos, key+".user"
		if u := main.User; u != nil {
			pos, ukey = u.Pos, mkey+".user"
		} else if u := e.User; u != nil {
			pos = u.Pos
		}
		x.note(pos, ukey, "not carried: Kubernetes takes ids up to %d, not %d:%d: the image's user", math.MaxInt32, uid, gid)
		sc.RunAsUser, sc.RunAsGroup = nil, nil
	}
	c.SecurityContext = sc
	x.rootfs(sc, e)
	x.security(sc, e)
	c.Resources = x.limits(p, e)
	vols := x.mounts(&c, e)
	if h := main.Healthcheck; h != nil {
		c.ReadinessProbe = x.probe(h, mkey+".healthcheck", envNames(env))
	}
	x.processes(e)
	for _, r := range e.Rlimits {
		x.note(r.Pos, key+".rlimits."+r.Name, "not carried: Kubernetes sets no resource limit of a process (the container gets its runtime's)")
	}
	for _, d := range e.DependsOn {
		x.note(d.Pos, key+".depends_on."+d.Env, "not carried: Kubernetes starts no Pod (nor container) after another is %s; the container must wait for %s itself", d.Condition, d.Env)
	}
	return c, vols
}

// rootfs: the image's root, read-only unless the spec's is writable.
func (x *exporter) rootfs(sc *securityContext, e *spec.Environment) {
	r := e.Rootfs
	key := envKey(e) + ".rootfs"
	ro := r.Readonly && !r.Overlay
	sc.ReadOnlyRootFilesystem = &ro
	if len(r.Host) > 0 {
		x.note(r.HostPos, key+".host", "translated: the image holds a copy of these host folders, made when it is built; nsup binds the host's live folders")
	}
	if r.Dev {
		x.note(r.Pos, key+".dev", "not carried: a container's device nodes are those its runtime allows (its device cgroup), whatever the image holds")
	}
}

// security: capabilities as the exact set (drop ALL, add what nsup
// keeps: nsup's default set is not Kubernetes' runtimes'), or add ALL
// where the spec adds ALL, no_new_privs, the seccomp profile, the masked
// and read-only paths.
func (x *exporter) security(sc *securityContext, e *spec.Environment) {
	key := envKey(e) + ".security"
	keep := planner.Capabilities(e)
	caps := &capabilities{Drop: []string{"ALL"}}
	for _, k := range keep {
		caps.Add = append(caps.Add, strings.TrimPrefix(k, "CAP_"))
	}
	if s := e.Security; s != nil && slices.ContainsFunc(s.CapAdd, func(a spec.String) bool { return a.Value == "ALL" }) {
		// The plan's list is this host's (planner's allCapabilities); the
		// node's runtime resolves ALL against what it holds itself, as
		// nsup does here (containerd since 1.5, CRI-O and podman through
		// containers/common): every capability there, none it cannot
		// grant. Without drop: containerd drops ALL after adding it.
		caps = &capabilities{Add: []string{"ALL"}}
	}
	sc.Capabilities = caps
	nnp, nnpPos := true, e.Pos
	if s := e.Security; s != nil && s.NoNewPrivileges != nil {
		nnp, nnpPos = s.NoNewPrivileges.Value, s.NoNewPrivileges.Pos
	}
	if nnp && slices.Contains(keep, "CAP_SYS_ADMIN") {
		x.note(nnpPos, key+".no_new_privileges", "not carried: Kubernetes refuses allowPrivilegeEscalation: false with CAP_SYS_ADMIN, which the environment keeps: left to the runtime's default (escalation allowed)")
	} else {
		esc := !nnp
		sc.AllowPrivilegeEscalation = &esc
	}
	s := e.Security
	switch {
	case s == nil || s.Seccomp == nil || s.Seccomp.Value == spec.SeccompDefault:
		sc.SeccompProfile = &seccompProfile{Type: "RuntimeDefault"}
	case s.Seccomp.Value == spec.SeccompUnconfined:
		sc.SeccompProfile = &seccompProfile{Type: "Unconfined"}
	default:
		base := filepath.Base(s.Seccomp.Value)
		sc.SeccompProfile = &seccompProfile{Type: "Localhost", LocalhostProfile: base}
		x.note(s.Seccomp.Pos, key+".seccomp", "translated: localhostProfile %s, a file of the node's seccomp folder: copy %s to /var/lib/kubelet/seccomp/%s (podman kube play: its --seccomp-profile-root, that folder by default); the runtime reads it in Docker's (or OCI's linux.seccomp) JSON format, not a whole config.json", base, s.Seccomp.Value, base)
	}
	if s != nil {
		if s.MaskedPaths != nil {
			x.note(s.MaskedPaths.Pos, key+".masked_paths", "not carried: a container's masked paths are its runtime's (Docker's list, procMount: Default)")
		}
		if s.ReadonlyPaths != nil {
			x.note(s.ReadonlyPaths.Pos, key+".readonly_paths", "not carried: a container's read-only paths are its runtime's (Docker's list, procMount: Default)")
		}
	}
}

// limits: memory and cpu as the container's resources.limits (the
// requests, unset, default to the limits); pids as podman's annotation.
func (x *exporter) limits(p *pod, e *spec.Environment) *resourceRequirements {
	l := e.Limits
	if l == nil {
		return nil
	}
	key := envKey(e) + ".limits"
	r := &resourceRequirements{Limits: map[string]string{}}
	if l.Memory != nil {
		r.Limits["memory"] = bytesQuantity(l.Memory.N)
	}
	if l.CPU != nil {
		r.Limits["cpu"] = cpuQuantity(l.CPU.Cores)
	}
	if l.MemorySwap != nil {
		x.note(l.MemorySwap.Pos, key+".memory_swap", "not carried: a node's swap is the kubelet's (memorySwap.swapBehavior), not a container's; its default, NoSwap, is nsup's without memory_swap (no swap beyond the memory limit)")
	}
	if l.Pids != nil {
		v := strconv.FormatInt(l.Pids.N, 10) // -1: unlimited, as podman says it
		p.Metadata.Annotations[podmanPidsLimit+e.Name] = v
		x.note(l.Pids.Pos, key+".pids", "translated: podman kube play's annotation %s%s; Kubernetes has no pids limit of a container (the kubelet's podPidsLimit is the node's)", podmanPidsLimit, e.Name)
	}
	if l.CPUWeight != nil {
		x.note(l.CPUWeight.Pos, key+".cpu_weight", "not carried: the kubelet gives a container its cpu.weight from its cpu request")
	}
	if l.IOWeight != nil {
		x.note(l.IOWeight.Pos, key+".io_weight", "not carried: Kubernetes sets no I/O weight")
	}
	if len(r.Limits) == 0 {
		return nil
	}
	return r
}

// standardMounts are the mounts a container's runtime makes by itself,
// with nsup's defaults: at these targets, readonly as said and without
// options, they are the runtime's own.
var standardMounts = map[string]struct {
	target   string
	readonly bool
}{
	spec.MountProc:   {"/proc", false},
	spec.MountSysfs:  {"/sys", true},
	spec.MountDev:    {"/dev", false},
	spec.MountDevpts: {"/dev/pts", false},
	spec.MountMqueue: {"/dev/mqueue", false},
}

// mounts: tmpfs as emptyDir in memory, named volumes as claims, binds as
// hostPath; the kernel filesystems are the runtime's own.
func (x *exporter) mounts(c *container, e *spec.Environment) []volume {
	var vols []volume
	for i, m := range e.Mounts {
		key := fmt.Sprintf("%s.mounts[%d]", envKey(e), i)
		if len(m.Options) > 0 {
			x.note(m.Pos, key+".options", "not carried: a volume mount takes no mount flags (%s)", strings.Join(m.Options, ","))
		}
		vm := volumeMount{MountPath: m.Target, ReadOnly: m.Readonly}
		switch m.Type {
		case spec.MountTmpfs:
			vm.Name = x.namer.name(e.Name, fmt.Sprintf("-tmpfs-%d", i))
			ed := &emptyDirSource{Medium: "Memory"}
			if m.SizeBytes > 0 {
				ed.SizeLimit = bytesQuantity(m.SizeBytes)
			}
			if m.Mode != "" {
				x.note(m.Pos, key+".mode", "not carried: an emptyDir's folder is the kubelet's (mode 0777), not %s", m.Mode)
			}
			vols = append(vols, volume{Name: vm.Name, EmptyDir: ed})
		case spec.MountVolume:
			if x.volumes == nil {
				x.volumes = map[string]bool{}
			}
			x.volumes[m.Source] = true
			name, ok := x.claimVols[m.Source]
			if ok {
				vm.Name = name
				break
			}
			vm.Name = x.namer.name(m.Source, "")
			x.claimVols[m.Source] = vm.Name
			vols = append(vols, volume{Name: vm.Name, PersistentVolumeClaim: &claimSource{ClaimName: x.claimName(m.Source)}})
		case spec.MountBind:
			vm.Name = x.namer.name(e.Name, fmt.Sprintf("-host-%d", i))
			hp := &hostPathVolumeSource{Path: m.Source}
			if m.Within != "" {
				// The kubelet keeps a subPath within its volume, as
				// nsup's plan keeps a subpath within its source.
				hp.Path, vm.SubPath = m.Within, strings.TrimPrefix(m.Source, strings.TrimSuffix(m.Within, "/")+"/")
			}
			if m.Create {
				hp.Type = "DirectoryOrCreate"
			}
			x.note(m.Pos, key, "translated: a hostPath volume of %s: the Pod runs only where that path exists (this host for podman kube play; on a cluster, each node), and most clusters' policies refuse hostPath", m.Source)
			if !m.Recursive {
				x.note(m.Pos, key+".recursive", "not carried: a hostPath volume is bound with what is mounted below it")
			}
			vols = append(vols, volume{Name: vm.Name, HostPath: hp})
		default:
			std := standardMounts[m.Type]
			if m.Target != std.target || m.Readonly != std.readonly {
				x.note(m.Pos, key, "not carried: a container has the %s of its runtime at %s only (read-only: %v), not at %s (read-only: %v)", m.Type, std.target, std.readonly, m.Target, m.Readonly)
			}
			continue
		}
		c.VolumeMounts = append(c.VolumeMounts, vm)
	}
	return vols
}

// seconds is d in whole seconds, at least 1, rounded up; exact says
// whether that is d.
func seconds(d time.Duration) (n int32, exact bool) {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	return int32(s), time.Duration(s)*time.Second == d
}

// probe: a healthcheck as a readinessProbe, whose semantics are nsup's
// (and compose's): not ready until a check passes, not ready again after
// retries failures in a row, never killed (a livenessProbe would kill the
// container, which an unhealthy process under nsup is not).
func (x *exporter) probe(h *spec.Healthcheck, key string, defined func(string) bool) *probe {
	interval, iok := seconds(h.Interval)
	timeout, tok := seconds(h.Timeout)
	pr := &probe{Exec: &execAction{Command: escapeAll(h.Command, defined)},
		InitialDelaySeconds: interval, PeriodSeconds: interval, TimeoutSeconds: timeout,
		SuccessThreshold: 1, FailureThreshold: int32(h.Retries)}
	x.note(h.Pos, key, "translated: a readinessProbe (the container is ready once a check passes, not ready after %d failures in a row, and never killed for it, as under nsup); podman kube play runs no readinessProbe", h.Retries)
	if !iok {
		x.note(h.Pos, key+".interval", "translated: probes run every whole second at the most often: %ds, not %s", interval, h.Interval)
	}
	if !tok {
		x.note(h.Pos, key+".timeout", "translated: a probe's timeout is whole seconds: %ds, not %s", timeout, h.Timeout)
	}
	if h.StartPeriod > 0 {
		x.note(h.Pos, key+".start_period", "not carried: a container is not ready before its first passing check whatever the failures, as nsup's starting; Kubernetes has no unhealthy state apart from not ready")
	}
	return pr
}

// processes notes the processes a container does not run: every one but
// the main process (and the main process's children), and nsup's init.
func (x *exporter) processes(e *spec.Environment) {
	key := envKey(e) + ".processes"
	var walk func(ps []*spec.Process, key string, from int)
	walk = func(ps []*spec.Process, key string, from int) {
		for i, p := range ps {
			k := fmt.Sprintf("%s[%d]", key, from+i)
			x.note(p.Pos, k, "not carried: a container runs one process: start %s from the main process, or make it an environment of its own (a container of the Pod)", p.Name)
			walk(p.Children, k+".children", 0)
		}
	}
	main := e.Process[0]
	for _, r := range main.Rlimits {
		x.note(r.Pos, key+"[0].rlimits."+r.Name, "not carried: Kubernetes sets no resource limit of a process (the container gets its runtime's)")
	}
	walk(main.Children, key+"[0].children", 0)
	walk(e.Process[1:], key, 1)
	if e.InitEnabled() {
		pos, how := e.ProcessesPos, "default true"
		if e.Init != nil {
			pos, how = e.Init.Pos, "true"
		}
		x.note(pos, envKey(e)+".init", "translated: a container has no init (%s here): the main process runs as PID 1, as with init: false, and must reap its orphans and handle SIGTERM itself (with shareProcessNamespace, the Pod's pause process is PID 1 and reaps them)", how)
	}
}

// network: the Pod's network is its owner's (the environments of a Pod
// share it): its published ports, name servers and /etc/hosts entries.
func (x *exporter) network(p *pod, g []*spec.Environment) {
	owner := g[0]
	if !p.Spec.HostNetwork {
		if n := owner.Net; n == nil || n.Network == spec.NetworkNone {
			pos, key := nsPos(owner, spec.NSNet)
			if n != nil {
				pos, key = n.NetworkPos, envKey(owner)+".net.network"
			}
			x.note(pos, key, "translated: loopback only under nsup; a Pod's network namespace is on the cluster's network (podman: its default network), with outbound traffic")
		}
	}
	var dnsFrom *spec.Environment
	for i, e := range g {
		n := e.Net
		if n == nil {
			continue
		}
		key := envKey(e) + ".net"
		if p.Spec.HostNetwork {
			x.note(n.Pos, key, "not carried: the Pod is on the host's network (its first environment has no network namespace of its own): no ports, name servers or hosts of its own")
			continue
		}
		for _, pt := range n.Ports {
			for k := 0; k <= int(pt.To-pt.From); k++ {
				cp := containerPort{ContainerPort: int32(pt.From) + int32(k), HostPort: int32(pt.HostFrom) + int32(k), Protocol: strings.ToUpper(pt.Proto)}
				if !pt.HostIP.IsUnspecified() {
					cp.HostIP = pt.HostIP.String()
				}
				p.Spec.Containers[i].Ports = append(p.Spec.Containers[i].Ports, cp)
			}
		}
		if h := n.HostLoopback; h != nil && h.Value {
			x.note(h.Pos, key+".host_loopback", "not carried: a Pod reaches the host's loopback only with hostNetwork")
		}
		if n.DNS != nil {
			var servers []string
			for _, a := range n.DNS {
				servers = append(servers, a.String())
			}
			if dnsFrom == nil {
				dnsFrom = e
				p.Spec.DNSPolicy = "None"
				p.Spec.DNSConfig = &podDNSConfig{Nameservers: servers}
			} else if !slices.Equal(servers, p.Spec.DNSConfig.Nameservers) {
				x.note(n.DNSPos, key+".dns", "not carried: a Pod has one resolv.conf for all its containers: %s's", dnsFrom.Name)
			}
		}
		for _, h := range n.Hosts {
			p.Spec.HostAliases = append(p.Spec.HostAliases, hostAlias{IP: h.Addr.String(), Hostnames: []string{h.Name}})
		}
	}
	// nsup's /etc/hosts names the environments that share a network on
	// 127.0.0.1 (planner/network.go): so does the Pod's.
	if len(g) > 1 && owner.Net != nil && !p.Spec.HostNetwork {
		var names []string
		for _, e := range g {
			names = append(names, e.Name)
		}
		p.Spec.HostAliases = append([]hostAlias{{IP: "127.0.0.1", Hostnames: names}}, p.Spec.HostAliases...)
	}
}
