package kube

// Import's containers: each one an environment.

import (
	"fmt"
	"math/big"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// secContext is a securityContext's values nsup has, with the nodes they
// were read from.
type secContext struct {
	runAsUser, runAsGroup *int64
	uidN, gidN            *yaml.Node
	uidAt, gidAt          string
	runAsNonRoot          bool
	nonRootN              *yaml.Node
	seccomp, localhost    string // seccompProfile's type and localhostProfile
	seccompN              *yaml.Node
	// The container's only.
	caps                   *obj
	capAdd, capDrop        []string
	capAddN, capDropN      *yaml.Node
	allowEscalation        *bool
	readOnlyRoot           bool
	privileged             bool
	privilegedN, procMount *yaml.Node
}

// secContext reads a securityContext (a Pod's when pod).
func (m *importer) secContext(o *obj, pod bool) *secContext {
	sc := &secContext{}
	if o == nil {
		return sc
	}
	if v, n := o.integer("runAsUser"); n != nil {
		sc.runAsUser, sc.uidN, sc.uidAt = &v, n, o.sub("runAsUser")
	}
	if v, n := o.integer("runAsGroup"); n != nil {
		sc.runAsGroup, sc.gidN, sc.gidAt = &v, n, o.sub("runAsGroup")
	}
	sc.runAsNonRoot, sc.nonRootN = o.boolean("runAsNonRoot")
	if sp := m.object(o.get("seccompProfile"), o.sub("seccompProfile")); sp != nil {
		sc.seccomp, sc.seccompN = sp.str("type")
		sc.localhost, _ = sp.str("localhostProfile")
		sp.rest(nil, notCarried)
	}
	msgs := map[string]string{
		"seLinuxOptions":           "not carried: nsup sets no SELinux label",
		"appArmorProfile":          "not carried: nsup sets no AppArmor profile",
		"windowsOptions":           "not carried: Windows only",
		"fsGroup":                  "not carried: nsup changes no volume's group, and gives the processes no supplementary group",
		"fsGroupChangePolicy":      "not carried: nsup changes no volume's group",
		"supplementalGroups":       "not carried: nsup gives the processes no supplementary group",
		"supplementalGroupsPolicy": "not carried: nsup gives the processes no supplementary group",
		"sysctls":                  "not carried: nsup sets no sysctl",
		"seLinuxChangePolicy":      "not carried: nsup sets no SELinux label",
	}
	if !pod {
		if c := m.object(o.get("capabilities"), o.sub("capabilities")); c != nil {
			sc.caps = c
			sc.capAdd, sc.capAddN = c.strings("add")
			sc.capDrop, sc.capDropN = c.strings("drop")
			c.rest(nil, notCarried)
		}
		if v, n := o.boolean("allowPrivilegeEscalation"); n != nil {
			sc.allowEscalation = &v
		}
		sc.readOnlyRoot, _ = o.boolean("readOnlyRootFilesystem")
		sc.privileged, sc.privilegedN = o.boolean("privileged")
		if pm, n := o.str("procMount"); n != nil && pm != "Default" {
			sc.procMount = n
		}
	}
	o.rest(msgs, notCarried)
	return sc
}

// container translates one container of Pod p into an environment.
func (m *importer) container(co *obj, p *podInfo, first bool) {
	at := co.at
	name, nameN := co.str("name")
	if nameN == nil {
		m.fail(co.n, at+".name", "a container needs a name")
		return
	}
	if !isDNSLabel(name) {
		m.fail(nameN, at+".name", "%q is not a container name: 1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit", name)
		return
	}
	envName := name
	if m.envNames[envName] {
		alt := p.name + "-" + name
		if !isDNSLabel(alt) || m.envNames[alt] {
			m.fail(nameN, at+".name", "container %s is already an environment, from another Pod: rename one", name)
			return
		}
		m.note(nameN, at+".name", "translated: environment %s, since another Pod's container is %s", alt, name)
		envName = alt
	}
	m.envNames[envName] = true
	e := &envOut{name: envName}
	if first {
		p.first = e
	}
	m.envs = append(m.envs, e)

	// The image: nsup runs a root filesystem, made from it by hand.
	image, imgN := co.str("image")
	tar := "rootfs/" + envName + ".tar"
	rootfs := mapping(false, "tar", str("./"+tar))
	e.rootfs = rootfs
	if imgN == nil {
		imgN, image = nameN, "IMAGE"
	}
	m.note(imgN, at+".image", "translated: nsup runs no image, but a root filesystem: make %s of %s first (ctr=$(podman create %s true) && podman export -o %s $ctr && podman rm $ctr); the image's config (ENTRYPOINT, CMD, ENV, WORKDIR, USER) is not in it, so the spec says what the manifest leaves to the image", tar, image, image, tar)

	p.namespaces(e, first)

	// The container's securityContext over the Pod's.
	sc := m.secContext(m.object(co.get("securityContext"), at+".securityContext"), false)
	pod := p.sc
	uid, gid, uidN, gidN, uidAt, gidAt := pod.runAsUser, pod.runAsGroup, pod.uidN, pod.gidN, pod.uidAt, pod.gidAt
	if sc.runAsUser != nil {
		uid, uidN, uidAt = sc.runAsUser, sc.uidN, sc.uidAt
	}
	if sc.runAsGroup != nil {
		gid, gidN, gidAt = sc.runAsGroup, sc.gidN, sc.gidAt
	}
	if !sc.readOnlyRoot {
		set(rootfs, "overlay", boolean(true))
	}
	if uid != nil || gid != nil {
		u, g := int64(0), int64(0)
		if uid != nil {
			u = *uid
		} else {
			m.note(gidN, gidAt, "translated: without runAsUser, the image's user: 0 written")
		}
		if gid != nil {
			g = *gid
		} else {
			m.note(uidN, uidAt, "translated: without runAsGroup, the runtime takes the group of uid %d from the image's /etc/passwd (0 if none there): 0 written", u)
		}
		at := uidN
		if at == nil {
			at = gidN
		}
		if u < 0 || u > 1<<32-1 || g < 0 || g > 1<<32-1 {
			m.fail(at, co.at+".securityContext", "ids must be from 0 to 4294967295")
		} else if u != 0 || g != 0 {
			e.user = str(fmt.Sprintf("%d:%d", u, g))
		}
	}
	nonRoot, nonRootN := sc.runAsNonRoot, sc.nonRootN
	if nonRootN == nil {
		nonRoot, nonRootN = pod.runAsNonRoot, pod.nonRootN
	}
	if nonRoot && (uid == nil || *uid == 0) {
		m.note(nonRootN, at+".securityContext.runAsNonRoot", "not carried: nsup checks no user: the environment's is root")
	}
	e.security = m.security(sc, pod, co, at)
	if first && !p.hostNetwork && sc.caps != nil {
		if keep := keptCaps(sc.capAdd, sc.capDrop); slices.Contains(keep, "CAP_NET_RAW") || slices.Contains(keep, "CAP_NET_ADMIN") {
			m.note(sc.caps.n, at+".securityContext.capabilities", "refused by nsup's planner as written: with NET_RAW or NET_ADMIN kept, network: user needs host_loopback: true (a raw packet reaches the host's loopback through pasta anyway), which lets the environment reach the host's local services: drop them, or say host_loopback: true in net")
		}
	}

	// Mounts: the container's /proc and /dev, its runtime's, then its
	// volumes.
	mounts := &yaml.Node{Kind: yaml.SequenceNode}
	mounts.Content = append(mounts.Content,
		mapping(true, "type", str("proc"), "target", str("/proc")),
		mapping(true, "type", str("dev"), "target", str("/dev")))
	m.volumeMounts(co, p, mounts)
	e.mounts = mounts

	// Variables, and the command with its $(VAR) expanded.
	vars, static := m.envVars(co)
	if len(vars.Content) > 0 {
		e.env = vars
	}
	lookup := func(k string) (string, bool) {
		v := mappingValue(vars, k)
		if v == nil {
			return "", false
		}
		return v.Value, true
	}
	argv := m.command(co, lookup, image)
	if wd, n := co.str("workingDir"); n != nil && wd != "/" {
		if !strings.HasPrefix(wd, "/") {
			m.fail(n, at+".workingDir", "must be an absolute path")
		}
		e.cwd = str(wd)
	}
	e.limits = m.limits(co, p, name)
	m.ports(co, p)

	proc := mapping(false, "name", str(processName(p.processes[name])), "command", command(argv))
	if r := restartNode(p.restart); r != nil {
		set(proc, "restart", r)
	}
	if g := graceNode(p.grace); g != nil {
		set(proc, "stop_timeout", g)
	}
	if h := m.probes(co, static); h != nil {
		set(proc, "healthcheck", h)
	}
	e.processes = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{proc}}

	co.rest(map[string]string{
		"imagePullPolicy":          "not carried: nsup pulls no image",
		"envFrom":                  "not carried: nsup reads no ConfigMap or Secret: write the variables in env",
		"lifecycle":                "not carried: nsup runs no postStart or preStop hook",
		"terminationMessagePath":   "not carried: nsup reports the main process's exit status",
		"terminationMessagePolicy": "not carried: nsup reports the main process's exit status",
		"stdin":                    "not carried: the environment gets nsup's stdin, or a terminal of its own when nsup's stdin is one",
		"stdinOnce":                "not carried: the environment gets nsup's stdin, or a terminal of its own when nsup's stdin is one",
		"tty":                      "not carried: the environment gets a terminal of its own when nsup's stdin is one",
		"volumeDevices":            "not carried: nsup makes no device node",
		"resizePolicy":             "not carried: nsup's limits are set when the environment starts",
		"restartPolicy":            "not carried: a container's own restart policy (a sidecar's); the Pod's is its main process's restart",
	}, notCarried)
}

