// Package kube translates between nsup specs and Kubernetes manifests
// (core/v1 Pods, and the PersistentVolumeClaims of their volumes), in
// both directions:
//
//   - Export writes the manifests of a spec's environments: one Pod per
//     group of environments that share namespaces by name, one container
//     per environment, and a claim per named volume they use;
//   - Import turns a manifest into an nsup spec (YAML), one environment
//     per container.
//
// Both are pure: they read and write no file, and run nothing (cmd/nsup
// builds the images, writes the files, and parses the YAML Import
// returns). Every key of one side without an exact equivalent on the
// other is a Note at its FILE:LINE:COL, never dropped in silence.
//
// The package imports spec and planner (for the planner's defaults:
// DefaultPath, DefaultCapabilities, DefaultStopTimeout), planner/yamlnode
// and planner/exportnote (what it writes and says as planner/oci does),
// and not
// k8s.io/api: that module's package initialisation (the registration of
// every type) would cost every start of nsup. It writes its own small
// structs, with Kubernetes' JSON names; the tests decode every manifest
// strictly into k8s.io/api's types.
//
// # Export
//
// The values are the spec's, with the planner's defaults (the PATH,
// the capability set, the grace period), so that a manifest for another
// machine needs nothing of this one: no closure resolved, no pasta. A plan
// may be given; it must be the spec's (its digest is checked).
//
// Pods. Environments that share a network, IPC, UTS, PID or user
// namespace by name are the containers of one Pod, in join order (the
// joined first), named after the first, which owns the Pod's namespaces:
// the Pod's network, IPC and UTS namespaces are its (or the host's:
// hostNetwork, hostIPC, when it has none of its own); its PID namespace is
// shared (shareProcessNamespace) when another joins it, or the host's
// (hostPID); its user namespace makes hostUsers: false (not beside a host
// namespace, which Kubernetes refuses: a note). Every container
// whose namespaces differ from what it gets in the Pod is noted, with the
// hostname it loses. A join by path, and a join of a mount, cgroup or time
// namespace by name, are notes. A Pod has one restart policy, its first
// environment's main process's (no: Never, on-failure: OnFailure, always:
// Always; another's differing is a note), and one grace period, the
// longest stop_timeout of its main processes (10s, nsup's default, when
// none is written: Kubernetes' would be 30s).
//
// Containers. The image is Options.Image (DefaultImage: podman's local
// store, localhost/nsup/PROJECT/ENV:latest), with imagePullPolicy Never
// for a localhost/ image (it exists only where it was built: a pull could
// only fail, or fetch another) and IfNotPresent for any other. The main
// process is command (which overrides the image's ENTRYPOINT), with its
// $ written as the kubelet's $(VAR) expansion gives it back, escaping
// only what expansion changes ($$, and $(NAME) of a variable the
// container defines), so that a shell's $(cmd) reads the same under a
// runtime that does not expand (podman kube play before 4.7); the other
// processes and the children are notes. env is the main process's
// environment as the planner makes it (PATH first when the spec sets
// none); cwd is workingDir; user is runAsUser and runAsGroup, always
// written (nsup's default is root, an image's may not be; an id above
// 2147483647, which Kubernetes refuses, is a note). Capabilities
// are drop: [ALL] and add: the exact set nsup keeps, since nsup's default
// set is not the runtimes' (containerd's is Docker's, with MKNOD and
// NET_RAW). no_new_privileges is allowPrivilegeEscalation: false (not
// written with CAP_SYS_ADMIN, which Kubernetes refuses beside it: a note);
// seccomp default is RuntimeDefault, unconfined Unconfined, a file
// Localhost (a note says where to copy it). A read-only root (nsup's
// default, without overlay) is readOnlyRootFilesystem. limits.memory and
// limits.cpu are resources.limits, with no requests (Kubernetes then
// takes the limits as requests); limits.pids is podman kube play's
// annotation io.podman.annotations.pids-limit/CONTAINER, with a note
// (Kubernetes has no pids limit of a container).
//
// Mounts. A tmpfs is an emptyDir with medium Memory and its size as
// sizeLimit. A named volume is a PersistentVolumeClaim (PROJECT-NAME,
// asking for 1Gi since Kubernetes needs a size), not an emptyDir: an nsup
// volume outlives the environment (nsup down keeps it) as a claim
// outlives its Pod, and podman kube play makes a named volume of each
// claim; the volume's owner is podman's annotations volume.podman.io/uid
// and gid. A bind is a hostPath volume (DirectoryOrCreate for create:
// true), noted: the Pod then runs only where that path exists. proc,
// sysfs, dev, devpts and mqueue at their usual places are the runtime's
// own; elsewhere, or with other flags, they are notes.
//
// Network. net.ports are the container's ports (containerPort, hostPort,
// hostIP unless every address, protocol; a range is one port each);
// net.dns is dnsPolicy None with dnsConfig.nameservers; net.hosts are
// hostAliases, with the Pod's environments on 127.0.0.1 as nsup's
// /etc/hosts has them. A network namespace without network: user is
// noted: a Pod's network is the cluster's, with outbound traffic. A Pod
// on the host's network has none of these (a note for each net key).
//
// Healthchecks. A healthcheck is a readinessProbe (exec), whose
// semantics are nsup's and compose's: not ready until a check passes, not
// ready after retries failures in a row, never killed for it (a
// livenessProbe kills the container, which nsup never does for an
// unhealthy process). interval is periodSeconds and initialDelaySeconds
// (nsup's first check comes one interval after the start), timeout
// timeoutSeconds, retries failureThreshold, all in whole seconds (a
// shorter one is rounded up, with a note). start_period is a note: a
// container is not ready before its first passing check anyway. podman
// kube play runs no readinessProbe.
//
// Notes, never a manifest key: depends_on (Kubernetes starts no Pod after
// another), rlimits, time namespaces and offsets, idmap (the kubelet picks
// the maps), domainname, masked_paths and readonly_paths (the runtime's),
// memory_swap, cpu_weight, io_weight, host_loopback, rootfs.dev,
// rootfs.host (the image is a copy), a volume's mode, nsup's init (a
// container's main process is PID 1).
//
// Not noted, as Kubernetes' defaults match closely enough: a container
// always has the runtime's /proc, /dev and read-only /sys, and on cgroup
// v2 a cgroup namespace of its own, whatever the spec mounts or says.
//
// # Import
//
// Each container of each Pod becomes an environment of its name (another
// Pod's container of the same name is POD-NAME); the first owns the
// Pod's namespaces (mnt, pid, net, ipc, uts, and user with hostUsers:
// false; none of the host's: hostNetwork, hostPID, hostIPC), the others
// join them by name (pid only with shareProcessNamespace, else a pid
// namespace of their own). The first gets net: {network: user} (a Pod's
// network has outbound traffic), the Pod's published ports (hostPort: a
// hostIP, else 0.0.0.0, every address, as Kubernetes does, noted since
// nsup's default is 127.0.0.1), dnsConfig.nameservers as dns, hostAliases
// as hosts (but the Pod's containers on 127.0.0.1, which nsup writes
// itself), and the Pod's hostname (its name when unset, as Kubernetes'
// is). Every environment mounts proc at /proc and dev at /dev, as a
// container has them.
//
// nsup runs no image: the rootfs is tar: ./rootfs/CONTAINER.tar, and the
// image's note says how to make it (podman create, podman export). The
// image's config is not in it: command and args are the command, with
// the kubelet's $(VAR) expansion done; args alone are noted (the
// ENTRYPOINT is unknown), and no command at all gives a stand-in that
// fails, noted. env values are expanded the same way (valueFrom and
// envFrom are notes); workingDir is cwd; runAsUser and runAsGroup (the
// container's over the Pod's) are user; capabilities are add and drop
// (noted unless drop is ALL: they change nsup's default set, not the
// runtime's); allowPrivilegeEscalation: false is nsup's default
// no_new_privileges, anything else no_new_privileges: false;
// readOnlyRootFilesystem keeps nsup's read-only root, anything else is
// overlay: true (a container's writable layer, gone with it);
// seccompProfile RuntimeDefault is nsup's default, Unconfined unconfined,
// Localhost the kubelet's file (unset is noted: Kubernetes' default is
// unconfined); procMount Unmasked is empty masked_paths and
// readonly_paths. resources.limits memory and cpu are limits (cpu rounded
// up to hundredths), podman's pids-limit annotation limits.pids. An
// emptyDir is a tmpfs (on disk unless medium: Memory: noted), a claim a
// named volume (its owner from podman's annotations), a hostPath a bind
// (its subPath the bind's subpath, which the plan keeps within the
// volume, as the kubelet does: a subPath of another volume is a note).
// restartPolicy is every main process's restart (Always: always,
// OnFailure: on-failure, Never: no), terminationGracePeriodSeconds its
// stop_timeout. An exec readinessProbe (else an exec livenessProbe,
// noted: nsup restarts nothing for it) is the healthcheck. A first
// container that keeps NET_RAW or NET_ADMIN is noted: nsup's planner
// refuses network: user with them, unless host_loopback. Every other
// key with a value is a note at its place; a manifest that is no YAML,
// has no Pod, or a Pod of a shape Kubernetes refuses, is an error.
package kube
