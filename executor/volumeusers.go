package executor

// Who holds a volume's lock: each nsup apply that holds it shared (its
// Volume step) records, in the lock file, its pid, that process's start
// time and the environment it runs, so that nsup volume ls and rm name a
// foreground user PROJECT/ENV, not by its command line (the
// twenty-second stop's closing note). A record names a holder only while
// that very process (pid and start time) holds the flock: one left by an
// apply that has ended names nobody, and each apply drops such records
// as it adds its own. The file is in the project's volume folder, which
// only nsup's user may write (lifecycle.CheckVolumeProjectDir), beside the
// volume's folder that the environment sees, never in it.

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// maxUsers bounds the records read: a bigger file is started afresh
// (written) or read as none.
const maxUsers = 64 << 10

// recordVolumeUser adds this process's record to the lock file f, which
// it holds shared, and drops those of processes that no longer hold it,
// under an OFD lock of the file (F_OFD_SETLK: flock's locks are apart)
// that each writer and reader of the records takes for a moment. Best
// effort: without a record, the holder is named by its command line.
func recordVolumeUser(f *os.File, env string) {
	if !ofdLock(f, unix.F_WRLCK) {
		return
	}
	defer ofdLock(f, unix.F_UNLCK)
	self := os.Getpid()
	start, _, err := lifecycle.Identify(self)
	if err != nil {
		return
	}
	kept := volumeUsers(f)
	var b bytes.Buffer
	for pid, r := range kept {
		if pid != strconv.Itoa(self) {
			fmt.Fprintf(&b, "%s %d %s\n", pid, r.start, r.env)
		}
	}
	fmt.Fprintf(&b, "%d %d %s\n", self, start, env)
	if n, err := unix.Pwrite(int(f.Fd()), b.Bytes(), 0); err == nil && n == b.Len() {
		unix.Ftruncate(int(f.Fd()), int64(n))
	}
}

// VolumeLockUsers are the environments that the holders of the volume
// lock file at path run, by pid (as lifecycle.LockHolders gives them),
// from their records: only holders with a record of their own.
func VolumeLockUsers(path string) map[string]string {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	if !ofdLock(f, unix.F_RDLCK) {
		return nil
	}
	defer ofdLock(f, unix.F_UNLCK)
	users := map[string]string{}
	for pid, r := range volumeUsers(f) {
		users[pid] = r.env
	}
	return users
}

type volumeUser struct {
	start uint64
	env   string
}

// volumeUsers reads f's records (its OFD lock held) and keeps those of
// processes that hold its flock now and started when their record says.
func volumeUsers(f *os.File) map[string]volumeUser {
	buf := make([]byte, maxUsers+1)
	n, _ := unix.Pread(int(f.Fd()), buf, 0)
	if n <= 0 || n > maxUsers {
		return nil
	}
	holders := lifecycle.LockHolders(f.Name())
	users := map[string]volumeUser{}
	for _, l := range bytes.Split(buf[:n], []byte("\n")) {
		fields := bytes.Fields(l)
		if len(fields) != 3 || !envName(fields[2]) {
			continue
		}
		pid, start := string(fields[0]), string(fields[1])
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 || !slices.Contains(holders, pid) {
			continue
		}
		now, _, err := lifecycle.Identify(p)
		if err != nil || strconv.FormatUint(now, 10) != start {
			continue
		}
		users[pid] = volumeUser{start: now, env: string(fields[2])}
	}
	return users
}

// envName says whether b may be an environment's name (a DNS label).
func envName(b []byte) bool {
	if len(b) == 0 || len(b) > 63 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ofdLock takes (or, F_UNLCK, lets go of) an OFD lock of all of f, trying
// for a moment: another nsup holds it only while it reads or writes the
// records, but one that is stopped could hold it for good.
func ofdLock(f *os.File, how int16) bool {
	lk := unix.Flock_t{Type: how, Whence: 0}
	for range 100 {
		err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			return true
		}
		if err != unix.EAGAIN && err != unix.EACCES && err != unix.EINTR {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return false
}