// processName is the main process's name: export's, else "main".
func processName(n string) string {
	if n == "" {
		return "main"
	}
	return n
}

// security is the environment's security block: what differs from
// nsup's defaults.
func (m *importer) security(sc, pod *secContext, co *obj, at string) *yaml.Node {
	sec := &yaml.Node{Kind: yaml.MappingNode}
	if sc.caps != nil {
		caps := mapping(true)
		norm := func(list []string, n *yaml.Node, key string) []string {
			var out []string
			for _, c := range list {
				name := spec.CapabilityName(strings.ToUpper(c))
				if name == "" {
					m.note(n, key, "not carried: %q is not a capability nsup knows", c)
					continue
				}
				name = strings.TrimPrefix(name, "CAP_")
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
			return out
		}
		drop := norm(sc.capDrop, sc.capDropN, at+".securityContext.capabilities.drop")
		add := norm(sc.capAdd, sc.capAddN, at+".securityContext.capabilities.add")
		var kept []string
		for _, a := range add {
			if slices.Contains(drop, a) {
				m.note(sc.capAddN, at+".securityContext.capabilities.add", "translated: %s is dropped and added: nsup takes it dropped", a)
				continue
			}
			kept = append(kept, a)
		}
		if len(drop) > 0 {
			set(caps, "drop", strList(drop))
		}
		if len(kept) > 0 {
			set(caps, "add", strList(kept))
		}
		if len(drop) == 1 && drop[0] == "ALL" && sameSet(kept, trimCaps(planner.DefaultCapabilities)) {
			caps.Content = nil // nsup's default set, exactly
		}
		if !slices.Contains(drop, "ALL") && len(caps.Content) > 0 {
			m.note(sc.caps.n, at+".securityContext.capabilities", "translated: added to and dropped from nsup's default set (%s), not the runtime's (containerd's: Docker's 14, with MKNOD and NET_RAW; CRI-O's and podman's: 11): drop ALL and add the set to be exact", strings.Join(trimCaps(planner.DefaultCapabilities), " "))
		}
		if len(caps.Content) > 0 {
			set(sec, "capabilities", caps)
		}
		var more []string
		for _, a := range kept {
			if !slices.Contains(trimCaps(planner.DefaultCapabilities), a) {
				more = append(more, a)
			}
		}
		if len(more) > 0 {
			m.note(sc.caps.n, at+".securityContext.capabilities", "less confined: %s beyond nsup's default set", strings.Join(more, ", "))
		}
	}
	kind, localhost, n := sc.seccomp, sc.localhost, sc.seccompN
	if n == nil {
		kind, localhost, n = pod.seccomp, pod.localhost, pod.seccompN
	}
	switch kind {
	case "":
		m.note(co.n, at+".securityContext.seccompProfile", "translated: unset: Kubernetes runs the container unconfined (unless the kubelet's --seccomp-default), podman with its default profile; nsup's default profile (Docker's) is kept")
	case "RuntimeDefault":
	case "Unconfined":
		set(sec, "seccomp", str("unconfined"))
		m.note(n, at+".securityContext.seccompProfile", "less confined: no seccomp filter (seccomp: unconfined): every system call is allowed")
	case "Localhost":
		if localhost == "" || strings.HasPrefix(localhost, "/") || slices.Contains(strings.Split(localhost, "/"), "..") {
			m.fail(n, at+".securityContext.seccompProfile.localhostProfile", "must be a path relative to the kubelet's seccomp folder, without .., got %q", localhost)
			break
		}
		path := "/var/lib/kubelet/seccomp/" + localhost
		set(sec, "seccomp", str(path))
		m.note(n, at+".securityContext.seccompProfile", "translated: the node's file %s (nsup reads Docker's JSON format, or OCI's)", path)
	default:
		m.fail(n, at+".securityContext.seccompProfile.type", "must be RuntimeDefault, Unconfined or Localhost, got %q", kind)
	}
	if sc.procMount != nil {
		if sc.procMount.Value == "Unmasked" {
			set(sec, "masked_paths", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle})
			set(sec, "readonly_paths", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle})
			m.note(sc.procMount, at+".securityContext.procMount", "less confined: nothing of /proc and /sys masked or read-only (masked_paths: [], readonly_paths: [])")
		} else {
			m.fail(sc.procMount, at+".securityContext.procMount", "must be Default or Unmasked, got %q", sc.procMount.Value)
		}
	}
	if sc.allowEscalation == nil || *sc.allowEscalation {
		// Kubernetes' default: escalation allowed (no_new_privs unset).
		set(sec, "no_new_privileges", boolean(false))
		why := "unset, Kubernetes' default allows it"
		if sc.allowEscalation != nil {
			why = "true"
		}
		node, key := co.n, at+".securityContext"
		if co.get("securityContext") != nil {
			node, key = co.keyNode("securityContext"), key+".allowPrivilegeEscalation"
		}
		m.note(node, key, "less confined: no_new_privileges: false (allowPrivilegeEscalation %s): setuid programs and file capabilities gain privilege inside; allowPrivilegeEscalation: false keeps nsup's default", why)
	}
	if sc.privileged {
		m.note(sc.privilegedN, at+".securityContext.privileged", "not carried: nsup has no privileged mode; the nearest is capabilities {add: [ALL]}, seccomp: unconfined, masked_paths: [] and readonly_paths: [] (the host's devices are not given)")
	}
	if len(sec.Content) == 0 {
		return nil
	}
	return sec
}

