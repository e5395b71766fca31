package oci

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gopkg.in/yaml.v3"
)

// resources is linux.resources from the spec's limits (the default pids
// limit included): the runtime makes the container's cgroup itself, and
// converts for cgroup v2 as it does for every config (shares, blkio
// weight).
func (x *exporter) resources() {
	l := x.e.Limits
	r := &specs.LinuxResources{}
	pids := int64(spec.DefaultPids)
	if l != nil {
		if v := l.Memory; v != nil {
			n := v.N
			// Without memory_swap, the memory limit holds for swap too:
			// swap is memory and swap together, at the limit (a runtime
			// leaves swap unlimited where it is not set).
			swap := v.N
			r.Memory = &specs.LinuxMemory{Limit: &n, Swap: &swap}
		}
		if v := l.MemorySwap; v != nil {
			n := v.N // memory and swap together, as linux.resources.memory.swap
			if r.Memory == nil {
				r.Memory = &specs.LinuxMemory{}
			}
			r.Memory.Swap = &n
		}
		if v := l.Pids; v != nil {
			pids = v.N // -1: unlimited
		}
		if v := l.CPU; v != nil {
			quota, period := int64(v.Cores*cgroup.Period+0.5), uint64(cgroup.Period)
			r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
		}
		if v := l.CPUWeight; v != nil {
			shares := cgroup.Shares(uint64(v.N))
			if r.CPU == nil {
				r.CPU = &specs.LinuxCPU{}
			}
			r.CPU.Shares = &shares
		}
		if v := l.IOWeight; v != nil {
			w := uint16(cgroup.OCIBlkioWeight(uint64(v.N)))
			r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
		}
	}
	r.Pids = &specs.LinuxPids{Limit: &pids}
	if devNodesWork(x.e) {
		// nsup confines no device: where the spec lets device nodes
		// work (rootfs.dev, the option dev), every node opens, as under
		// a runtime whose device rules allow every device (and Import
		// reads that back as dev).
		r.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "rwm"}}
	}
	x.cfg.Linux.Resources = r
}

// devNodesWork says whether device nodes work in some mount of e's.
func devNodesWork(e *spec.Environment) bool {
	if e.Rootfs.Dev {
		return true
	}
	for _, m := range e.Mounts {
		if slices.Contains(m.Options, "dev") {
			return true
		}
	}
	return false
}

// allDevices says whether the device rules r let every device be opened
// (the last rule for every device allows it), as nsup's option dev does.
func allDevices(r *specs.LinuxResources) bool {
	all := false
	if r != nil {
		for _, d := range r.Devices {
			if (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil {
				all = d.Allow && strings.Contains(d.Access, "r") && strings.Contains(d.Access, "w") && strings.Contains(d.Access, "m")
			}
		}
	}
	return all
}

// limits is the environment's `limits` from linux.resources, as far as
// nsup has them; nil when there are none but nsup's default.
func (m *importer) limits(r *specs.LinuxResources) *yaml.Node {
	if r == nil {
		return nil
	}
	n := mapping(true)
	if mem := r.Memory; mem != nil {
		limited := mem.Limit != nil && *mem.Limit > 0
		if limited {
			set(n, "memory", integer(uint64(*mem.Limit)))
		}
		switch {
		case mem.Swap != nil && *mem.Swap == -1:
			set(n, "memory_swap", str("unlimited"))
		case limited && (mem.Swap == nil || *mem.Swap == 0):
			// A runtime leaves swap unlimited where it is not set (0 is
			// unset to runc); nsup's default is no swap beyond the
			// limit: said, to keep the bundle's meaning.
			set(n, "memory_swap", str("unlimited"))
		case mem.Swap != nil && *mem.Swap > 0 && !(limited && *mem.Swap == *mem.Limit):
			set(n, "memory_swap", integer(uint64(*mem.Swap)))
		}
		// Swap at the limit is nsup's default: no key.
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		switch l := *p.Limit; {
		case l <= 0:
			set(n, "pids", str("unlimited"))
		case l != spec.DefaultPids:
			set(n, "pids", integer(uint64(l)))
		}
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil && *c.Quota > 0 && c.Period != nil && *c.Period > 0 {
			cores := float64(*c.Quota) / float64(*c.Period)
			set(n, "cpu", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(float64(int64(cores*100+0.5))/100, 'f', -1, 64)})
		}
		if c.Shares != nil && *c.Shares > 0 {
			set(n, "cpu_weight", integer(cgroup.WeightOfShares(*c.Shares)))
		}
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight > 0 {
		set(n, "io_weight", integer(cgroup.WeightOfOCIBlkio(uint64(*b.Weight))))
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

// resourcesDropped notes what of linux.resources nsup has no key for.
func (m *importer) resourcesDropped(r *specs.LinuxResources) {
	if len(r.Devices) > 0 && !allDevices(r) {
		m.note("linux.resources.devices", "nsup makes no device node and has no device cgroup: dropped (binds and tmpfs are imported nodev: under these rules only the devices they list open)")
	}
	if mem := r.Memory; mem != nil && (mem.Reservation != nil || mem.Kernel != nil || mem.KernelTCP != nil || mem.Swappiness != nil || mem.DisableOOMKiller != nil) {
		m.note("linux.resources.memory", "only limit and swap have nsup keys (limits.memory, limits.memory_swap): the rest dropped")
	}
	if c := r.CPU; c != nil && (c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Cpus != "" || c.Mems != "" || c.Idle != nil) {
		m.note("linux.resources.cpu", "only quota, period and shares have nsup keys (limits.cpu, limits.cpu_weight): the rest dropped")
	}
	if b := r.BlockIO; b != nil && (b.LeafWeight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 || len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0) {
		m.note("linux.resources.blockIO", "only weight has an nsup key (limits.io_weight): the rest dropped")
	}
	if len(r.HugepageLimits) > 0 || r.Network != nil || len(r.Rdma) > 0 || len(r.Unified) > 0 {
		m.note("linux.resources", "hugepage, network, rdma and unified limits have no nsup key: dropped")
	}
}
