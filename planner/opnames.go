package planner

// Each operation's printed syscall (Syscall), JSON name (Kind) and the
// list of them all (AllOps).

func (Rootfs) Syscall() string           { return "rootfs" }
func (Clone) Syscall() string            { return "clone3" }
func (CgroupMkdir) Syscall() string      { return "mkdir" }
func (Pasta) Syscall() string            { return "spawn" }
func (EtcFile) Syscall() string          { return "move_mount" }
func (Console) Syscall() string          { return "move_mount" }
func (ReadOnlyTerminal) Syscall() string { return "open_tree" }
func (CgroupWrite) Syscall() string      { return "write" }
func (CgroupJoin) Syscall() string       { return "write" }
func (Fork) Syscall() string             { return "fork" }
func (Unshare) Syscall() string          { return "unshare" }
func (Setns) Syscall() string            { return "setns" }
func (o UIDMap) Syscall() string         { return mapSyscall(o.Helper) }
func (o GIDMap) Syscall() string         { return mapSyscall(o.Helper) }
func (DenySetgroups) Syscall() string    { return "write" }
func (TimeOffsets) Syscall() string      { return "write" }
func (Execve) Syscall() string           { return "execve" }
func (Mount) Syscall() string            { return "mount" }
func (Overlay) Syscall() string          { return "overlay" }
func (Symlink) Syscall() string          { return "symlink" }
func (LinkUp) Syscall() string           { return "ioctl" }
func (Sethostname) Syscall() string      { return "sethostname" }
func (Setdomainname) Syscall() string    { return "setdomainname" }
func (PivotRoot) Syscall() string        { return "pivot_root" }
func (Chdir) Syscall() string            { return "chdir" }
func (Umount2) Syscall() string          { return "umount2" }
func (Prctl) Syscall() string            { return "prctl" }
func (Capset) Syscall() string           { return "capset" }
func (CloseRange) Syscall() string       { return "close_range" }
func (Setgroups) Syscall() string        { return "setgroups" }
func (Setresgid) Syscall() string        { return "setresgid" }
func (Setresuid) Syscall() string        { return "setresuid" }
func (Spawn) Syscall() string            { return "clone" }
func (Monitor) Syscall() string          { return "clone" }
func (Mkdir) Syscall() string            { return "mkdir" }
func (Volume) Syscall() string           { return "mkdir" }
func (Hold) Syscall() string             { return "clone" }
func (MkdirAll) Syscall() string         { return "mkdir" }
func (Flock) Syscall() string            { return "flock" }
func (Stdio) Syscall() string            { return "open" }
func (Listen) Syscall() string           { return "listen" }
func (Setsid) Syscall() string           { return "setsid" }
func (SaveState) Syscall() string        { return "state" }
func (WaitHealthy) Syscall() string      { return "wait" }
func (MountSetattr) Syscall() string     { return "mount_setattr" }
func (Prlimit) Syscall() string          { return "prlimit64" }
func (Keyctl) Syscall() string           { return "keyctl" }
func (Landlock) Syscall() string         { return "landlock_restrict_self" }
func (InheritCaps) Syscall() string      { return "capset" }
func (CapbsetDrop) Syscall() string      { return "prctl" }
func (Seccomp) Syscall() string          { return "seccomp" }
func (Openpty) Syscall() string          { return "openpty" }
func (NullDevice) Syscall() string       { return "open_tree" }
func (Setctty) Syscall() string          { return "ioctl" }

func (Rootfs) Kind() string           { return "rootfs" }
func (Clone) Kind() string            { return "clone" }
func (CgroupMkdir) Kind() string      { return "cgroup_mkdir" }
func (Pasta) Kind() string            { return "pasta" }
func (EtcFile) Kind() string          { return "etc_file" }
func (Console) Kind() string          { return "console" }
func (ReadOnlyTerminal) Kind() string { return "readonly_terminal" }
func (CgroupWrite) Kind() string      { return "cgroup_write" }
func (CgroupJoin) Kind() string       { return "cgroup_join" }
func (Fork) Kind() string             { return "fork" }
func (Unshare) Kind() string          { return "unshare" }
func (Setns) Kind() string            { return "setns" }
func (UIDMap) Kind() string           { return "uid_map" }
func (GIDMap) Kind() string           { return "gid_map" }
func (DenySetgroups) Kind() string    { return "setgroups_deny" }
func (TimeOffsets) Kind() string      { return "timens_offsets" }
func (Execve) Kind() string           { return "execve" }
func (Mount) Kind() string            { return "mount" }
func (Overlay) Kind() string          { return "overlay" }
func (Symlink) Kind() string          { return "symlink" }
func (LinkUp) Kind() string           { return "link_up" }
func (Sethostname) Kind() string      { return "sethostname" }
func (Setdomainname) Kind() string    { return "setdomainname" }
func (PivotRoot) Kind() string        { return "pivot_root" }
func (Chdir) Kind() string            { return "chdir" }
func (Umount2) Kind() string          { return "umount2" }
func (Prctl) Kind() string            { return "prctl" }
func (Capset) Kind() string           { return "capset" }
func (CloseRange) Kind() string       { return "close_range" }
func (Setgroups) Kind() string        { return "setgroups" }
func (Setresgid) Kind() string        { return "setresgid" }
func (Setresuid) Kind() string        { return "setresuid" }
func (Spawn) Kind() string            { return "spawn" }
func (Monitor) Kind() string          { return "monitor" }
func (Mkdir) Kind() string            { return "mkdir" }
func (Volume) Kind() string           { return "volume" }
func (Hold) Kind() string             { return "hold" }
func (MkdirAll) Kind() string         { return "mkdirAll" }
func (Flock) Kind() string            { return "flock" }
func (Stdio) Kind() string            { return "stdio" }
func (Listen) Kind() string           { return "listen" }
func (Setsid) Kind() string           { return "setsid" }
func (SaveState) Kind() string        { return "state" }
func (WaitHealthy) Kind() string      { return "waitHealthy" }
func (MountSetattr) Kind() string     { return "mount_setattr" }
func (Prlimit) Kind() string          { return "prlimit64" }
func (Keyctl) Kind() string           { return "keyctl" }
func (Landlock) Kind() string         { return "landlock" }
func (InheritCaps) Kind() string      { return "capset_inheritable" }
func (CapbsetDrop) Kind() string      { return "capbset_drop" }
func (Seccomp) Kind() string          { return "seccomp" }
func (Openpty) Kind() string          { return "openpty" }
func (NullDevice) Kind() string       { return "null_device" }
func (Setctty) Kind() string          { return "tiocsctty" }

