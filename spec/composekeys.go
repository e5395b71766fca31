package spec

// Compose's names for what a spec says another way. A team coming from
// docker compose writes its keys by habit; "did you mean" a key of
// another level sent them wrong (helper-151's trial: `environment:`
// under an environment was "did you mean environments, a top-level
// key?", `volumes:` there "a top-level key", where `env` and `mounts`
// were meant; `working_dir` and `cap_add` got no hint at all).

import "fmt"

// composeKeys are, by level, compose's keys that nsup writes otherwise:
// what to write instead.
var composeKeys = map[level]map[string]string{
	levelEnvironment: {
		"environment":       "env (a map, NAME: value)",
		"working_dir":       "cwd",
		"cap_add":           "security: {capabilities: {add: [NAME, ...]}}",
		"cap_drop":          "security: {capabilities: {drop: [NAME, ...]}}",
		"volumes":           "mounts (a named volume: {type: volume, source: NAME, target: PATH}; a host folder: {type: bind, source: PATH, target: PATH}); the top-level volumes only declares named volumes",
		"tmpfs":             "mounts: [{type: tmpfs, target: PATH}]",
		"read_only":         "rootfs: {readonly: true}",
		"image":             "rootfs (dir, tar, closure or host: the environment's root tree)",
		"entrypoint":        "a process's command (processes: [{name: main, command: [...]}])",
		"ulimits":           "rlimits",
		"mem_limit":         "limits: {memory: SIZE}",
		"memswap_limit":     "limits: {memory_swap: SIZE}",
		"cpus":              "limits: {cpu: N}",
		"pids_limit":        "limits: {pids: N}",
		"ports":             "net: {ports: [...]}",
		"network_mode":      "net (or join: {net: ENV})",
		"networks":          "net",
		"dns":               "net: {dns: [...]}",
		"extra_hosts":       "net: {hosts: {NAME: ADDRESS}}",
		"stop_grace_period": "a process's stop_timeout",
		"security_opt":      "security (seccomp, no_new_privileges)",
	},
	levelProcess: {
		"environment":       "env (a map, NAME: value)",
		"working_dir":       "cwd",
		"entrypoint":        "command",
		"ulimits":           "rlimits",
		"stop_grace_period": "stop_timeout",
	},
}

// composeKey is the message for compose's key name written in a mapping
// of level lvl, "" when it is none of composeKeys.
func composeKey(lvl level, name string) string {
	if w, ok := composeKeys[lvl][name]; ok {
		return fmt.Sprintf("unknown key %s: nsup writes compose's %s as %s", quote(name), name, w)
	}
	return ""
}
