package spec

// Where each key belongs: the keys of each level of a spec, and what to say about a key written at the wrong level (a dedented `mounts:` read as an environment's name).

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

var topKeys = []string{"version", "name", "volumes", "environments"}

var processKeys = []string{"name", "command", "env", "cwd", "user", "stop_timeout", "rlimits", "restart", "healthcheck", "children"}

var rootfsKeys = []string{"dir", "tar", "closure", "host", "readonly", "overlay", "dev"}

var securityKeys = []string{"capabilities", "seccomp", "masked_paths", "readonly_paths", "no_new_privileges"}

// keysAt returns the keys of the mapping at path (keys, "[]" for a list's
// item; an environment's name is any), or nil for a mapping whose keys
// are names (environments, env) or that is not part of a spec.
func keysAt(path []string) []string {
	switch {
	case len(path) == 0:
		return topKeys
	case path[0] != "environments" || len(path) == 1:
		return nil
	}
	rest := path[2:]
	switch {
	case len(rest) == 0:
		return environmentKeys
	case len(rest) == 1:
		switch rest[0] {
		case "rootfs":
			return rootfsKeys
		case "security":
			return securityKeys
		case "net":
			return NetKeys
		case "limits":
			return LimitKeys
		case "time":
			return []string{"monotonic", "boottime"}
		case "idmap":
			return []string{"uid", "gid"}
		}
	case len(rest) == 2 && rest[0] == "mounts" && rest[1] == "[]":
		return mountKeys
	case len(rest) >= 3 && rest[0] == "processes" && rest[len(rest)-1] == "healthcheck":
		if keysAt(path[:len(path)-1]) != nil {
			return healthKeys
		}
	case rest[0] == "processes" && len(rest)%2 == 0:
		// processes[], children[], children[]…: a process.
		for i := 0; i < len(rest); i += 2 {
			if (i > 0 && rest[i] != "children") || rest[i+1] != "[]" {
				return nil
			}
		}
		return processKeys
	}
	return nil
}

// A level is a mapping of a spec whose keys mean something: where a key
// was written, and where else it might belong.
type level int

const (
	levelTop level = iota
	levelEnvironment
	levelProcess
	levelEnvNames // the mapping of environments by name
)

// hints are what a misplaced key's message can point at: an environment,
// a process (each a name and the line of its key, "" when there is none).
type hints struct {
	env      string
	envLine  int
	proc     string
	procLine int
}

// elsewhere is the message for key name, written in a mapping of level lvl
// where it is unknown, when it is a key of another level: "mounts is an
// environment key: indent it under an environment (such as "web" at line
// 3)". With near, a key of another level that name is a likely typo of
// counts too. It returns "" when name belongs nowhere else.
func elsewhere(lvl level, name string, near bool, h hints) string {
	if msg := composeKey(lvl, name); msg != "" {
		return msg
	}
	key, what, where := placeOf(lvl, name, near, h)
	switch {
	case key == "":
		return ""
	case key != name:
		return fmt.Sprintf("unknown key %s: did you mean %s, %s? %s", quote(name), key, what, where)
	}
	return fmt.Sprintf("%s is %s: %s", key, what, where)
}

// placeOf finds the level name is a key of (other than lvl), or with near
// the key of another level it is a likely typo of: that key, what kind of
// key it is, and where such a key goes. key is "" when there is none.
func placeOf(lvl level, name string, near bool, h hints) (key, what, where string) {
	for _, other := range []level{levelEnvironment, levelTop, levelProcess} {
		if other == lvl {
			continue
		}
		keys := levelKeys(other)
		key := name
		if !slices.Contains(keys, name) {
			if !near {
				continue
			}
			if key = suggest(name, keys); key == "" {
				continue
			}
		}
		what, where := belongs(lvl, other, h)
		return key, what, where
	}
	return "", "", ""
}

func levelKeys(lvl level) []string {
	switch lvl {
	case levelTop:
		return topKeys
	case levelEnvironment:
		return environmentKeys
	case levelProcess:
		return processKeys
	}
	return nil
}

// belongs names the kind of key of level to ("an environment key") and
// says where such a key goes, from a mapping of level from.
func belongs(from, to level, h hints) (string, string) {
	switch to {
	case levelTop:
		return "a top-level key", "write it at the start of its line, not indented"
	case levelEnvironment:
		if from == levelProcess && h.env != "" {
			return "an environment key", fmt.Sprintf("move it out of the process, to the keys of environment %s at line %d", quote(h.env), h.envLine)
		}
		if h.env != "" {
			return "an environment key", fmt.Sprintf("indent it under an environment (such as %s at line %d)", quote(h.env), h.envLine)
		}
		return "an environment key", "indent it under an environment"
	default: // levelProcess
		if h.proc != "" {
			return "a process key", fmt.Sprintf("indent it under a process (such as %s at line %d)", quote(h.proc), h.procLine)
		}
		if from == levelEnvironment {
			return "a process key", "indent it under a process of this environment's processes"
		}
		return "a process key", "indent it under a process of an environment's processes"
	}
}

// envLike reports whether n can be meant as an environment: a mapping
// with a key of an environment, or a likely typo of one. An environment
// may be called "net" or "init"; one named so whose value is a list, or a
// mapping of other keys, is a key of an environment written one level too
// far left.
func envLike(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content) && i < 2*maxSuggestCandidates; i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode {
			if slices.Contains(environmentKeys, k.Value) || suggest(k.Value, environmentKeys) != "" {
				return true
			}
		}
	}
	return false
}

// envHint is the first environment of environments mapping n that looks
// like one, and its first process, for the message of a misplaced key.
func envHint(n *yaml.Node) hints {
	if n == nil || n.Kind != yaml.MappingNode {
		return hints{}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && isEnvName(k.Value) && envLike(v) {
			h := hints{env: k.Value, envLine: k.Line}
			h.proc, h.procLine = procHint(mappingValue(v, "processes"))
			return h
		}
	}
	return hints{}
}

// procHint is the first named process of processes list n.
func procHint(n *yaml.Node) (string, int) {
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
		return "", 0
	}
	item := n.Content[0]
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		if k.Value == "name" && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && v.Value != "" {
			return v.Value, v.Line
		}
	}
	return "", 0
}

// mappingValue is the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// misplacedEnv reports an entry of environments (at) that is not an
// environment but a key of another level written there, such as a
// dedented `mounts:` (which would otherwise be "environments.mounts: must
// be a mapping, got a list"), and returns true when it did. A likely typo
// of such a key whose value cannot be an environment gets the usual error
// with the key suggested.
func (d *decoder) misplacedEnv(p pair, at string, h hints) bool {
	if envLike(p.val) || p.val.Kind == yaml.AliasNode {
		return false
	}
	if key, what, where := placeOf(levelEnvNames, p.name, false, h); key != "" {
		d.report(pos(p.key), at, fmt.Sprintf("%s is %s, not an environment: %s", key, what, where))
		return true
	}
	if p.val.Kind == yaml.MappingNode {
		return false
	}
	if key, what, where := placeOf(levelEnvNames, p.name, true, h); key != "" {
		d.report(pos(p.key), at, fmt.Sprintf("must be a mapping (an environment), got %s: did you mean %s, %s? %s", describe(p.val), key, what, where))
		return true
	}
	return false
}