func (Rootfs) isOp()           {}
func (Clone) isOp()            {}
func (CgroupMkdir) isOp()      {}
func (Pasta) isOp()            {}
func (EtcFile) isOp()          {}
func (Console) isOp()          {}
func (ReadOnlyTerminal) isOp() {}
func (CgroupWrite) isOp()      {}
func (CgroupJoin) isOp()       {}
func (Fork) isOp()             {}
func (Unshare) isOp()          {}
func (Setns) isOp()            {}
func (UIDMap) isOp()           {}
func (GIDMap) isOp()           {}
func (DenySetgroups) isOp()    {}
func (TimeOffsets) isOp()      {}
func (Execve) isOp()           {}
func (Mount) isOp()            {}
func (Overlay) isOp()          {}
func (Symlink) isOp()          {}
func (LinkUp) isOp()           {}
func (Sethostname) isOp()      {}
func (Setdomainname) isOp()    {}
func (PivotRoot) isOp()        {}
func (Chdir) isOp()            {}
func (Umount2) isOp()          {}
func (Prctl) isOp()            {}
func (Capset) isOp()           {}
func (CloseRange) isOp()       {}
func (Setgroups) isOp()        {}
func (Setresgid) isOp()        {}
func (Setresuid) isOp()        {}
func (Spawn) isOp()            {}
func (Monitor) isOp()          {}
func (Mkdir) isOp()            {}
func (Volume) isOp()           {}
func (Hold) isOp()             {}
func (MkdirAll) isOp()         {}
func (Flock) isOp()            {}
func (Stdio) isOp()            {}
func (Listen) isOp()           {}
func (Setsid) isOp()           {}
func (SaveState) isOp()        {}
func (WaitHealthy) isOp()      {}
func (MountSetattr) isOp()     {}
func (Prlimit) isOp()          {}
func (Keyctl) isOp()           {}
func (Landlock) isOp()         {}
func (InheritCaps) isOp()      {}
func (CapbsetDrop) isOp()      {}
func (Seccomp) isOp()          {}
func (Openpty) isOp()          {}
func (NullDevice) isOp()       {}
func (Setctty) isOp()          {}

// AllOps returns a zero value of every operation type, so that tests can
// check that every consumer (renderer, JSON, executor) handles each one.
func AllOps() []Op {
	return []Op{Rootfs{}, Fork{}, Clone{}, CgroupMkdir{}, Pasta{}, EtcFile{}, Console{}, ReadOnlyTerminal{}, CgroupWrite{}, CgroupJoin{}, Unshare{}, Setns{}, UIDMap{}, GIDMap{}, DenySetgroups{}, TimeOffsets{}, Execve{}, Mount{}, Overlay{},
		Symlink{}, LinkUp{}, Sethostname{}, Setdomainname{}, PivotRoot{}, Chdir{}, Umount2{},
		Prctl{}, Capset{}, CloseRange{}, Setgroups{}, Setresgid{}, Setresuid{}, Spawn{}, Monitor{},
		Mkdir{}, Volume{}, MkdirAll{}, Hold{}, Flock{}, Stdio{}, Listen{}, Setsid{}, SaveState{}, WaitHealthy{},
		MountSetattr{}, Prlimit{}, Keyctl{}, Landlock{}, InheritCaps{}, CapbsetDrop{}, Seccomp{}, Openpty{}, Setctty{}, NullDevice{}, OpenTree{}, IdmapTree{}, MakeCwd{}}
}
