// Package oci translates between nsup and the OCI runtime specification
// (the config.json of a bundle, as runc, crun, podman and containerd read
// it), in both directions, using the runtime-spec's own Go types:
//
//   - Export turns one planned environment into a runtime config. It reads
//     the values from the plan (what apply would do: resolved mounts and
//     their flags, maps, offsets, the main process) and the keys from the
//     spec (for what has no OCI equivalent: each is translated with a Note,
//     or refused, never dropped);
//   - Import turns a runtime config into an nsup spec (YAML), with a Note
//     for every part of the config that nsup cannot express.
//
// Both are pure: they read and write no file. cmd/nsup copies the rootfs
// into the bundle and writes config.json; it parses the YAML that Import
// returns before printing it. To leave out of the YAML what equals nsup's
// defaults (the seccomp profile, the masked and read-only paths, the
// RLIMIT_NOFILE), Import is given what the planner would use on the host
// the YAML is for (ImportOptions: which default paths the host has, nsup's
// own hard limits); only Docker's default profile is resolved here
// (planner/seccomp, which reads the kernel's version). The spec's limits
// are linux.resources, converted as planner/cgroup converts them.
package oci
