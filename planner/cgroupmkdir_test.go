package planner

import (
	"strings"
	"testing"
)

// TestCgroupMkdirShowsItsFolder: apply makes a group's nsup/ folder when
// the hierarchy lacks it (executor's cgroupMkdir), so the plan shows that
// mkdir too; it showed the group's alone, whose parent was not there
// (helper-133's review: /sys/fs/cgroup/unified/nsup absent at rest).
func TestCgroupMkdirShowsItsFolder(t *testing.T) {
	for _, dir := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory/nsup.slice"} {
		got := FormatOp(CgroupMkdir{Path: dir + "/nsup/app.$NSUP"})
		want := `mkdir("` + dir + `/nsup", 0755) if missing, then mkdir("` + dir + `/nsup/app.$NSUP", 0755)`
		if got != want {
			t.Errorf("FormatOp:\n got %s\nwant %s", got, want)
		}
		if !strings.HasPrefix(got, CgroupMkdir{}.Syscall()+"(") {
			t.Errorf("FormatOp: %s does not start with its syscall", got)
		}
	}
}
