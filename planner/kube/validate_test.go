package kube

// Every manifest Export writes is decoded strictly into k8s.io/api's own
// types (an unknown or misplaced field, a wrong type or a bad quantity
// fails), then checked for what a schema cannot say, with apimachinery's
// validators where it has them (the API server's checks, in
// k8s.io/kubernetes, are not a module one can import). Tests only: the
// package itself must not import k8s.io (cmd/nsup TestStartDeps).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nsup/nsup/spec"
)

// splitDocs decodes every YAML document of y as plain values.
func splitDocs(y []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(y))
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, v)
	}
}

// strict decodes v (a YAML document) through JSON into out, refusing
// unknown fields, as the API server's strict field validation does.
func strict(v any, out any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// validateManifest decodes and checks every document of y, failing t
// for each problem; it returns the Pods and claims.
func validateManifest(t *testing.T, y []byte) ([]*corev1.Pod, []*corev1.PersistentVolumeClaim) {
	t.Helper()
	pods, claims, errs := manifestErrors(y)
	for _, e := range errs {
		t.Error(e)
	}
	return pods, claims
}

// manifestErrors decodes and checks every document of y.
func manifestErrors(y []byte) ([]*corev1.Pod, []*corev1.PersistentVolumeClaim, []string) {
	var pods []*corev1.Pod
	var claims []*corev1.PersistentVolumeClaim
	var errs []string
	docs, err := splitDocs(y)
	if err != nil {
		return nil, nil, []string{"not YAML: " + err.Error()}
	}
	for i, d := range docs {
		m, _ := d.(map[string]any)
		switch m["kind"] {
		case "Pod":
			var p corev1.Pod
			if err := strict(d, &p); err != nil {
				errs = append(errs, fmt.Sprintf("document %d: not a core/v1 Pod: %v", i+1, err))
				continue
			}
			for _, e := range validatePod(&p) {
				errs = append(errs, fmt.Sprintf("document %d: Pod %s: %s", i+1, p.Name, e))
			}
			pods = append(pods, &p)
		case "PersistentVolumeClaim":
			var c corev1.PersistentVolumeClaim
			if err := strict(d, &c); err != nil {
				errs = append(errs, fmt.Sprintf("document %d: not a core/v1 PersistentVolumeClaim: %v", i+1, err))
				continue
			}
			for _, e := range validateClaim(&c) {
				errs = append(errs, fmt.Sprintf("document %d: claim %s: %s", i+1, c.Name, e))
			}
			claims = append(claims, &c)
		default:
			errs = append(errs, fmt.Sprintf("document %d: kind %v", i+1, m["kind"]))
		}
	}
	return pods, claims, errs
}

func validateMeta(m metaLike) []string {
	var errs []string
	for _, e := range validation.IsDNS1123Subdomain(m.name) {
		errs = append(errs, "metadata.name: "+e)
	}
	for k, v := range m.labels {
		for _, e := range validation.IsQualifiedName(k) {
			errs = append(errs, "label "+k+": "+e)
		}
		for _, e := range validation.IsValidLabelValue(v) {
			errs = append(errs, "label "+k+": "+e)
		}
	}
	for k := range m.annotations {
		for _, e := range validation.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, "annotation "+k+": "+e)
		}
	}
	return errs
}

type metaLike struct {
	name                string
	labels, annotations map[string]string
}

func validateClaim(c *corev1.PersistentVolumeClaim) []string {
	errs := validateMeta(metaLike{c.Name, c.Labels, c.Annotations})
	if c.APIVersion != "v1" {
		errs = append(errs, "apiVersion "+c.APIVersion)
	}
	if len(c.Spec.AccessModes) == 0 {
		errs = append(errs, "spec.accessModes: required")
	}
	q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || q.Sign() <= 0 {
		errs = append(errs, "spec.resources.requests.storage: required, positive")
	}
	return errs
}