// keptCaps is the set nsup keeps for a container's add and drop (on its
// default set, as the planner makes it).
func keptCaps(add, drop []string) []string {
	e := &spec.Environment{Security: &spec.Security{}}
	for _, l := range []struct {
		in  []string
		out *[]spec.String
	}{{add, &e.Security.CapAdd}, {drop, &e.Security.CapDrop}} {
		for _, c := range l.in {
			if n := spec.CapabilityName(strings.ToUpper(c)); n != "" {
				*l.out = append(*l.out, spec.String{Value: n})
			}
		}
	}
	return planner.Capabilities(e)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func trimCaps(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = strings.TrimPrefix(c, "CAP_")
	}
	return out
}

// envVars reads env: each value with its $(VAR) expanded from the
// variables before it (the kubelet's rule); static are the values as
// written, for exec probes (which the kubelet expands from them).
func (m *importer) envVars(co *obj) (*yaml.Node, map[string]string) {
	vars := &yaml.Node{Kind: yaml.MappingNode}
	static := map[string]string{}
	fromRef := map[string]bool{}
	for i, vn := range co.list("env") {
		at := fmt.Sprintf("%s.env[%d]", co.at, i)
		vo := m.object(vn, at)
		if vo == nil {
			continue
		}
		name, nameN := vo.str("name")
		if nameN == nil || name == "" || strings.Contains(name, "=") {
			m.fail(vn, at+".name", "a variable needs a name without =")
			continue
		}
		if vf := vo.get("valueFrom"); vf != nil {
			m.note(vf, at+".valueFrom", "not carried: nsup reads no ConfigMap, Secret or field of the Pod: write %s's value in env", name)
			fromRef[name] = true
			vo.rest(nil, notCarried)
			continue
		}
		val, _ := vo.str("value")
		static[name] = val
		lookup := func(k string) (string, bool) {
			v := mappingValue(vars, k)
			if v == nil {
				return "", false
			}
			return v.Value, true
		}
		out, refs := expand(val, lookup)
		for _, r := range refs {
			if _, ok := lookup(r); ok {
				continue
			}
			if fromRef[r] {
				m.note(vo.keyNode("value"), at+".value", "translated: $(%s) kept as written: %s's value comes from valueFrom, which is not carried", r, r)
			} else {
				m.note(vo.keyNode("value"), at+".value", "translated: $(%s) kept as written, as the kubelet keeps a reference to a variable not defined before it", r)
			}
		}
		if v := mappingValue(vars, name); v != nil {
			m.note(nameN, at+".name", "translated: %s is set twice: the last value is kept", name)
			v.Value = out
		} else {
			set(vars, name, str(out))
		}
		vo.rest(nil, notCarried)
	}
	// PATH first with nsup's default is what nsup adds by itself.
	if len(vars.Content) >= 2 && vars.Content[0].Value == "PATH" && vars.Content[1].Value == planner.DefaultPath {
		vars.Content = vars.Content[2:]
	}
	return vars, static
}

