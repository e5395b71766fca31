package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Default returns Docker's default profile (moby/profiles) for a process whose bounding
// capability set is caps (names like "CAP_CHOWN"), for this GOARCH and the running kernel.
func Default(caps []string) (*specs.LinuxSeccomp, error) {
	// moby resolves includes/excludes (caps, arches, minKernel) and the
	// archMap; DefaultProfile returns a fresh value, which setupSeccomp
	// mutates.
	s, err := moby.GetDefaultProfile(capSpec(caps))
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	return refuseSocketcall(s), nil
}

// refuseSocketcall is rules with socketcall(2) refused (ENOSYS): taken
// out of every rule, and given one of its own, first. The profile lets
// socket(2) make only the address families it lists (not AF_VSOCK nor
// AF_ALG), but allows socketcall, i386's multiplexer, whose arguments lie
// behind a pointer no filter reads: an attacker review (helper-96) made
// an AF_VSOCK socket inside with socketcall(SYS_SOCKET) through int 0x80
// (a channel to the hypervisor's and other VMs' services that no network
// namespace confines), where socket(AF_VSOCK) is refused. Docker closes
// that path with AppArmor or SELinux, which nsup does not load; this is
// moby/profiles#21's seccomp rule (ENOSYS, so that a libc that falls
// back uses i386's direct socket calls, which the profile checks).
func refuseSocketcall(rules *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *rules
	// First: libseccomp (runc, crun: an exported bundle) makes, on i386,
	// a socketcall(SYS_SOCKET) rule of every socket rule it is given; the
	// refusal before them holds there too (containerd's port of it).
	enosys := uint(unix.ENOSYS)
	out.Syscalls = []specs.LinuxSyscall{{Names: []string{"socketcall"}, Action: specs.ActErrno, ErrnoRet: &enosys}}
	for _, r := range rules.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return n == "socketcall" })
		if len(r.Names) > 0 {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	return &out
}

// Load reads a profile in Docker's JSON format (with "archMap"/"includes"/"excludes"),
// a plain OCI LinuxSeccomp JSON object (as in an OCI config.json's linux.seccomp),
// or a whole OCI config.json (an object with "ociVersion", which no profile
// has), whose linux.seccomp is the profile; and resolves it for caps, this
// GOARCH and the running kernel as Default does.
//
// Docker's format is a superset of the OCI object, so both go through
// moby's LoadProfile. Unknown fields are an error (moby ignores them): a
// misspelt "syscalls" would otherwise silently leave only the default
// action. The resolved profile is checked as Compile checks it, so that a
// profile nsup cannot apply (SCMP_ACT_NOTIFY, an unknown operator) fails
// here, at load time.
func Load(data []byte, caps []string) (*specs.LinuxSeccomp, error) {
	data, err := fromConfig(data)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var strict moby.Seccomp
	if err := dec.Decode(&strict); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	s, err := moby.LoadProfile(string(data), capSpec(caps))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if s == nil {
		// moby's reading of a profile with neither: seccomp disabled.
		return nil, errors.New("seccomp profile: no defaultAction and no syscalls")
	}
	if _, _, err := check(s, runtime.GOARCH); err != nil {
		return nil, err
	}
	return s, nil
}

// fromConfig returns the linux.seccomp of an OCI config.json (an object
// with "ociVersion"), or data itself when it is not one. The config's
// other keys are runtime-spec's business, not checked here.
func fromConfig(data []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return data, nil // not an object: Load says why
	}
	if _, ok := top["ociVersion"]; !ok {
		return data, nil
	}
	var cfg struct {
		Linux *struct {
			Seccomp json.RawMessage `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("seccomp profile: an OCI config: %w", err)
	}
	if cfg.Linux == nil || len(cfg.Linux.Seccomp) == 0 || string(cfg.Linux.Seccomp) == "null" {
		return nil, errors.New("seccomp profile: an OCI config without linux.seccomp")
	}
	return cfg.Linux.Seccomp, nil
}

// capSpec is the part of an OCI spec moby reads: the bounding set.
func capSpec(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: append([]string(nil), caps...)},
	}}
}
