package main

// nsup volume ls and rm, and down --volumes: the named volumes of
// projects, VOLUMEDIR/PROJECT/NAME (planner.DefaultVolumeDir).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

const volumeHelp = `Manages the named volumes of projects (a spec's top-level volumes, bound
by mounts of type volume): a folder each, VOLUMEDIR/PROJECT/NAME
($NSUP_VOLUME_DIR, else /var/lib/nsup/volumes for root, else
$XDG_DATA_HOME/nsup/volumes), made when an environment first uses it and
kept across nsup down.

  nsup volume ls         the volumes of this folder's project (the
                         nsup.yaml here or above, or -p PROJECT), or of
                         every project with --all or when there is none
                         here: project, name, size, the running
                         environments that use it, path
  nsup volume rm NAME... remove volumes of the project, with their content
                         (PROJECT/NAME, as volume ls and rm show it: of
                         that project)

nsup down --volumes takes a project down and removes its volumes. A volume
that a running environment uses is never removed: a detached one's record
says so, and the nsup apply that runs one in the foreground holds the
volume's lock (VOLUMEDIR/PROJECT/NAME.lock, beside it) shared meanwhile,
and records its environment there (shown as PROJECT/ENV (nsup apply, pid
N)); volume rm locks it exclusive while it removes the volume. A volume whose
folder was removed by hand leaves its lock file: volume ls shows no volume
for it, and volume rm NAME or down --volumes removes it.`

// volumeInfo is one volume as nsup volume ls shows it.
type volumeInfo struct {
	project, name, path string
	bytes               int64
	users               []string // the running environments that use it
	// lockOnly: only its lock file is left (its folder was removed by
	// hand): not listed; volume rm and down --volumes remove the lock.
	lockOnly bool
}

// volumes lists the volumes of project ("" for every project's).
func volumes(project string) ([]volumeInfo, error) {
	dir := planner.DefaultVolumeDir()
	projects := []string{project}
	if project == "" {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		projects = nil
		for _, e := range ents {
			if e.IsDir() {
				projects = append(projects, e.Name())
			}
		}
	}
	// Which environments run decides what volume rm keeps: a state
	// directory that cannot be read (refused: another user's) is an
	// error, not "none runs" (a volume in use was removed so).
	running, err := runningEnvs()
	if err != nil {
		return nil, err
	}
	var out []volumeInfo
	for _, p := range projects {
		ents, err := os.ReadDir(filepath.Join(dir, p))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		names := map[string]bool{}
		for _, e := range ents {
			names[e.Name()] = true
		}
		for _, e := range ents {
			v := volumeInfo{project: p, name: e.Name(), path: filepath.Join(dir, p, e.Name())}
			if n, ok := strings.CutSuffix(e.Name(), ".lock"); ok && e.Type().IsRegular() && n != "" && !strings.Contains(n, ".") && !names[n] {
				v.name, v.path, v.lockOnly = n, filepath.Join(dir, p, n), true
			} else if !e.IsDir() {
				continue
			}
			v.bytes = du(v.path)
			v.users = recordedUsers(running, v.path)
			v.users = append(v.users, lockHolders(planner.VolumeLockPath(dir, p, v.name))...)
			out = append(out, v)
		}
	}
	return out, nil
}

// runningEnvs are the detached environments' records. Which run decides
// what volume rm keeps: a state directory that cannot be read (refused:
// another user's) is an error, not "none runs" (a volume in use was
// removed so).
func runningEnvs() ([]lifecycle.EnvStatus, error) {
	running, err := lifecycle.ListAll(planner.DefaultStateDir())
	if err != nil {
		return nil, fmt.Errorf("volume: which volumes running environments use is not known: %w", err)
	}
	return running, nil
}

// recordedUsers are the running detached environments whose records say
// they use the volume at path.
func recordedUsers(running []lifecycle.EnvStatus, path string) []string {
	var users []string
	for _, r := range running {
		if r.Running && slices.Contains(r.State.Volumes, path) {
			users = append(users, r.Project+"/"+r.State.Name)
		}
	}
	return users
}

