package oci

// Export's namespaces and ids: new and joined namespaces, id maps, time offsets.

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// ociNS is the OCI name of a spec-v1 namespace type (spec.Namespaces).
func ociNS(t string) specs.LinuxNamespaceType {
	if n, ok := spec.NamespaceOf(t); ok {
		return specs.LinuxNamespaceType(n.OCI)
	}
	return specs.LinuxNamespaceType(t)
}

func nsType(f planner.CloneFlags) (string, error) {
	if n, ok := spec.NamespaceOfFlag(uint64(f)); ok {
		return n.Name, nil
	}
	return "", fmt.Errorf("unknown namespace flag %s", f)
}

func (x *exporter) newNS(flags planner.CloneFlags) error {
	for f := planner.CloneFlags(1); f != 0 && f <= flags; f <<= 1 {
		if flags&f == 0 {
			continue
		}
		t, err := nsType(f)
		if err != nil {
			return err
		}
		x.ns[t] = ""
	}
	return nil
}

// idMappings converts map lines to OCI's form.
func idMappings(lines []planner.IDMapLine) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, len(lines))
	for i, l := range lines {
		out[i] = specs.LinuxIDMapping{ContainerID: l.Inside, HostID: l.Outside, Size: l.Count}
	}
	return out
}

// timeOffset splits nanoseconds as OCI's linux.timeOffsets (and
// timens_offsets) hold them: seconds, and 0 <= nanoseconds < 1e9.
func timeOffset(ns int64) specs.LinuxTimeOffset {
	sec, nsec := planner.SplitOffset(ns)
	return specs.LinuxTimeOffset{Secs: sec, Nanosecs: nsec}
}
