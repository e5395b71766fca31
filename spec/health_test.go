package spec

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRestartHealthcheckDependsOn: restart policies, a healthcheck with
// its defaults and with every key, depends_on in both forms, and the
// order depends_on gives (each environment after those it depends on).
func TestRestartHealthcheckDependsOn(t *testing.T) {
	s := mustParse(t, `version: 1
environments:
  web:
    rootfs: {dir: /r}
    namespaces: [mnt, pid]
    depends_on: {db: healthy, cache: started}
    processes:
      - name: main
        command: [/bin/true]
        restart: always
        children:
          - {name: a, command: [/bin/true], restart: "no"}
          - {name: b, command: [/bin/true], restart: no}
          - {name: c, command: [/bin/true], restart: on-failure}
          - {name: d, command: [/bin/true], restart: on-failure:3}
          - {name: e, command: [/bin/true], restart: false}
  db:
    rootfs: {dir: /r}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/true]
        healthcheck: {command: [/bin/sh, -c, "test -e /ready"]}
      - name: other
        command: [/bin/true]
        healthcheck: {command: [/bin/true], interval: 100ms, timeout: 1s, retries: 5, start_period: 0s}
  cache:
    rootfs: {dir: /r}
    namespaces: [mnt, pid]
    depends_on: [db]
    processes:
      - {name: main, command: [/bin/true]}
`)
	web, db, cache := s.Env("web"), s.Env("db"), s.Env("cache")
	var got []*Restart
	got = append(got, web.Process[0].Restart)
	for _, c := range web.Process[0].Children {
		got = append(got, c.Restart)
	}
	want := []*Restart{{Policy: RestartAlways}, nil, nil, {Policy: RestartOnFailure}, {Policy: RestartOnFailure, Max: 3}, nil}
	if diff := cmp.Diff(want, got, ignorePos); diff != "" {
		t.Errorf("restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&Healthcheck{Command: []string{"/bin/sh", "-c", "test -e /ready"}, Interval: 30 * time.Second, Timeout: 30 * time.Second, Retries: 3},
		db.Process[0].Healthcheck, ignorePos); diff != "" {
		t.Errorf("healthcheck with defaults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&Healthcheck{Command: []string{"/bin/true"}, Interval: 100 * time.Millisecond, Timeout: time.Second, Retries: 5},
		db.Process[1].Healthcheck, ignorePos); diff != "" {
		t.Errorf("healthcheck (-want +got):\n%s", diff)
	}
	if web.Process[0].Healthcheck != nil {
		t.Errorf("a healthcheck where none is written: %+v", web.Process[0].Healthcheck)
	}
	if diff := cmp.Diff([]Dependency{{Env: "db", Condition: DependsHealthy}, {Env: "cache", Condition: DependsStarted}}, web.DependsOn, ignorePos); diff != "" {
		t.Errorf("web's depends_on (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Dependency{{Env: "db", Condition: DependsStarted}}, cache.DependsOn, ignorePos); diff != "" {
		t.Errorf("cache's depends_on (-want +got):\n%s", diff)
	}
	var order []string
	envs, _ := s.JoinOrder()
	for _, e := range envs {
		order = append(order, e.Name)
	}
	if diff := cmp.Diff([]string{"db", "cache", "web"}, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	// Asked for web alone, what it depends on comes along.
	order = nil
	envs, _ = s.JoinOrder("web")
	for _, e := range envs {
		order = append(order, e.Name)
	}
	if diff := cmp.Diff([]string{"db", "cache", "web"}, order); diff != "" {
		t.Errorf("order of web (-want +got):\n%s", diff)
	}
}
