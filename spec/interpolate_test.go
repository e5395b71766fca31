package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// varSpec is a spec whose env values and bind source are the text under
// test.
func varSpec(envValue, source string) string {
	return `version: 1
environments:
  app:
    rootfs: {dir: /srv/root}
    namespaces: [mnt]
    env:
      V: ` + envValue + `
    mounts:
      - {type: bind, source: ` + source + `, target: /data}
    processes:
      - {name: main, command: [/bin/true]}
`
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"HOME": "/home/ann", "TAG": "prod", "EMPTY": "", "PORT": "8080", "B": "bee"}
	for _, c := range []struct {
		value, want string
		from        string // of the first reference
	}{
		{`${TAG}`, "prod", FromEnvironment},
		{`$TAG`, "prod", FromEnvironment},
		{`"${TAG}-x"`, "prod-x", FromEnvironment},
		{`${NSUP_UNSET_1:-dev}`, "dev", FromDefault},
		{`${EMPTY:-dev}`, "dev", FromDefault},
		{`${EMPTY-dev}`, "", FromEnvironment},
		{`${NSUP_UNSET_1-dev}`, "dev", FromDefault},
		{`${TAG:+on}`, "on", FromDefault},
		{`${EMPTY:+on}`, "", FromUnset},
		{`${EMPTY+on}`, "on", FromDefault},
		{`${NSUP_UNSET_1:-${B}}`, "bee", FromDefault},
		{`"cost $$5, $${TAG}"`, "cost $5, ${TAG}", ""},
		{`${PORT}`, "8080", FromEnvironment}, // a number, read as the string it is
		{`${EMPTY}`, "", FromEnvironment},
		{`'$$$$'`, "$$", ""},
	} {
		t.Run(c.value, func(t *testing.T) {
			s, err := ParseBytesVars("s.yaml", "/spec", []byte(varSpec(c.value, "/x")), Vars{Lookup: lookupIn(env)})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Environments[0].Env[0].Value; got != c.want {
				t.Errorf("V = %q, want %q", got, c.want)
			}
			if c.from == "" {
				if len(s.Vars) != 0 {
					t.Errorf("Vars = %+v, want none", s.Vars)
				}
				return
			}
			if len(s.Vars) == 0 || s.Vars[0].From != c.from || s.Vars[0].Pos.Line != 7 {
				t.Errorf("Vars = %+v, want the first from %s on line 7", s.Vars, c.from)
			}
		})
	}
}