// command is the main process's argv: command and args, with $(VAR)
// expanded as the kubelet does.
func (m *importer) command(co *obj, lookup func(string) (string, bool), image string) []string {
	cmd, cmdN := co.strings("command")
	args, argsN := co.strings("args")
	var argv []string
	for _, list := range []struct {
		items []string
		n     *yaml.Node
		key   string
	}{{cmd, cmdN, co.at + ".command"}, {args, argsN, co.at + ".args"}} {
		for _, a := range list.items {
			out, refs := expand(a, lookup)
			for _, r := range refs {
				if _, ok := lookup(r); !ok {
					m.note(list.n, list.key, "translated: $(%s) kept as written, as the kubelet keeps a reference to a variable the container has not (or whose value comes from valueFrom, which is not carried)", r)
				}
			}
			argv = append(argv, out)
		}
	}
	if len(argv) > 0 && argv[0] == "" {
		at, key := cmdN, co.at+".command[0]"
		if len(cmd) == 0 {
			at, key = argsN, co.at+".args[0]"
		}
		m.fail(at, key, "the program to run must not be empty")
	}
	switch {
	case len(cmd) == 0 && len(args) > 0:
		m.note(argsN, co.at+".args", "translated: args without command are the arguments of the image's ENTRYPOINT, which the manifest does not say: taken as the whole command; put the ENTRYPOINT before them")
	case len(argv) == 0:
		at := co.keyNode("name")
		m.note(at, co.at+".command", "translated: no command: the image's ENTRYPOINT and CMD, which the manifest does not say: the spec's command is a stand-in that fails; write the image's")
		argv = []string{"/bin/sh", "-c", "echo 'nsup import: the command of " + strings.ReplaceAll(image, "'", "") + " is its ENTRYPOINT and CMD: write it in processes[0].command' >&2; exit 1"}
	}
	return argv
}

