package kube

import (
	"strings"
	"testing"
)

// TestExportCapsAll: `add: [ALL]` is written add: [ALL], without drop:
// the node's runtime resolves it against the capabilities it holds, as
// the plan does on nsup's host (containerd drops ALL after adding it,
// so drop: [ALL] beside it would leave none). The manifest listed every
// name nsup knows, some of which a node may not grant.
func TestExportCapsAll(t *testing.T) {
	y, _ := exportInline(t, `version: 1
environments:
  all:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, net]
    security: {capabilities: {add: [ALL]}}
    processes: [{name: main, command: [/bin/sh]}]
`)
	i := strings.Index(string(y), "capabilities:")
	if i < 0 {
		t.Fatalf("no capabilities:\n%s", y)
	}
	caps := string(y[i:])
	if j := strings.Index(caps, "runAs"); j > 0 {
		caps = caps[:j]
	}
	if strings.Fields(caps)[1] != "add:" || strings.Fields(caps)[3] != "ALL" || strings.Contains(caps, "drop") || strings.Contains(caps, "SYS_ADMIN") {
		t.Errorf("capabilities:\n%s\nwant add: [ALL] alone", caps)
	}
}