// validatePod checks what strict decoding cannot: names, references,
// ranges, and the API server's rules among fields.
func validatePod(p *corev1.Pod) []string {
	errs := validateMeta(metaLike{p.Name, p.Labels, p.Annotations})
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	s := p.Spec
	if p.APIVersion != "v1" {
		add("apiVersion %q", p.APIVersion)
	}
	if len(s.Containers) == 0 {
		add("spec.containers: required")
	}
	switch s.RestartPolicy {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
	default:
		add("spec.restartPolicy %q", s.RestartPolicy)
	}
	if s.Hostname != "" {
		for _, e := range validation.IsDNS1123Label(s.Hostname) {
			add("spec.hostname: %s", e)
		}
	}
	if s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds < 0 {
		add("spec.terminationGracePeriodSeconds: negative")
	}
	if s.ShareProcessNamespace != nil && *s.ShareProcessNamespace && s.HostPID {
		add("spec: shareProcessNamespace and hostPID cannot both be set")
	}
	if s.HostUsers != nil && !*s.HostUsers && (s.HostNetwork || s.HostPID || s.HostIPC) {
		add("spec.hostUsers: false is refused with hostNetwork, hostPID or hostIPC")
	}
	if s.DNSPolicy == corev1.DNSNone && (s.DNSConfig == nil || len(s.DNSConfig.Nameservers) == 0) {
		add("spec.dnsConfig: dnsPolicy None needs a name server")
	}
	if c := s.DNSConfig; c != nil && len(c.Nameservers) > 3 {
		add("spec.dnsConfig.nameservers: 3 at most")
	}
	for i, a := range s.HostAliases {
		for _, e := range validation.IsValidIP(nil, a.IP) {
			add("spec.hostAliases[%d].ip: %s", i, e.Detail)
		}
		if len(a.Hostnames) == 0 {
			add("spec.hostAliases[%d].hostnames: required", i)
		}
	}
	vols := map[string]bool{}
	for i, v := range s.Volumes {
		for _, e := range validation.IsDNS1123Label(v.Name) {
			add("spec.volumes[%d].name: %s", i, e)
		}
		if vols[v.Name] {
			add("spec.volumes[%d].name %s: declared twice", i, v.Name)
		}
		vols[v.Name] = true
		n := 0
		if v.EmptyDir != nil {
			n++
		}
		if v.HostPath != nil {
			n++
			if !path.IsAbs(v.HostPath.Path) {
				add("spec.volumes[%d].hostPath.path: not absolute", i)
			}
		}
		if v.PersistentVolumeClaim != nil {
			n++
			for _, e := range validation.IsDNS1123Subdomain(v.PersistentVolumeClaim.ClaimName) {
				add("spec.volumes[%d].persistentVolumeClaim.claimName: %s", i, e)
			}
		}
		if n != 1 {
			add("spec.volumes[%d]: %d sources, want 1", i, n)
		}
	}
	names := map[string]bool{}
	hostPorts := map[string]bool{}
	for i, c := range s.Containers {
		at := fmt.Sprintf("spec.containers[%d]", i)
		for _, e := range validation.IsDNS1123Label(c.Name) {
			add("%s.name: %s", at, e)
		}
		if names[c.Name] {
			add("%s.name %s: not unique", at, c.Name)
		}
		names[c.Name] = true
		if c.Image == "" {
			add("%s.image: required", at)
		}
		switch c.ImagePullPolicy {
		case corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent:
		default:
			add("%s.imagePullPolicy %q", at, c.ImagePullPolicy)
		}
		if len(c.Command) == 0 || c.Command[0] == "" {
			add("%s.command: empty", at)
		}
		if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
			add("%s.workingDir: not absolute", at)
		}
		for j, e := range c.Env {
			if len(validation.IsEnvVarName(e.Name)) > 0 {
				add("%s.env[%d].name %q", at, j, e.Name)
			}
		}
		for j, pt := range c.Ports {
			for _, e := range validation.IsValidPortNum(int(pt.ContainerPort)) {
				add("%s.ports[%d].containerPort: %s", at, j, e)
			}
			if pt.HostPort != 0 {
				for _, e := range validation.IsValidPortNum(int(pt.HostPort)) {
					add("%s.ports[%d].hostPort: %s", at, j, e)
				}
				k := fmt.Sprintf("%s/%d/%s", pt.HostIP, pt.HostPort, pt.Protocol)
				if hostPorts[k] {
					add("%s.ports[%d]: host port %s used twice", at, j, k)
				}
				hostPorts[k] = true
			}
			if pt.HostIP != "" {
				for _, e := range validation.IsValidIP(nil, pt.HostIP) {
					add("%s.ports[%d].hostIP: %s", at, j, e.Detail)
				}
			}
			switch pt.Protocol {
			case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			default:
				add("%s.ports[%d].protocol %q", at, j, pt.Protocol)
			}
		}
		for r, q := range c.Resources.Requests {
			if l, ok := c.Resources.Limits[r]; ok && q.Cmp(l) > 0 {
				add("%s.resources.requests.%s above its limit", at, r)
			}
		}
		for r, q := range c.Resources.Limits {
			if q.Sign() <= 0 {
				add("%s.resources.limits.%s: not positive", at, r)
			}
		}
		paths := map[string]bool{}
		for j, m := range c.VolumeMounts {
			if !vols[m.Name] {
				add("%s.volumeMounts[%d]: no volume %s", at, j, m.Name)
			}
			if !path.IsAbs(m.MountPath) {
				add("%s.volumeMounts[%d].mountPath: not absolute", at, j)
			}
			if paths[m.MountPath] {
				add("%s.volumeMounts[%d].mountPath %s: twice", at, j, m.MountPath)
			}
			paths[m.MountPath] = true
		}
		for name, pr := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe, "startupProbe": c.StartupProbe} {
			if pr == nil {
				continue
			}
			if pr.Exec == nil || len(pr.Exec.Command) == 0 || pr.HTTPGet != nil || pr.TCPSocket != nil || pr.GRPC != nil {
				add("%s.%s: one exec handler with a command", at, name)
			}
			if pr.PeriodSeconds < 1 || pr.TimeoutSeconds < 1 || pr.FailureThreshold < 1 || pr.SuccessThreshold < 1 || pr.InitialDelaySeconds < 0 {
				add("%s.%s: out of range (%+v)", at, name, *pr)
			}
			if name != "readinessProbe" && pr.SuccessThreshold != 1 {
				add("%s.%s.successThreshold: must be 1", at, name)
			}
		}
		if sc := c.SecurityContext; sc != nil {
			if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
				if sc.Privileged != nil && *sc.Privileged {
					add("%s.securityContext: allowPrivilegeEscalation false with privileged", at)
				}
				if sc.Capabilities != nil && slices.Contains(sc.Capabilities.Add, "SYS_ADMIN") {
					add("%s.securityContext: allowPrivilegeEscalation false with SYS_ADMIN", at)
				}
			}
			if cp := sc.Capabilities; cp != nil {
				for _, list := range [][]corev1.Capability{cp.Add, cp.Drop} {
					for _, c := range list {
						if c != "ALL" && spec.CapabilityName(string(c)) == "" {
							add("%s.securityContext.capabilities: %q is no capability", at, c)
						}
					}
				}
			}
			if sp := sc.SeccompProfile; sp != nil {
				switch sp.Type {
				case corev1.SeccompProfileTypeLocalhost:
					if sp.LocalhostProfile == nil || *sp.LocalhostProfile == "" {
						add("%s.securityContext.seccompProfile: Localhost needs localhostProfile", at)
					}
				case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
					if sp.LocalhostProfile != nil {
						add("%s.securityContext.seccompProfile: localhostProfile with type %s", at, sp.Type)
					}
				default:
					add("%s.securityContext.seccompProfile.type %q", at, sp.Type)
				}
			}
			for _, id := range []*int64{sc.RunAsUser, sc.RunAsGroup} {
				if id != nil && (*id < 0 || *id > 1<<31-1) {
					add("%s.securityContext: id %d out of range", at, *id)
				}
			}
		}
	}
	return errs
}