// limits reads resources: memory and cpu limits, and podman's pids limit.
func (m *importer) limits(co *obj, p *podInfo, container string) *yaml.Node {
	lim := mapping(true)
	res := m.object(co.get("resources"), co.at+".resources")
	if res != nil {
		l := m.object(res.get("limits"), co.at+".resources.limits")
		if l != nil {
			if s, n := l.str("memory"); n != nil {
				if q, err := parseQuantity(s); err != nil {
					m.fail(n, l.sub("memory"), "%v", err)
				} else if b, ok := ceilInt(q); !ok || b < spec.MinMemory {
					m.note(n, l.sub("memory"), "not carried: nsup's memory limit is at least 6M, not %s", s)
				} else {
					set(lim, "memory", sizeNode(b))
				}
			}
			if s, n := l.str("cpu"); n != nil {
				if q, err := parseQuantity(s); err != nil {
					m.fail(n, l.sub("cpu"), "%v", err)
				} else {
					// Hundredths of a CPU, rounded up (nsup's cpu has
					// two decimals at most), 0.01 at least.
					h, ok := ceilInt(new(big.Rat).Mul(q, big.NewRat(100, 1)))
					if ok && h > 0 {
						if new(big.Rat).SetFrac64(h, 100).Cmp(q) != 0 {
							m.note(n, l.sub("cpu"), "translated: nsup's cpu is in hundredths of a CPU: %s", hundredths(h))
						}
						tag := "!!float"
						if h%100 == 0 {
							tag = "!!int"
						}
						set(lim, "cpu", &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: hundredths(h)})
					} else {
						m.note(n, l.sub("cpu"), "not carried: %s is no CPU time", s)
					}
				}
			}
			l.rest(nil, "not carried: nsup limits memory, cpu and pids")
		}
		res.rest(map[string]string{
			"requests": "not carried: nsup reserves nothing: its limits are the cgroup's maxima",
		}, notCarried)
	}
	if n := p.pids[container]; n != nil {
		switch v, err := strconv.ParseInt(n.Value, 10, 64); {
		case err != nil:
			m.note(n, "metadata.annotations."+podmanPidsLimit+container, "not carried: %q is not a number", n.Value)
		case v <= 0:
			set(lim, "pids", str("unlimited"))
		case v < spec.MinPids:
			m.note(n, "metadata.annotations."+podmanPidsLimit+container, "translated: nsup's pids limit is at least %d (its init and threads count): %d", spec.MinPids, spec.MinPids)
			set(lim, "pids", integer(spec.MinPids))
		default:
			set(lim, "pids", integer(v))
		}
	}
	if len(lim.Content) == 0 {
		return nil
	}
	return lim
}

