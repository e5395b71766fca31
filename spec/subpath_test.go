package spec

import (
	"strings"
	"testing"
)

// TestSubpath: a bind's subpath is a relative path below its source,
// without ..; Source is then the path bound, Within the source written.
func TestSubpath(t *testing.T) {
	text := func(sub string) string {
		return `version: 1
environments:
  a:
    rootfs: {dir: /}
    namespaces: [mnt]
    mounts: [{type: bind, source: ./shared, subpath: ` + sub + `, target: /c}]
    processes: [{name: main, command: [/bin/true]}]
`
	}
	s, err := ParseBytes("s.yaml", "/p", []byte(text("app//conf/")))
	if err != nil {
		t.Fatal(err)
	}
	if m := s.Environments[0].Mounts[0]; m.Source != "/p/shared/app/conf" || m.Within != "/p/shared" {
		t.Errorf("mount %+v", m)
	}
	for _, sub := range []string{"../x", "a/../b", "/etc", `""`, ".."} {
		_, err := ParseBytes("s.yaml", "/p", []byte(text(sub)))
		if err == nil || !strings.Contains(err.Error(), "s.yaml:6:54: environments.a.mounts[0].subpath: must be a relative path below source") {
			t.Errorf("subpath %s: %v", sub, err)
		}
	}
}