// du is the size of the files below p, in bytes (what can be read).
func du(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func runVolume(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("volume", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) == 0 {
		return usageError{"volume takes ls or rm"}
	}
	project := ""
	if !(rest[0] == "ls" && pf.all) && !(rest[0] == "rm" && len(rest) > 1 && qualified(rest[1:])) {
		if project, _, err = scope(pf.project); err != nil {
			return err
		}
	}
	switch rest[0] {
	case "ls":
		if len(rest) > 1 {
			return usageError{"volume ls takes no arguments"}
		}
		vs, err := volumes(project)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(ios.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROJECT\tNAME\tSIZE\tUSED BY\tPATH")
		for _, v := range vs {
			if v.lockOnly {
				continue
			}
			users := "-"
			if len(v.users) > 0 {
				users = strings.Join(v.users, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.project, v.name, bytesText(v.bytes), users, v.path)
		}
		return tw.Flush()
	case "rm":
		if len(rest) < 2 {
			return usageError{"volume rm takes volume NAMEs"}
		}
		// NAME, of the project here (or -p's), or PROJECT/NAME as volume
		// ls and volume rm show it.
		var projects []string
		names := map[string][]string{}
		for _, a := range rest[1:] {
			p, n, ok := strings.Cut(a, "/")
			switch {
			case !ok:
				p, n = project, a
				if p == "" {
					return usageError{"volume rm: which project's? there is no nsup.yaml here: give -p PROJECT, or PROJECT/NAME"}
				}
			case !spec.ValidName(p):
				return usageError{fmt.Sprintf("volume rm: %q: %q is not a project name (NAME, or PROJECT/NAME as volume ls shows)", a, p)}
			case pf.project != "" && p != pf.project:
				return usageError{fmt.Sprintf("volume rm: %q is not of -p %s's project", a, pf.project)}
			}
			if !slices.Contains(projects, p) {
				projects = append(projects, p)
			}
			names[p] = append(names[p], n)
		}
		// Every project's names checked before any volume is removed:
		// `volume rm shop/www blog/typo` removed shop/www, then refused.
		var errs []string
		found := map[string][]volumeInfo{}
		for _, p := range projects {
			vs, err := volumesNamed(p, names[p])
			if err != nil {
				errs = append(errs, err.Error())
			}
			found[p] = vs
		}
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "\nnsup: "))
		}
		for _, p := range projects {
			if err := removeFound(ios, p, found[p], true); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "\nnsup: "))
		}
		return nil
	}
	return usageError{fmt.Sprintf("volume takes ls or rm, not %q", rest[0])}
}

// qualified says whether every volume rm argument names its project
// (PROJECT/NAME): the project here is not needed then.
func qualified(args []string) bool {
	for _, a := range args {
		if !strings.Contains(a, "/") {
			return false
		}
	}
	return true
}

// removeVolumes removes volumes names of project (all of them if names is
// nil), refusing any a running environment uses; an unknown name is an
// error, with the nearest name.
func removeVolumes(ios ioSet, project string, names []string) error {
	vs, err := volumesNamed(project, names)
	if err != nil {
		return err
	}
	return removeFound(ios, project, vs, names != nil)
}

// volumesNamed are the volumes names of project (all of them if names is
// nil), each name checked: an unknown one is an error, with the nearest
// name. It removes nothing.
func volumesNamed(project string, names []string) ([]volumeInfo, error) {
	// The volume folder and the project's, the caller's alone and reached
	// through no link, as apply checks them (helper-109's review: a host
	// user who could write the volume folder made the project's a link,
	// and every folder where it led was removed).
	if err := lifecycle.CheckVolumeProjectDir(filepath.Join(planner.DefaultVolumeDir(), project)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("volume rm: nothing removed: %w", err)
	}
	vs, err := volumes(project)
	if err != nil {
		return nil, err
	}
	var known []string
	for _, v := range vs {
		known = append(known, v.name)
	}
	var errs []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			msg := fmt.Sprintf("volume rm: project %s has no volume %q", project, n)
			if near := spec.Suggest(n, known); near != "" {
				msg += ": did you mean " + near + "?"
			}
			errs = append(errs, msg)
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\nnsup: "))
	}
	if names == nil {
		return vs, nil
	}
	var out []volumeInfo
	for _, v := range vs {
		if slices.Contains(names, v.name) {
			out = append(out, v)
		}
	}
	return out, nil
}

