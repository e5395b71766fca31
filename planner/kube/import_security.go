package kube

// Import's containers: their security context and its capabilities.

import (
	"slices"
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
