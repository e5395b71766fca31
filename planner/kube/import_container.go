package kube

// Import's containers: each one an environment.

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

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
	} else if !imageReference(image) {
		// The note below is a shell command to copy: a name such as
		// alpine$(id>/tmp/x) would run in the reader's shell (a review).
		m.fail(imgN, at+".image", "%q is not an image reference: letters, digits and . _ - / : @ only", image)
		image = "IMAGE"
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

// imageReference says whether s has only the characters of an image
// reference (registry/name:tag@digest), none a shell would act on.
func imageReference(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-/:@", r):
		default:
			return false
		}
	}
	return true
}
