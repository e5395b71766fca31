package cgroup

import (
	"reflect"
	"testing"
)

// TestOverlayOptions: an overlay's folders as its mountinfo line names
// them, each escape undone (mountinfo's octal, then the overlay's own
// '\'), in each form of the options. The first lines are as Linux 6.18
// showed them for mounts made with mount(8) and with fsconfig.
func TestOverlayOptions(t *testing.T) {
	for _, c := range []struct {
		line string
		want *Overlay
	}{
		// mount -o 'lowerdir=/t/lo\:w\,er,upperdir=/t/up\,p\\er:x,workdir=/t/work'
		{`68 46 0:40 / /t/m rw,relatime - overlay overlay rw,lowerdir=/t/lo\134:w\134\054er,upperdir=/t/up\134\054p\134\134er:x,workdir=/t/work,uuid=on`,
			&Overlay{Upper: `/t/up,p\er:x`, Work: "/t/work", Lower: []string{"/t/lo:w,er"}}},
		// Relative folders, as given; "::" starts the data-only ones.
		{`70 46 0:41 / /t/m rw,relatime - overlay ov rw,lowerdir=l1:/t/l\1342::/t/d1::d2,upperdir=u,workdir=w`,
			&Overlay{Upper: "u", Work: "w", Lower: []string{"l1", "/t/l2"}, Data: []string{"/t/d1", "d2"}}},
		// fsconfig's lowerdir+= and datadir+=: no escapes of the overlay's.
		{`71 46 0:42 / /t/m2 rw,relatime - overlay overlay rw,lowerdir+=/t/a\134b,lowerdir+=/t/c\054d,datadir+=/t/e\075f,upperdir=/t/u\0402,workdir=/t/w2,redirect_dir=on,metacopy=on`,
			&Overlay{Upper: "/t/u 2", Work: "/t/w2", Lower: []string{`/t/a\b`, "/t/c,d"}, Data: []string{"/t/e=f"}}},
		// A read-only overlay (no upper); a trailing '\' dropped.
		{`72 46 0:43 / /t/m3 ro,relatime - overlay overlay ro,lowerdir=/t/x\134:/t/y`,
			&Overlay{Lower: []string{"/t/x:/t/y"}}},
		{`72 46 0:43 / /t/m3 ro,relatime - overlay overlay ro,lowerdir=/t/x\134`,
			&Overlay{Lower: []string{"/t/x"}}},
		{`27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,lowerdir=/x`, nil},
	} {
		m, ok := parseMountinfo(c.line)
		if !ok {
			t.Fatalf("%s: not parsed", c.line)
		}
		if got := m.mount().Overlay; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.line, got, c.want)
		}
	}
	ms := Mounts([]byte("68 46 0:40 / /t/m rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"))
	if len(ms) != 1 || ms[0].Overlay == nil || ms[0].Overlay.Upper != "/u" {
		t.Errorf("Mounts: %+v", ms)
	}
}
