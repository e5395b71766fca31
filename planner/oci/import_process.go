package oci

// Import's process: its environment variables, resource limits, what is dropped.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// env is the environment's variables, in order. PATH first with nsup's
// default is what nsup adds by itself: left out.
func (m *importer) env(vars []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	seen := map[string]bool{}
	for i, kv := range vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			m.note(fmt.Sprintf("process.env[%d]", i), "%q is not NAME=VALUE: dropped", kv)
			continue
		}
		if i == 0 && k == "PATH" && v == planner.DefaultPath {
			continue
		}
		if seen[k] {
			m.note(fmt.Sprintf("process.env[%d]", i), "%s set twice: the last value is kept", k)
			for j := 0; j < len(n.Content); j += 2 {
				if n.Content[j].Value == k {
					n.Content[j+1] = str(v)
				}
			}
			continue
		}
		seen[k] = true
		set(n, k, str(v))
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

// process notes what of process nsup does its own way.
func (m *importer) process() {
	p := m.c.Process
	if p.Terminal {
		m.note("process.terminal", "not from the config under nsup: the environment gets a terminal of its own when nsup's stdin is one, else nsup's stdin, stdout and stderr")
	}
	if p.ConsoleSize != nil {
		m.note("process.consoleSize", "no console of its own under nsup: dropped")
	}
	if len(p.User.AdditionalGids) > 0 {
		m.note("process.user.additionalGids", "nsup sets no supplementary groups: dropped")
	}
	if p.User.Umask != nil {
		m.note("process.user.umask", "nsup keeps the umask it was started with: dropped")
	}
	if p.User.Username != "" {
		m.note("process.user.username", "nsup takes numeric ids only: dropped")
	}
	if p.CommandLine != "" {
		m.note("process.commandLine", "Windows only: dropped")
	}
	for _, f := range []struct {
		key string
		set bool
	}{
		{"process.apparmorProfile", p.ApparmorProfile != ""}, {"process.selinuxLabel", p.SelinuxLabel != ""},
		{"process.oomScoreAdj", p.OOMScoreAdj != nil}, {"process.scheduler", p.Scheduler != nil},
		{"process.ioPriority", p.IOPriority != nil}, {"process.execCPUAffinity", p.ExecCPUAffinity != nil},
	} {
		if f.set {
			m.note(f.key, "not supported by nsup: dropped")
		}
	}
}

// rlimits is the environment's `rlimits`, by resource name; nil when the
// config sets none but nsup's defaults: RLIMIT_NOFILE (soft
// planner.DefaultNofile, hard nsup's own), and those of
// planner.UserCountLimits (half of nsup's own).
func (m *importer) rlimits() *yaml.Node {
	hard := planner.RlimInfinity
	if c := m.opts.Caller; c != nil {
		if h, ok := c.HardLimits["nofile"]; ok {
			hard = h
		}
	}
	byName := map[string]specs.POSIXRlimit{}
	for i, r := range m.c.Process.Rlimits {
		key := fmt.Sprintf("process.rlimits[%d]", i)
		name := strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))
		if _, ok := planner.ResourceByName(name); !ok || !strings.HasPrefix(r.Type, "RLIMIT_") || !slices.Contains(spec.RlimitNames, name) {
			m.note(key, "%q is not a resource nsup knows (%s): dropped", r.Type, strings.Join(spec.RlimitNames, ", "))
			continue
		}
		if r.Soft > r.Hard {
			m.note(key, "%s: soft limit %d above the hard limit %d: dropped", r.Type, r.Soft, r.Hard)
			continue
		}
		if _, dup := byName[name]; dup {
			m.note(key, "%s set twice: the last is kept", r.Type)
		}
		byName[name] = r
	}
	if r, ok := byName["nofile"]; ok && r.Hard == hard && r.Soft == min(planner.DefaultNofile, hard) {
		delete(byName, "nofile") // nsup's default
	}
	for _, name := range planner.UserCountLimits {
		// nsup's default: half of its own hard limit, soft and hard.
		if c := m.opts.Caller; c != nil {
			if h, ok := c.HardLimits[name]; ok && h != planner.RlimInfinity && byName[name] == (specs.POSIXRlimit{Type: byName[name].Type, Soft: h / 2, Hard: h / 2}) {
				delete(byName, name)
			}
		}
	}
	if len(byName) == 0 {
		return nil
	}
	n := mapping(true)
	for _, name := range spec.RlimitNames {
		if r, ok := byName[name]; ok {
			set(n, name, limitValue(r.Soft, r.Hard))
		}
	}
	return n
}

// limitValue writes a limit as `rlimits` takes it: one number for both,
// or "SOFT:HARD"; unlimited for RLIM_INFINITY.
func limitValue(soft, hard uint64) *yaml.Node {
	word := func(v uint64) string {
		if v == planner.RlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	switch {
	case soft == hard && soft <= math.MaxInt64:
		return integer(soft)
	case soft == hard:
		return str(word(soft))
	}
	return str(word(soft) + ":" + word(hard))
}