// removeFound removes the volumes vs of project (volumesNamed), refusing
// any a running environment uses; named says they were named (a volume
// with only its lock file left says so).
func removeFound(ios ioSet, project string, vs []volumeInfo, named bool) error {
	var errs []string
	for _, v := range vs {
		if len(v.users) > 0 {
			errs = append(errs, fmt.Sprintf("volume %s/%s: in use by %s: kept", v.project, v.name, strings.Join(v.users, ", ")))
			continue
		}
		if err := removeVolume(v); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		switch {
		case !v.lockOnly:
			fmt.Fprintf(ios.stdout, "volume %s/%s: removed\n", v.project, v.name)
		case named: // what was left of it is gone
			fmt.Fprintf(ios.stdout, "volume %s/%s: removed its lock file (its folder was gone)\n", v.project, v.name)
		}
	}
	os.Remove(filepath.Join(planner.DefaultVolumeDir(), project)) // the project's folder, if that was its last
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\nnsup: "))
	}
	return nil
}

// removeVolume removes v with its lock file, the lock held exclusive
// meanwhile: refused if an nsup apply holds it (a foreground environment
// uses the volume: found by a review, only detached ones were seen), and
// an apply that starts meanwhile fails (executor.LockVolume).
func removeVolume(v volumeInfo) error {
	lock := planner.VolumeLockPath(filepath.Dir(filepath.Dir(v.path)), v.project, v.name)
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := executor.LockVolume(f, true); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			users := strings.Join(lockHolders(lock), ", ")
			return fmt.Errorf("volume %s/%s: in use by %s: kept", v.project, v.name, cmp.Or(users, "an environment in the foreground"))
		}
		return err
	}
	// Looked at again, the lock held: a detached apply that held it
	// when volumes looked has recorded its environment since, and let go.
	running, err := runningEnvs()
	if err != nil {
		return err
	}
	if users := recordedUsers(running, v.path); len(users) > 0 {
		return fmt.Errorf("volume %s/%s: in use by %s: kept", v.project, v.name, strings.Join(users, ", "))
	}
	if v.lockOnly {
		// Its folder removed by hand: the lock is all that is left,
		// unless an apply made the folder before the lock was ours.
		if _, err := os.Lstat(v.path); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("volume %s/%s: made meanwhile: kept", v.project, v.name)
		}
	} else if err := os.RemoveAll(v.path); err != nil {
		return removeError(v, err)
	}
	return os.Remove(lock)
}

// removeError is volume rm's error for a folder it could not remove
// whole. Rootless, what is left may be a subordinate uid's, written by a
// user of an idmap inside, which the caller may not remove: the error
// said only "openfdat PATH: permission denied" (helper-133's review).
func removeError(v volumeInfo, err error) error {
	if os.Geteuid() != 0 && errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("volume %s/%s: %w: removed in part; what is left is another uid's (one of your subordinate ids: a user of an idmap wrote it), which you may not remove: remove it from an environment of that idmap that mounts the volume and runs rm -rf in it as user 0, then nsup volume rm again (or as the host's root)", v.project, v.name, err)
	}
	return fmt.Errorf("volume %s/%s: %w", v.project, v.name, err)
}

// lockHolders names the processes that hold the lock file p locked
// (lifecycle.LockHolders): the nsup applies that run an environment
// using the volume, "PROJECT/ENV (nsup apply, pid N)" by their records
// in the lock (executor.VolumeLockUsers), else by their command line,
// "nsup apply ... (pid N)".
func lockHolders(p string) []string {
	var out []string
	envs := executor.VolumeLockUsers(p)
	for _, pid := range lifecycle.LockHolders(p) {
		if env := envs[pid]; env != "" {
			out = append(out, fmt.Sprintf("%s/%s (nsup apply, pid %s)", filepath.Base(filepath.Dir(p)), env, pid))
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		argv := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(argv) > 0 {
			argv[0] = filepath.Base(argv[0])
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s (pid %s)", strings.Join(argv, " "), pid)))
	}
	return out
}
