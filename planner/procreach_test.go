package planner

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestProcReach: a process of another user than root may enter its
// working directory and execute its command only as the modes on their
// way let its uid, gid and kept groups (procreach.go). Before
// helper-151's trial each refused case planned, and apply failed at the
// chdir or the execve (permission denied); a command of mode 0644 was
// "not found".
func TestProcReach(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "r")
	for _, d := range []string{"bin", "priv", "grp", "other", "open", "tmp", "scratch", "mnt"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Chmod(filepath.Join(root, "priv"), 0o700)
	os.Chmod(filepath.Join(root, "grp"), 0o710)
	os.Chmod(filepath.Join(root, "other"), 0o700)
	os.MkdirAll(filepath.Join(root, "priv", "sub"), 0o755)
	// acl: 0700, with an ACL that lets uid 1000 search it (setfacl -m
	// u:1000:x): its mode alone is no reason to refuse.
	os.Mkdir(filepath.Join(root, "acl"), 0o700)
	os.Chmod(filepath.Join(root, "acl"), 0o700)
	acl := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{0x01, 7, ^uint32(0)}, {0x02, 1, 1000}, {0x04, 0, ^uint32(0)}, {0x10, 1, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		acl = binary.LittleEndian.AppendUint16(acl, e.tag)
		acl = binary.LittleEndian.AppendUint16(acl, e.perm)
		acl = binary.LittleEndian.AppendUint32(acl, e.id)
	}
	if err := unix.Setxattr(filepath.Join(root, "acl"), "system.posix_acl_access", acl, 0); err != nil {
		t.Fatalf("setxattr: %v", err)
	}
	for name, mode := range map[string]os.FileMode{"sh": 0o755, "private": 0o700, "noexec": 0o644, "grpexec": 0o710} {
		os.WriteFile(filepath.Join(root, "bin", name), []byte("#!"), mode)
		os.Chmod(filepath.Join(root, "bin", name), mode)
	}
	os.WriteFile(filepath.Join(root, "priv", "tool"), []byte("#!"), 0o755)
	hostPriv := filepath.Join(dir, "hostpriv")
	os.Mkdir(hostPriv, 0o700)
	// Every file root's, whoever runs the test; grp and grpexec of group
	// 1000, other 1000:1000's.
	stat := func(p string) (uid, gid, mode uint32, err error) {
		if !strings.HasPrefix(p, dir+"/") {
			return searchable(p)
		}
		_, _, mode, err = folderStat(p)
		if strings.HasSuffix(p, "/grp") || strings.HasSuffix(p, "/grpexec") {
			gid = 1000
		}
		if strings.HasSuffix(p, "/other") {
			return 1000, 1000, mode, err
		}
		return 0, gid, mode, err
	}
	const usern = "    namespaces: [user, mnt, pid]\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	for _, c := range []struct {
		name, env string
		closure   func([]string) ([]File, error)
		err       string // "" for a plan
	}{
		{name: "cwd open", env: "    user: \"1000\"\n    cwd: /open\n"},
		{name: "cwd root's 0700", env: "    user: \"1000\"\n    cwd: /priv\n",
			err: "t.yaml:7:10: environments.e.cwd: /priv: the process's user (uid 1000, gid 1000, no supplementary group, no capability) may not search /priv, the folder itself (mode 0700, owner 0:0): its chdir would fail (permission denied); give a cwd that user may enter, let the user search it (chmod o+x DIR/r/priv, or give it the process's gid as its group and g+x), or give the process the folder's owner as its user"},
		{name: "cwd below root's 0700", env: "    user: \"1000\"\n    cwd: /priv/sub\n",
			err: "environments.e.cwd: /priv/sub: the process's user (uid 1000, gid 1000, no supplementary group, no capability) may not search /priv, a folder on its way (mode 0700"},
		{name: "cwd as root", env: "    cwd: /priv\n"},
		{name: "cwd as root without DAC capabilities", env: "    cwd: /priv\n    security: {capabilities: {drop: [DAC_OVERRIDE, DAC_READ_SEARCH]}}\n"},
		{name: "cwd of root's as root without them", env: "    cwd: /open\n    security: {capabilities: {drop: [ALL]}}\n    processes:\n      - {name: main, command: [/bin/private]}\n"},
		{name: "cwd of another's as root without them", env: "    cwd: /other\n    security: {capabilities: {drop: [ALL]}}\n",
			err: "environments.e.cwd: /other: the process's user (uid 0, gid 0, no supplementary group, neither CAP_DAC_OVERRIDE nor CAP_DAC_READ_SEARCH kept) may not search /other, the folder itself (mode 0700, owner 1000:1000)"},
		{name: "cwd of another's as root", env: "    cwd: /other\n"},
		{name: "cwd 0700 an ACL lets it search", env: "    user: \"1000\"\n    cwd: /acl\n"},
		{name: "cwd of its group", env: "    user: \"1000:1000\"\n    cwd: /grp\n"},
		{name: "cwd not of its group", env: "    user: \"1000:1001\"\n    cwd: /grp\n",
			err: "may not search /grp, the folder itself (mode 0710, owner 0:1000)"},
		{name: "process cwd", env: "    user: \"1000\"\n    processes:\n      - {name: main, command: [/bin/sh], cwd: /priv}\n",
			err: "t.yaml:8:47: environments.e.processes[0].cwd: /priv: the process's user"},
		{name: "process user", env: "    cwd: /priv\n    processes:\n      - {name: main, command: [/bin/sh], user: \"1000\"}\n",
			err: "t.yaml:6:10: environments.e.cwd: /priv: the process's user (uid 1000"},
		{name: "tmpfs 0700", env: "    user: \"1000\"\n    cwd: /scratch\n    mounts: [{type: tmpfs, target: /scratch, mode: \"0700\"}]\n",
			err: "environments.e.cwd: /scratch: the process's user (uid 1000, gid 1000, no supplementary group, no capability) may not search /scratch, the folder itself (mode 0700, owner 0:0): its chdir would fail (permission denied); give a cwd that user may enter, give the tmpfs at /scratch (environments.e.mounts[0]) a mode that lets every user search it (mode: \"0755\", or \"1777\")"},
		{name: "tmpfs 0755", env: "    user: \"1000\"\n    cwd: /scratch\n    mounts: [{type: tmpfs, target: /scratch, mode: \"0755\"}]\n"},
		{name: "tmpfs of its own", env: "    user: \"1000\"\n    cwd: /scratch\n    mounts: [{type: tmpfs, target: /scratch}]\n"},
		{name: "bind 0700", env: "    user: \"1000\"\n    cwd: /mnt\n    mounts: [{type: bind, source: " + hostPriv + ", target: /mnt}]\n",
			err: "may not search /mnt, the folder itself (mode 0700, owner 0:0): its chdir would fail (permission denied); give a cwd that user may enter, let the user search it (chmod o+x DIR/hostpriv"},
		{name: "user namespace", env: usern + "    user: \"1000\"\n    cwd: /priv\n",
			err: "may not search /priv, the folder itself (mode 0700, owner 0:0)"},
		{name: "command 0700", env: "    user: \"1000\"\n    processes:\n      - {name: main, command: [/bin/private]}\n",
			err: "t.yaml:8:32: environments.e.processes[0].command[0]: \"/bin/private\" is not a command the process may run (PATH=" + DefaultPath + "): /bin/private is mode 0700, owner 0:0, which the process's user (uid 1000, gid 1000, no supplementary group, no capability) may not execute: its execve would fail (permission denied); let the user execute it (chmod o+x DIR/r/bin/private"},
		{name: "command 0700 as root", env: "    processes:\n      - {name: main, command: [/bin/private]}\n"},
		{name: "command of its group", env: "    user: \"1000:1000\"\n    processes:\n      - {name: main, command: [/bin/grpexec]}\n"},
		{name: "command in PATH", env: "    user: \"1000\"\n    processes:\n      - {name: main, command: [private]}\n",
			err: "\"private\" is not a command the process may run (PATH=" + DefaultPath + "): /bin/private is mode 0700"},
		{name: "command below 0700", env: "    user: \"1000\"\n    processes:\n      - {name: main, command: [/priv/tool]}\n",
			err: "/priv, a folder on its way, is mode 0700, owner 0:0, which the process's user (uid 1000, gid 1000, no supplementary group, no capability) may not search"},
		{name: "command 0644", env: "    processes:\n      - {name: main, command: [/bin/noexec]}\n",
			err: "t.yaml:7:32: environments.e.processes[0].command[0]: \"/bin/noexec\" is not a command the process may run (PATH=" + DefaultPath + "): /bin/noexec is not executable (mode 0644, no execute bit): its execve would fail (permission denied); chmod +x it"},
		{name: "command a folder", env: "    processes:\n      - {name: main, command: [/bin]}\n",
			err: "\"/bin\" is not a command the process may run (PATH=" + DefaultPath + "): /bin is a folder, not a file to execute"},
		{name: "healthcheck 0700", env: "    user: \"1000\"\n    processes:\n      - {name: main, command: [/bin/sh], healthcheck: {command: [/bin/private]}}\n",
			err: "environments.e.processes[0].healthcheck.command[0]: \"/bin/private\" is not a command the process may run"},
		{name: "closure command 0700", closure: binClosure(File{Path: "/usr/bin/private", Type: "file", Mode: 0o700, Size: 2, Digest: "sha256:" + strings.Repeat("0", 64)}),
			env: "    user: \"1000\"\n    processes:\n      - {name: main, command: [/bin/private]}\n",
			err: "/bin/private is mode 0700, owner 0:0, which the process's user"},
		{name: "closure command 0755", closure: binClosure(), env: "    user: \"1000\"\n    cwd: /bin\n    processes:\n      - {name: main, command: [/bin/sh]}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rootfs := "    rootfs: {dir: ./r}\n"
			if c.closure != nil {
				rootfs = "    rootfs: {closure: [/usr/bin/sh]}\n"
			}
			text := "version: 1\nenvironments:\n  e:\n" + rootfs
			if !strings.Contains(c.env, "namespaces:") {
				text += "    namespaces: [mnt, pid]\n"
			}
			text += c.env
			if !strings.Contains(c.env, "processes:") {
				text += "    processes:\n      - {name: main, command: [/bin/sh]}\n"
			}
			s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			opts := fixedOptions(Options{Caller: &rootCaller, CacheDir: filepath.Join(dir, "cache"), FolderStat: stat})
			if c.closure != nil {
				opts.Closure = c.closure
			}
			_, err = Compile(s, opts)
			switch {
			case c.err == "" && err != nil:
				t.Fatal(strings.ReplaceAll(err.Error(), dir, "DIR"))
			case c.err != "" && err == nil:
				t.Fatalf("planned; want %s", c.err)
			case c.err != "" && !strings.Contains(strings.ReplaceAll(err.Error(), dir, "DIR"), c.err):
				t.Fatalf("got %s\nwant %s", strings.ReplaceAll(err.Error(), dir, "DIR"), c.err)
			}
		})
	}
}
