package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// varsSpec binds ${HOME}/data and sets TAG from ${TAG:-dev}; its main
// process prints what it got.
const varsSpec = `version: 1
environments:
  app:
    rootfs: {closure: [/bin/sh, /bin/cat]}
    namespaces: [mnt, pid, uts]
    hostname: ${HOSTNAME_FOR_TEST:-box}
    env:
      TAG: ${TAG:-dev}
      FROM_FILE: ${FROM_FILE}
    mounts:
      - {type: bind, source: ~/data, target: /data}
    processes:
      - {name: main, command: [/bin/sh, -c, 'echo "tag=$$TAG file=$$FROM_FILE"; cat /data/x']}
`

func varsDir(t *testing.T) (dir, home string) {
	t.Helper()
	dir = t.TempDir()
	home = filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, "data"), 0o755)
	os.WriteFile(filepath.Join(home, "data", "x"), []byte("bound\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "nsup.yaml"), []byte(varsSpec), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("FROM_FILE=dotenv\nTAG=from-file\n"), 0o644)
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("HOME", home)
	os.Unsetenv("HOSTNAME_FOR_TEST")
	os.Unsetenv("FROM_FILE")
	return dir, home
}

// A spec with ${HOME} (as ~) and ${TAG:-dev} plans to the caller's values,
// and the plan says where each came from; validate lists them too.
func TestPlanVariables(t *testing.T) {
	dir, home := varsDir(t)
	f := filepath.Join(dir, "nsup.yaml")
	t.Setenv("TAG", "prod")
	code, out, errs := nsup(t, "plan", f)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errs)
	}
	for _, want := range []string{
		"# variables (from nsup's environment, else " + filepath.Join(dir, ".env") + "):",
		"# " + f + `:6:15 ${HOSTNAME_FOR_TEST:-box} = "box" (the reference's default)`,
		"# " + f + `:8:12 ${TAG:-dev} = "prod" (nsup's environment)`,
		"# " + f + `:9:18 ${FROM_FILE} = "dotenv" (` + filepath.Join(dir, ".env") + `:1)`,
		"# " + f + `:11:30 ~ = "` + home + `" (nsup's environment)`,
		`sethostname("box")`,
		`"TAG=prod"`,
		`"` + home + `/data"`,
	} {
		if !strings.Contains(squeeze(out), want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	// Unset in the environment: the .env's value (nsup's environment
	// first, then the file).
	os.Unsetenv("TAG")
	_, out, _ = nsup(t, "plan", f)
	if !strings.Contains(out, `"TAG=from-file"`) {
		t.Errorf("without TAG in the environment, the .env's TAG: %s", out)
	}
	// --env-file instead of the .env beside the spec: TAG's default.
	other := filepath.Join(dir, "ci.env")
	os.WriteFile(other, []byte("FROM_FILE=ci\n"), 0o644)
	_, out, _ = nsup(t, "plan", "--env-file", other, f)
	if !strings.Contains(out, `"TAG=dev"`) || !strings.Contains(out, `"FROM_FILE=ci"`) {
		t.Errorf("--env-file: %s", out)
	}
	code, out, _ = nsup(t, "validate", f)
	if code != 0 || !strings.Contains(out, `${TAG:-dev} = "from-file"`) {
		t.Errorf("validate: %d %s", code, out)
	}
	// As written: ~/data is a folder of the spec's, which does not exist,
	// but validate checks only the file.
	code, out, errs = nsup(t, "validate", "--no-interpolate", f)
	if code != 0 || !strings.Contains(out, "values as written") || strings.Contains(out, "variables") {
		t.Errorf("validate --no-interpolate: %d %s %s", code, out, errs)
	}
	// Unset, with no default: an error at the reference, exit 2, nothing
	// planned.
	os.Remove(filepath.Join(dir, ".env"))
	code, out, errs = nsup(t, "plan", f)
	if code != 2 || out != "" || !strings.Contains(errs, f+":9:18: FROM_FILE is not set") {
		t.Errorf("unset: %d %q %s", code, out, errs)
	}
}

// squeeze is text with each run of spaces made one: the plan's columns
// are aligned.
func squeeze(text string) string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

// A saved plan holds the values of its time: applied after a variable
// changed, it is refused as stale.
func TestSavedPlanVariables(t *testing.T) {
	dir, _ := varsDir(t)
	f := filepath.Join(dir, "nsup.yaml")
	saved := filepath.Join(dir, "plan.json")
	t.Setenv("TAG", "one")
	if code, _, errs := nsup(t, "plan", f, "-o", saved); code != 0 {
		t.Fatal(errs)
	}
	t.Setenv("TAG", "two")
	code, _, errs := nsup(t, "apply", saved)
	if code != 2 || !strings.Contains(errs, "TAG=two") {
		t.Errorf("apply of a plan whose variable changed: %d %s", code, errs)
	}
}

// Applied, the values are the environment's, from inside.
func TestRootVariables(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, _ := varsDir(t)
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	t.Setenv("TAG", "prod")
	code, out, errs := nsup(t, "apply", filepath.Join(dir, "nsup.yaml"))
	if code != 0 || out != "tag=prod file=dotenv\nbound\n" {
		t.Errorf("apply: %d %q %s", code, out, errs)
	}
}
