package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRootPsHealth: nsup apply -d of db, whose healthcheck fails and one
// of whose processes crashes (restart: on-failure:3), and web, which
// depends on db being healthy: apply -d lists db running and web not
// started, says why and exits 1; nsup ps shows db unhealthy with its 3
// restarts, and web not started and why (in its table and --json); nsup
// down removes both.
func TestRootPsHealth(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(`version: 1
name: health
environments:
  db:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/busybox, sleep, "1000"]
        healthcheck: {command: [/bin/busybox, sh, -c, "echo no; exit 1"], interval: 50ms, retries: 3}
      - name: crash
        command: [/bin/busybox, sh, -c, "exit 1"]
        restart: on-failure:3
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    depends_on: {db: healthy}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`), 0o644)
	nsupBin := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NSUP_STATE_DIR="+state, "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"), "NO_COLOR=1")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	mountsBefore := hostSnapshot()
	t.Cleanup(func() { nsupBin("down", f) })

	const why = "db is unhealthy: its healthcheck failed 3 times in a row, the last: exit status 1: no"
	code, out, errs := nsupBin("apply", "-d", f)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], "db   running  pid ") || lines[1] != "web  not started: "+why ||
		errs != "nsup: not started: web: "+why+"\n" {
		t.Fatalf("apply -d: %d\n%s%s", code, out, errs)
	}
	// crash: 3 restarts, after 700ms of back-off, then down.
	var ps []struct {
		Name, Status, Health string
		Running              bool
		Restarts             int
		Processes            []struct {
			Name      string
			Running   bool
			Restarts  int
			LastExit  *int
			Health    string
			HealthLog string
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, out, errs = nsupBin("ps", "--json")
		if err := json.Unmarshal([]byte(out), &ps); err != nil || code != 0 || len(ps) != 2 {
			t.Fatalf("ps --json: %d %v %s%s", code, err, out, errs)
		}
		// Down for good: 3 restarts, and the last run over.
		if ps[0].Restarts == 3 && len(ps[0].Processes) == 2 && !ps[0].Processes[1].Running || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	db, web := ps[0], ps[1]
	if db.Name != "db" || !db.Running || db.Health != "unhealthy" || db.Restarts != 3 || len(db.Processes) != 2 ||
		db.Processes[0].HealthLog != "exit status 1: no" || db.Processes[1].Restarts != 3 || db.Processes[1].Running ||
		db.Processes[1].LastExit == nil || *db.Processes[1].LastExit != 1 {
		t.Errorf("ps --json, db: %+v", db)
	}
	if web.Name != "web" || web.Running || web.Status != "not started: "+why || web.Health != "" || len(web.Processes) != 0 {
		t.Errorf("ps --json, web: %+v", web)
	}
	code, out, _ = nsupBin("ps")
	t.Logf("nsup ps:\n%s", out)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "PROJECT  NAME  STATUS") ||
		!strings.Contains(lines[0], "  HEALTH     RESTARTS  PID") ||
		len(strings.Fields(lines[1])) < 5 || strings.Join(strings.Fields(lines[1])[:5], " ") != "health db running unhealthy 3" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[2]), " "), "health web "+truncated("not started: "+why, psStatusWidth)+" - - -") {
		t.Errorf("ps: %d %q", code, out)
	}
	code, out, errs = nsupBin("down", f)
	if want := "health/web: was not started, removed\nhealth/db: stopped (status 143), removed\n"; code != 0 || out != want {
		t.Errorf("down: %d %q %s, want %q", code, out, errs, want)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
	if after := hostSnapshot(); after != mountsBefore {
		t.Errorf("the host changed:\nbefore:\n%s\nafter:\n%s", mountsBefore, after)
	}
}
