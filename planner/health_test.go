package planner

import (
	"strings"
	"testing"
)

// TestHealthPlan: a restart policy or a healthcheck gives a single
// foreground process nsup's init (not the minimal monitor) and shows on
// its spawn step; depends_on: {db: healthy} plans db first and a wait for
// its health as web's first host step (after its lock, detached, with db
// released first), bounded by what db's healthcheck needs to decide.
func TestHealthPlan(t *testing.T) {
	const yaml = `
version: 1
environments:
  web:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {db: healthy}
    processes:
      - {name: main, command: [/bin/sh], restart: on-failure:3}
  db:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh]
        restart: always
        healthcheck: {command: [sh, -c, "true"], interval: 1s, timeout: 2s, retries: 2, start_period: 5s}
`
	p, err := compileText(t, yaml, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Environments[0].Name != "db" || p.Environments[1].Name != "web" {
		t.Fatalf("order: %s, %s", p.Environments[0].Name, p.Environments[1].Name)
	}
	var spawn Spawn
	for _, st := range ops(p, "db") {
		if _, ok := st.Op.(Monitor); ok {
			t.Errorf("db has the minimal monitor, which cannot restart nor check health")
		}
		if s, ok := st.Op.(Spawn); ok {
			spawn = s
		}
	}
	if spawn.Restart == nil || spawn.Restart.Policy != "always" || spawn.Healthcheck == nil ||
		spawn.Healthcheck.Path != "/bin/sh" || spawn.Healthcheck.IntervalMs != 1000 || spawn.Healthcheck.TimeoutMs != 2000 ||
		spawn.Healthcheck.Retries != 2 || spawn.Healthcheck.StartPeriodMs != 5000 {
		t.Errorf("db's spawn: %+v %+v %+v", spawn, spawn.Restart, spawn.Healthcheck)
	}
	txt := FormatOp(spawn)
	for _, want := range []string{`restart always: restarted whatever its exit status`, `the environment ends only when stopped`,
		`healthcheck ["/bin/sh", "-c", "true"] as this process, every 1s, killed after 2s, unhealthy after 2 failures in a row, failures in its first 5s not counted`} {
		if !strings.Contains(txt, want) {
			t.Errorf("db's spawn renders %q, without %q", txt, want)
		}
	}
	w, ok := ops(p, "web")[0].Op.(WaitHealthy)
	// 5s + 3 × (1s + 2s) + 10s
	if !ok || w.Env != "db" || w.Process != "main" || w.TimeoutMs != 24000 || w.Release {
		t.Errorf("web's first step: %+v", ops(p, "web")[0])
	}
	if d := p.Environments[1].DependsOn; len(d) != 1 || d[0] != (Dependency{Env: "db", Condition: "healthy"}) {
		t.Errorf("web's dependsOn: %+v", d)
	}
	if txt := FormatOp(ops(p, "web")[len(ops(p, "web"))-7].Op); !strings.Contains(txt, "restart on-failure:3: restarted if it exits non-zero, 3 times at most") {
		t.Errorf("web's spawn: %s", txt)
	}

	p, err = compileText(t, yaml, Options{Detach: true, StateDir: t.TempDir(), Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	st := ops(p, "web")
	if w, ok := st[2].Op.(WaitHealthy); !ok || !w.Release || st[1].Op.Syscall() != "flock" {
		t.Errorf("detached, web's steps begin %v %v %v", FormatOp(st[0].Op), FormatOp(st[1].Op), FormatOp(st[2].Op))
	}
}

// TestHealthPlanErrors: what nsup's init cannot do without itself, and a
// wait for health of an environment without a healthcheck.
func TestHealthPlanErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{`
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    init: false
    processes: [{name: main, command: [/bin/sh], restart: always, healthcheck: {command: [/bin/sh]}}]
`, "t.yaml:8:59: environments.a.processes[0].restart: a restart policy needs nsup's init, which restarts the process: remove init: false\n" +
			"t.yaml:8:80: environments.a.processes[0].healthcheck: a healthcheck needs nsup's init, which runs it: remove init: false"},
		{`
version: 1
environments:
  db:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    processes: [{name: server, command: [/bin/sh]}]
  web:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    depends_on: {db: healthy}
    processes: [{name: main, command: [/bin/sh]}]
`, `t.yaml:11:18: environments.web.depends_on.db: db's main process "server" has no healthcheck: give it one, or depend on db with started`},
		{`
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    processes: [{name: main, command: [/bin/sh], healthcheck: {command: [nope]}}]
`, `environments.a.processes[0].healthcheck.command[0]: "nope" not found in the rootfs`},
	} {
		_, err := compileText(t, c.yaml, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}