func TestInterpolateErrors(t *testing.T) {
	env := map[string]string{"HOME": "/home/ann", "EMPTY": ""}
	for _, c := range []struct{ value, source, want string }{
		{`${NSUP_UNSET_1}`, "/x", `s.yaml:7:10: NSUP_UNSET_1 is not set: set it in nsup's environment or in a .env file beside the spec, or give a default: ${NSUP_UNSET_1:-VALUE}`},
		{`"a $NSUP_UNSET_1"`, "/x", `s.yaml:7:13: NSUP_UNSET_1 is not set`},
		{`${EMPTY:?give the tag}`, "/x", `s.yaml:7:10: EMPTY is empty: give the tag`},
		{`${NSUP_UNSET_1?}`, "/x", `s.yaml:7:10: NSUP_UNSET_1 is not set: required`},
		{`"$(date)"`, "/x", `s.yaml:7:11: "$(date)": a $ that starts no variable: write $$ for a literal $`},
		{`"${#x}"`, "/x", `s.yaml:7:11: "${#x}": not a variable reference`},
		{`"${X"`, "/x", `s.yaml:7:11: "${X": unclosed ${`},
		{`"${X:=1}"`, "/x", `s.yaml:7:11: "${X:=1}": unknown form after X`},
		{`ok`, "~bob/x", `s.yaml:9:30: environments.app.mounts[0].source: ~bob: only ~ (nsup's caller's HOME) is expanded`},
		{`"` + strings.Repeat("${A:-", 9) + "x" + strings.Repeat("}", 9) + `"`, "/x", `references nested deeper than 8`},
		// Two at once: every error is reported.
		{`${NSUP_UNSET_1}`, `"${NSUP_UNSET_2}"`, "s.yaml:7:10: NSUP_UNSET_1 is not set"},
	} {
		t.Run(c.value+c.source, func(t *testing.T) {
			_, err := ParseBytesVars("s.yaml", "/spec", []byte(varSpec(c.value, c.source)), Vars{Lookup: lookupIn(env)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one with %q", err, c.want)
			}
			if strings.Contains(c.source, "NSUP_UNSET_2") && !strings.Contains(err.Error(), "s.yaml:9:31: NSUP_UNSET_2 is not set") {
				t.Errorf("err = %v, want the second reference's error too", err)
			}
		})
	}
}

// ~ at the start of a host path is the caller's HOME, shown in Vars;
// elsewhere it is a character; with Vars.Off it is one everywhere.
func TestHome(t *testing.T) {
	env := map[string]string{"HOME": "/home/ann"}
	s, err := ParseBytesVars("s.yaml", "/spec", []byte(varSpec(`"~/v"`, "~/cache")), Vars{Lookup: lookupIn(env)})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Environments[0].Mounts[0].Source; got != "/home/ann/cache" {
		t.Errorf("source = %q", got)
	}
	if got := s.Environments[0].Env[0].Value; got != "~/v" {
		t.Errorf("V = %q: only host paths expand ~", got)
	}
	if len(s.Vars) != 1 || s.Vars[0].Text != "~" || s.Vars[0].Pos != (Pos{9, 30}) {
		t.Errorf("Vars = %+v", s.Vars)
	}
	s, err = ParseBytesVars("s.yaml", "/spec", []byte(varSpec(`"${X}"`, "~/cache")), Vars{Lookup: lookupIn(env), Off: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Environments[0].Mounts[0].Source; got != "/spec/~/cache" {
		t.Errorf("source without interpolation = %q", got)
	}
	if got := s.Environments[0].Env[0].Value; got != "${X}" {
		t.Errorf("V without interpolation = %q", got)
	}
}

// A plain scalar takes the type of its new text: a number where one is
// wanted, a string where a string is.
func TestInterpolateTyped(t *testing.T) {
	y := strings.Replace(varSpec(`x`, "/x"), "    processes:", "    limits: {pids: \"${PIDS:-64}\"}\n    processes:", 1)
	s, err := ParseBytesVars("s.yaml", "/spec", []byte(y), Vars{Lookup: lookupIn(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if l := s.Environments[0].Limits; l == nil || l.Pids == nil || l.Pids.N != 64 {
		t.Errorf("limits = %+v", l)
	}
}

// The .env beside the spec: compose's format, nsup's environment first,
// its own errors with its own name; --env-file instead of it.
func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(spec, []byte(varSpec(`"${A}|${B}|${C}|${D}|${E}|${F}"`, "/x")), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte(`# settings
A=plain value # a comment
export B='single $x # kept'
C="double \"q\" \$ \\"
D=from-file
E=
F=a=b
`), 0o644)
	s, err := ParseVars(spec, Vars{Lookup: lookupIn(map[string]string{"D": "from-env"}), DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `plain value|single $x # kept|double "q" $ \|from-env||a=b`
	if got := s.Environments[0].Env[0].Value; got != want {
		t.Errorf("V = %q\nwant %q", got, want)
	}
	var froms []string
	for _, v := range s.Vars {
		froms = append(froms, v.From)
	}
	dotEnv := filepath.Join(dir, ".env")
	if diff := cmp.Diff([]string{dotEnv + ":2", dotEnv + ":3", dotEnv + ":4", FromEnvironment, dotEnv + ":6", dotEnv + ":7"}, froms); diff != "" {
		t.Errorf("froms (-want +got):\n%s", diff)
	}
	if s.EnvFile != dotEnv {
		t.Errorf("EnvFile = %q", s.EnvFile)
	}

	// Without DotEnv (ParseBytes), the file is not read.
	if _, err := ParseVars(spec, Vars{}); err == nil || !strings.Contains(err.Error(), "A is not set") {
		t.Errorf("without .env: %v", err)
	}

	// --env-file: another file, which must exist; a bad line is an error
	// of that file.
	other := filepath.Join(dir, "ci.env")
	os.WriteFile(other, []byte("A=1\nB 2\n3C=x\nC='open\n"), 0o644)
	_, err = ParseVars(spec, Vars{EnvFile: other, DotEnv: true})
	for _, w := range []string{other + `:2:1: "B 2": expected NAME=VALUE`, other + `:3:1: "3C": not a variable name`, other + `:4:3: unterminated single quote`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v\nwant %s", err, w)
		}
	}
	if _, err := ParseVars(spec, Vars{EnvFile: filepath.Join(dir, "none.env")}); err == nil || !strings.Contains(err.Error(), "--env-file: open") {
		t.Errorf("a missing --env-file: %v", err)
	}
}

// Keys are never interpolated; the plan's positions are those of the
// text as written, in a block scalar too.
func TestInterpolateKeysAndBlocks(t *testing.T) {
	y := `version: 1
environments:
  app:
    rootfs: {dir: /srv/root}
    namespaces: [mnt]
    env:
      $$KEY: v
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            echo one
              echo ${TAG}
`
	s, err := ParseBytesVars("s.yaml", "/spec", []byte(y), Vars{Lookup: lookupIn(map[string]string{"TAG": "t"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Environments[0].Env[0].Name; got != "$$KEY" {
		t.Errorf("key = %q, want it as written", got)
	}
	if got := s.Environments[0].Process[0].Command[2]; got != "echo one\n  echo t\n" {
		t.Errorf("command = %q", got)
	}
	if len(s.Vars) != 1 || s.Vars[0].Pos != (Pos{15, 20}) {
		t.Errorf("Vars = %+v, want ${TAG} at 15:20", s.Vars)
	}
}

// A .env beside the spec that others may write, or a link, is not read:
// its values would be the spec's.
func TestDotEnvTrust(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(spec, []byte(varSpec(`"${A}"`, "/x")), 0o644)
	env := filepath.Join(dir, ".env")
	os.WriteFile(env, []byte("A=1\n"), 0o666)
	os.Chmod(env, 0o666)
	_, err := ParseVars(spec, Vars{DotEnv: true})
	if err == nil || !strings.Contains(err.Error(), env+":1:1: not used: others may write it (mode 0666)") {
		t.Errorf("a world-writable .env: %v", err)
	}
	os.Remove(env)
	other := filepath.Join(t.TempDir(), "elsewhere.env")
	os.WriteFile(other, []byte("A=1\n"), 0o644)
	os.Symlink(other, env)
	if _, err := ParseVars(spec, Vars{DotEnv: true}); err == nil || !strings.Contains(err.Error(), "not used: it is not a regular file") {
		t.Errorf("a .env link: %v", err)
	}
	// Named with --env-file, it is the caller's choice.
	if s, err := ParseVars(spec, Vars{DotEnv: true, EnvFile: env}); err != nil || s.Environments[0].Env[0].Value != "1" {
		t.Errorf("--env-file of a link: %v", err)
	}
}

// Hostile sizes: many references to a large value are refused once the
// values would exceed maxExpanded; long lines of $$ and of references
// parse (their cost is BenchmarkInterpolateLongLine's).
func TestInterpolateBounds(t *testing.T) {
	big := strings.Repeat("x", 512<<10)
	y := varSpec(`"`+strings.Repeat("${B}", 20)+`"`, "/x")
	_, err := ParseBytesVars("s.yaml", "/spec", []byte(y), Vars{Lookup: lookupIn(map[string]string{"B": big})})
	if err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("20 copies of 512 KiB: %v", err)
	}
	y = varSpec(`"`+strings.Repeat("$$", 400<<10)+`"`, "/x")
	if _, err := ParseBytesVars("s.yaml", "/spec", []byte(y), Vars{}); err != nil {
		t.Fatal(err)
	}
	y = varSpec(`"`+strings.Repeat("${E}", 100<<10)+`"`, "/x")
	if _, err := ParseBytesVars("s.yaml", "/spec", []byte(y), Vars{Lookup: lookupIn(map[string]string{"E": ""})}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkInterpolateLongLine: a line of 100,000 references, whose
// positions are found in one pass (it was quadratic).
func BenchmarkInterpolateLongLine(b *testing.B) {
	y := []byte(varSpec(`"`+strings.Repeat("${E}", 100<<10)+`"`, "/x"))
	vars := Vars{Lookup: lookupIn(map[string]string{"E": ""})}
	for b.Loop() {
		if _, err := ParseBytesVars("s.yaml", "/spec", y, vars); err != nil {
			b.Fatal(err)
		}
	}
}