// quantity parses s as apimachinery does, for the quantity tests.
func quantity(s string) (resource.Quantity, error) { return resource.ParseQuantity(s) }

// TestValidatorRefuses: the checks above catch what they are for (each
// manifest here is pod.yaml's export with one mistake).
func TestValidatorRefuses(t *testing.T) {
	good, _, err := Export(parse(t, "examples/pod.yaml"), nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, errs := manifestErrors(good); len(errs) > 0 {
		t.Fatalf("pod.yaml's export: %v", errs)
	}
	for _, c := range []struct{ old, new, want string }{
		{"imagePullPolicy:", "imagePulPolicy:", "unknown field"},
		{"readOnlyRootFilesystem: true", "readOnlyRootFilesystem: \"yes\"", "cannot unmarshal"},
		{"sizeLimit: 1Mi", "sizeLimit: 1MB", "quantities must match"},
		{"- name: web\n", "- name: db\n", "not unique"},
		{"- name: web\n", "- name: Web\n", "RFC 1123"},
		{"- name: web-tmpfs-1\n          mountPath", "- name: elsewhere\n          mountPath", "no volume elsewhere"},
		{"image: localhost/nsup/examples/web:latest", "image: \"\"", "image: required"},
		{"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n        privileged: true", "allowPrivilegeEscalation false with privileged"},
		{"restartPolicy: Never", "restartPolicy: Sometimes", "restartPolicy"},
		{"hostname: db", "hostname: db.example", "spec.hostname"},
		{"            - SETFCAP", "            - SETFCAP\n            - NOT_A_CAP", "no capability"},
		{"  containers:\n", "  shareProcessNamespace: true\n  hostPID: true\n  containers:\n", "shareProcessNamespace and hostPID"},
	} {
		bad := strings.Replace(string(good), c.old, c.new, 1)
		if bad == string(good) {
			t.Fatalf("%q is not in pod.yaml's export", c.old)
		}
		_, _, errs := manifestErrors([]byte(bad))
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("%q -> %q: errors %q, want one with %q", c.old, c.new, errs, c.want)
		}
	}
}