// sizeNode is a size of bytes for the spec: with its suffix, or an
// integer.
func sizeNode(b int64) *yaml.Node {
	s := nsupSize(b)
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return integer(b)
	}
	return str(s)
}

func hundredths(h int64) string {
	s := fmt.Sprintf("%d.%02d", h/100, h%100)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// ports reads the container's ports: those published on the host
// (hostPort) become the Pod's network's.
func (m *importer) ports(co *obj, p *podInfo) {
	for i, pn := range co.list("ports") {
		at := fmt.Sprintf("%s.ports[%d]", co.at, i)
		po := m.object(pn, at)
		if po == nil {
			continue
		}
		cport, cn := po.integer("containerPort")
		hport, hn := po.integer("hostPort")
		hostIP, ipN := po.str("hostIP")
		proto, protoN := po.str("protocol")
		po.rest(map[string]string{"name": "not carried: nsup's ports have no names"}, notCarried)
		if cn == nil || cport < 1 || cport > 65535 {
			m.fail(pn, at+".containerPort", "must be a port, 1 to 65535")
			continue
		}
		switch proto {
		case "", "TCP":
			proto = "tcp"
		case "UDP":
			proto = "udp"
		default:
			m.note(protoN, at+".protocol", "not carried: nsup publishes TCP and UDP ports only, not %s", proto)
			continue
		}
		if p.hostNetwork {
			p.hostPorts = true // the Pod's note says why they need nothing
			continue
		}
		if hn == nil || hport == 0 {
			m.note(pn, at, "not carried: a containerPort without hostPort publishes nothing (it documents the port)")
			continue
		}
		if hport < 1 || hport > 65535 {
			m.fail(hn, at+".hostPort", "must be a port, 1 to 65535")
			continue
		}
		host := "0.0.0.0"
		if ipN != nil {
			a, err := netip.ParseAddr(hostIP)
			if err != nil {
				m.fail(ipN, at+".hostIP", "must be an address, got %q", hostIP)
				continue
			}
			host = a.String()
			if a.Is6() {
				host = "[" + host + "]"
			}
		} else {
			m.note(hn, at+".hostPort", "translated: published on every address of the host (0.0.0.0), as Kubernetes does without hostIP; nsup's default would be 127.0.0.1")
		}
		if p.ports == nil {
			p.ports = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		}
		p.ports.Content = append(p.ports.Content, str(fmt.Sprintf("%s:%d:%d/%s", host, hport, cport, proto)))
	}
}

// volumeMounts reads the container's volume mounts into mounts.
func (m *importer) volumeMounts(co *obj, p *podInfo, mounts *yaml.Node) {
	for i, vn := range co.list("volumeMounts") {
		at := fmt.Sprintf("%s.volumeMounts[%d]", co.at, i)
		vo := m.object(vn, at)
		if vo == nil {
			continue
		}
		name, _ := vo.str("name")
		target, tn := vo.str("mountPath")
		ro, _ := vo.boolean("readOnly")
		sub, subN := vo.str("subPath")
		vo.rest(map[string]string{
			"subPathExpr":       "not carried: nsup expands no variable in a mount",
			"mountPropagation":  "not carried: every mount of an nsup environment is private",
			"recursiveReadOnly": "not carried: nsup's read-only mounts are made read-only as mount(2) makes them",
		}, notCarried)
		if tn == nil || !strings.HasPrefix(target, "/") {
			m.fail(vn, at+".mountPath", "must be an absolute path")
			continue
		}
		if path.Clean(target) == "/" {
			m.note(tn, at+".mountPath", "not carried: nsup mounts nothing over the root (the rootfs)")
			continue
		}
		v := p.volumes[name]
		if v == nil {
			m.fail(vn, at+".name", "no volume %q in the Pod's volumes", name)
			continue
		}
		v.used = true
		if v.kind == "" {
			m.note(vn, at, "not carried: its volume is of a kind nsup has not")
			continue
		}
		source := v.source
		if subN != nil && sub != "" {
			clean := path.Clean(sub)
			switch {
			case path.IsAbs(sub) || clean == ".." || strings.HasPrefix(clean, "../"):
				m.fail(subN, at+".subPath", "must be a relative path inside the volume")
				continue
			case v.kind != "bind":
				m.note(subN, at+".subPath", "not carried: nsup mounts a whole tmpfs or volume, not a folder of it: mount left out")
				continue
			}
			source = path.Join(source, clean)
		}
		mt := mapping(true, "type", str(v.kind), "target", str(target))
		switch v.kind {
		case "tmpfs":
			if v.size > 0 {
				set(mt, "size", sizeNode(v.size))
			}
		case "volume":
			set(mt, "source", str(source))
		case "bind":
			set(mt, "source", str(source))
			if v.create {
				set(mt, "create", boolean(true))
			}
		}
		if ro || v.readonly {
			set(mt, "readonly", boolean(true))
		}
		mounts.Content = append(mounts.Content, mt)
	}
}

// probes reads the container's probes: an exec readinessProbe (else an
// exec livenessProbe) is the main process's healthcheck.
func (m *importer) probes(co *obj, static map[string]string) *yaml.Node {
	readiness, liveness := co.get("readinessProbe"), co.get("livenessProbe")
	if s := co.get("startupProbe"); s != nil && !empty(s) {
		m.note(s, co.at+".startupProbe", "not carried: nsup's healthcheck has a start_period, not a check of its own for the start")
	}
	var h *yaml.Node
	if readiness != nil && !empty(readiness) {
		h = m.probe(readiness, co.at+".readinessProbe", static)
	}
	if liveness != nil && !empty(liveness) {
		if h != nil {
			m.note(liveness, co.at+".livenessProbe", "not carried: nsup's healthcheck is the readinessProbe, and nsup restarts no process for failing it")
		} else {
			h = m.probe(liveness, co.at+".livenessProbe", static)
			if h != nil {
				m.note(liveness, co.at+".livenessProbe", "translated: a healthcheck, whose failures make the process unhealthy: nsup does not restart it (Kubernetes kills the container)")
			}
		}
	}
	return h
}

// probe is one exec probe as a healthcheck, nil for another kind.
func (m *importer) probe(n *yaml.Node, at string, static map[string]string) *yaml.Node {
	po := m.object(n, at)
	if po == nil {
		return nil
	}
	ex := m.object(po.get("exec"), at+".exec")
	if ex == nil {
		po.rest(nil, "not carried: nsup's healthcheck runs a command (exec)")
		return nil
	}
	argv, _ := ex.strings("command")
	ex.rest(nil, notCarried)
	if len(argv) == 0 || argv[0] == "" {
		m.fail(ex.n, at+".exec.command", "an exec probe needs a command, its program not empty")
		return nil
	}
	lookup := func(k string) (string, bool) { v, ok := static[k]; return v, ok }
	var cmd []string
	for _, a := range argv {
		out, _ := expand(a, lookup)
		cmd = append(cmd, out)
	}
	period, timeout, failures, success, delay := int64(10), int64(1), int64(3), int64(1), int64(0)
	read := func(k string, v *int64, min int64) {
		if x, xn := po.integer(k); xn != nil {
			if x < min {
				m.fail(xn, at+"."+k, "must be at least %d", min)
				return
			}
			*v = x
		}
	}
	read("periodSeconds", &period, 1)
	read("timeoutSeconds", &timeout, 1)
	read("failureThreshold", &failures, 1)
	read("successThreshold", &success, 1)
	read("initialDelaySeconds", &delay, 0)
	po.rest(map[string]string{
		"terminationGracePeriodSeconds": "not carried: nsup kills no process for failing its healthcheck",
	}, notCarried)
	if success > 1 {
		m.note(po.keyNode("successThreshold"), at+".successThreshold", "not carried: one passing check makes the process healthy under nsup, not %d", success)
	}
	if delay != period {
		m.note(po.keyNode("initialDelaySeconds"), at+".initialDelaySeconds", "translated: nsup's first check comes one interval (%ds) after the start, not %ds", period, delay)
	}
	if failures > 1000 {
		m.note(po.keyNode("failureThreshold"), at+".failureThreshold", "translated: nsup's retries are 1000 at most")
		failures = 1000
	}
	h := mapping(false, "command", command(cmd), "interval", str(fmt.Sprintf("%ds", period)), "timeout", str(fmt.Sprintf("%ds", timeout)))
	if failures != int64(spec.DefaultHealthRetries) {
		set(h, "retries", integer(failures))
	}
	return h
}
