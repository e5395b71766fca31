package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// TestRootGoDevBox: examples/godev.yaml runs `go test ./...` of its module
// with the host's Go toolchain, bound read-only in a root of host folders
// (rootfs.host); `go` is found in the bound /usr at plan time. And
// examples/pybox.yaml, as root.
func TestRootGoDevBox(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if _, err := os.Stat("/usr/local/go/bin/go"); err != nil {
		if _, err := exec.LookPath("go"); err != nil {
			skipOrFail(t, "needs Go on the host")
		}
	}
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	code, plan, errs := nsup(t, "plan", "../../examples/godev.yaml")
	if code != 0 || !strings.Contains(plan, "bound folder") || !strings.Contains(plan, "not copied, not locked") {
		t.Errorf("plan: %d %s\n%s", code, errs, plan)
	}
	code, out, errs := nsup(t, "apply", "../../examples/godev.yaml")
	if code != 0 || !strings.Contains(out, "ok  \texample.com/godev") {
		t.Errorf("apply: exit %d\n%s%s", code, out, errs)
	}
	// And the Python box, as root (rootless: TestRootRootlessExamples).
	code, out, errs = nsup(t, "apply", "../../examples/pybox.yaml")
	if code != 0 || !strings.Contains(out, `"row": ["python", "ok"]`) || strings.Contains(out, `"cas": 0`) {
		t.Errorf("apply pybox: exit %d\n%s%s", code, out, errs)
	}
}

// TestRootHostRootC: a C program compiled by the host's gcc in a root of
// host folders, and run there; the root holds none of the host's files
// itself (its /etc has only nsup's passwd and group); root and rootless.
func TestRootHostRootC(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		skipOrFail(t, "needs gcc (apt-get install gcc libc6-dev)")
	}
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	f := filepath.Join(dir, "c.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  cdev:
    rootfs: {host: [/usr]}
    namespaces: [mnt, pid, net]
    mounts: [{type: tmpfs, target: /tmp}]
    processes:
      - name: main
        command: [sh, -c, 'printf "#include <stdio.h>\nint main(void) { puts(\"hello from C\"); return 0; }\n" > /tmp/hello.c && gcc -o /tmp/hello /tmp/hello.c && /tmp/hello && ls /etc && id']
`), 0o644)
	// /etc holds only nsup's passwd and group (the host's /etc is not
	// bound), which name root.
	for _, who := range []string{"root", "rootless"} {
		t.Run(who, func(t *testing.T) {
			code, out, errs := runAs(t, who, u, dir, bin, cache, "apply", f)
			if code != 0 || !strings.Contains(out, "hello from C\ngroup\npasswd\nuid=0(root) gid=0(root) groups=0(root)\n") {
				t.Errorf("exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

// runAs runs nsup as root (in this process) or as the test user.
func runAs(t *testing.T, who string, u testUser, dir, bin, cache string, args ...string) (int, string, string) {
	t.Helper()
	if who == "root" {
		t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "root-cache"))
		return nsup(t, args...)
	}
	return u.as(t, []string{"XDG_CACHE_HOME=" + cache}, append([]string{bin}, args...)...)
}

// TestRootScriptCommand: a script named as the command, in a closure,
// runs: its #! interpreter (through /usr/bin/env) came with it; root and
// rootless.
func TestRootScriptCommand(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	script := filepath.Join(dir, "greet")
	os.WriteFile(script, []byte("#!/usr/bin/env sh\necho \"hello from a script, run by $0\"\n"), 0o755)
	f := filepath.Join(dir, "s.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  shim:
    rootfs: {closure: [`+script+`]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [`+script+`]}
`), 0o644)
	for _, who := range []string{"root", "rootless"} {
		t.Run(who, func(t *testing.T) {
			code, out, errs := runAs(t, who, u, dir, bin, cache, "apply", f)
			if code != 0 || !strings.Contains(out, "hello from a script, run by "+script) {
				t.Errorf("exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

// TestRootTerminal: a shell given nsup's terminal (a pty the test makes,
// nsup's controlling terminal) has it as its own: tty names it
// (/dev/console, bound from it), TERM is the caller's, and id, whoami and
// HOME name root from nsup's /etc/passwd (the closure has none); root and
// rootless.
func TestRootTerminal(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	f := filepath.Join(dir, "tty.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  box:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts: [{type: dev, target: /dev}, {type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, 'echo "TERM=$$TERM"; /bin/busybox tty; /bin/busybox id; /bin/busybox whoami; echo "HOME=$$HOME"; /bin/busybox ps -o tty,comm | /bin/busybox grep -c console']}
`), 0o644)
	for _, who := range []string{"root", "rootless"} {
		t.Run(who, func(t *testing.T) {
			m, _, s, err := lifecycle.OpenPty()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			slave := os.NewFile(uintptr(s), "pts")
			var cmd *exec.Cmd
			if who == "root" {
				cmd = exec.Command(bin, "apply", f)
				cmd.Env = []string{"PATH=/usr/bin:/bin", "TERM=xterm-nsuptest", "NSUP_CACHE_DIR=" + filepath.Join(dir, "root-cache")}
			} else {
				unix.Fchown(s, u.uid, u.gid)
				cmd = u.command([]string{"XDG_CACHE_HOME=" + cache, "TERM=xterm-nsuptest"}, bin, "apply", f)
			}
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			slave.Close()
			unix.SetNonblock(int(m.Fd()), false)
			done := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(m) // EIO once the last holder of the slave is gone
				done <- b
			}()
			cmd.Wait()
			var out string
			select {
			case b := <-done:
				out = strings.ReplaceAll(string(b), "\r\n", "\n")
			case <-time.After(10 * time.Second):
				t.Fatal("the terminal's output did not end")
			}
			for _, w := range []string{"TERM=xterm-nsuptest\n", "/dev/console\n", "uid=0(root) gid=0(root)", "\nroot\n", "HOME=/root\n"} {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}
}

// TestRootTerminalOtherUser: with nsup's terminal, a process of another
// user than the main process gets an empty pipe as its stdin, not the
// terminal: a review's main process, user 1000, typed commands into the
// terminal with TIOCSTI, and root's child process that read its stdin
// ran them as root. A process of the main process's user keeps it.
func TestRootTerminalOtherUser(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "tty.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  box:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts: [{type: dev, target: /dev}, {type: proc, target: /proc}]
    user: "1000:1000"
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, '/bin/busybox test -t 0 && echo MAIN-TTY; /bin/busybox sleep 1']
        children:
          - {name: rootkid, user: "0:0", command: [/bin/busybox, sh, -c, '/bin/busybox test -t 0 && echo ROOT-TTY || echo ROOT-NOTTY']}
          - {name: samekid, command: [/bin/busybox, sh, -c, '/bin/busybox test -t 0 && echo SAME-TTY || echo SAME-NOTTY']}
`), 0o644)
	m, _, s, err := lifecycle.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	slave := os.NewFile(uintptr(s), "pts")
	cmd := exec.Command(buildNsup(t), "apply", f)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "NO_COLOR=1", "NSUP_CACHE_DIR=" + filepath.Join(dir, "cache")}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	unix.SetNonblock(int(m.Fd()), false)
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(m)
		done <- b
	}()
	cmd.Wait()
	var out string
	select {
	case b := <-done:
		out = strings.ReplaceAll(string(b), "\r\n", "\n")
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	for _, w := range []string{"MAIN-TTY", "ROOT-NOTTY", "SAME-TTY"} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in:\n%s", w, out)
		}
	}
}

// TestRootRunAndShell: nsup run replaces the environment's processes by
// one command and removes it after, with the command's status; its spec
// is found as nsup.yaml in a folder above; nsup shell opens a shell (the
// first of $SHELL, bash, sh the tree has) in a fresh environment, or in a
// running detached one.
func TestRootRunAndShell(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	t.Setenv("SHELL", "/bin/no-such-shell")
	os.WriteFile(filepath.Join(dir, "nsup.yaml"), []byte(`version: 1
environments:
  box:
    rootfs: {closure: [/bin/sh, /bin/sleep]}
    namespaces: [mnt, pid]
    env: {WHO: box}
    processes:
      - {name: main, command: [/bin/sh, -c, "echo the declared process; sleep 100"]}
`), 0o644)
	sub := filepath.Join(dir, "src", "deep")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	code, out, errs := nsup(t, "run", "box", "--", "sh", "-c", `echo "ran in $WHO, pid $$"; exit 3`)
	if code != 3 || out != "ran in box, pid 2\n" {
		t.Errorf("run: %d %q %s", code, out, errs)
	}
	code, out, errs = nsup(t, "run", filepath.Join(dir, "nsup.yaml"), "nobox", "--", "true")
	if code != 2 || !strings.Contains(errs, `has no environment "nobox" (it has box)`) {
		t.Errorf("run of an unknown environment: %d %q", code, errs)
	}
	// A fresh shell: $SHELL is not in the tree, bash neither: sh.
	var o, e strings.Builder
	code = run(context.Background(), []string{"shell"}, strings.NewReader("echo in the shell $WHO; exit 4\n"), &o, &e)
	if code != 4 || o.String() != "in the shell box\n" {
		t.Errorf("shell: %d %q %s", code, o.String(), e.String())
	}
	// In the running environment.
	if code, out, errs := nsup(t, "apply", "-d", filepath.Join(dir, "nsup.yaml")); code != 0 {
		t.Fatalf("apply -d: %d %s %s", code, out, errs)
	}
	defer nsup(t, "down", "box")
	o.Reset()
	e.Reset()
	code = run(context.Background(), []string{"shell", "box"}, strings.NewReader("echo in the running $WHO, not pid $$; exit 5\n"), &o, &e)
	if code != 5 || !strings.HasPrefix(o.String(), "in the running box, not pid ") || o.String() == "in the running box, not pid 2\n" {
		t.Errorf("shell in the running environment: %d %q %s", code, o.String(), e.String())
	}
	// Its input a file: the shells tried before sh ($SHELL, bash) must
	// not have taken it. Each attempt had a copy of its own, which read
	// the file into a pipe the failed attempt then closed.
	script := filepath.Join(dir, "script.sh")
	os.WriteFile(script, []byte("echo from the file in $WHO; exit 6\n"), 0o644)
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o.Reset()
	e.Reset()
	code = run(context.Background(), []string{"shell", "box"}, f, &o, &e)
	if code != 6 || o.String() != "from the file in box\n" {
		t.Errorf("shell in the running environment, input a file: %d %q %s", code, o.String(), e.String())
	}
	if code, out, errs := nsup(t, "down", "box"); code != 0 {
		t.Errorf("down: %d %s %s", code, out, errs)
	}
}

// TestRootPythonBox: a closure by package (python3, ca-certificates) and
// the CA bundle: json, sqlite3 and ssl import, and a TLS connection over
// the environment's loopback verifies a certificate chain the test makes
// (its own CA, offline); root and rootless.
func TestRootPythonBox(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if out, err := exec.Command("dpkg", "-s", "python3", "ca-certificates").CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("needs Debian's python3 and ca-certificates (apt-get install python3 ca-certificates): %v %s", err, out))
	}
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	certs := filepath.Join(dir, "certs")
	os.Mkdir(certs, 0o755)
	writeChain(t, certs)
	os.WriteFile(filepath.Join(certs, "check.py"), []byte(`import json, socket, sqlite3, ssl, threading
db = sqlite3.connect(":memory:")
db.execute("create table t (k text)")
db.execute("insert into t values ('sqlite ok')")
srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
srv.load_cert_chain("/certs/leaf.pem", "/certs/leaf.key")
ls = socket.create_server(("127.0.0.1", 0))
port = ls.getsockname()[1]
def serve():
    c, _ = ls.accept()
    with srv.wrap_socket(c, server_side=True) as s:
        s.sendall(b"hello over tls")
threading.Thread(target=serve, daemon=True).start()
cli = ssl.create_default_context(cafile="/certs/ca.pem")
with cli.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as s:
    got = s.recv(100).decode()
print(json.dumps({"db": db.execute("select k from t").fetchone()[0], "tls": got, "verified": cli.verify_mode == ssl.CERT_REQUIRED, "bundled_cas": len(ssl.create_default_context().get_ca_certs())}))
`), 0o644)
	f := filepath.Join(dir, "py.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  py:
    rootfs:
      closure: {packages: [python3, ca-certificates], files: [/etc/ssl/certs/ca-certificates.crt]}
    namespaces: [mnt, pid, net]
    mounts: [{type: bind, source: `+certs+`, target: /certs, readonly: true}]
    processes:
      - {name: main, command: [python3, /certs/check.py]}
`), 0o644)
	for _, who := range []string{"root", "rootless"} {
		t.Run(who, func(t *testing.T) {
			code, out, errs := runAs(t, who, u, dir, bin, cache, "apply", f)
			var r struct {
				DB, TLS    string
				Verified   bool
				BundledCAs int `json:"bundled_cas"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.DB != "sqlite ok" || r.TLS != "hello over tls" || !r.Verified || r.BundledCAs == 0 {
				t.Errorf("exit %d: %+v\n%s%s", code, r, out, errs)
			}
		})
	}
}

// writeChain writes a CA (ca.pem) and a leaf for localhost it signed
// (leaf.pem, leaf.key) into dir.
func writeChain(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nsup test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	for name, b := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "leaf.pem": {Type: "CERTIFICATE", Bytes: leafDER},
		"leaf.key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRootSpecFileTrust: a spec found by walking up (nsup run, nsup shell)
// is used only if it is its caller's (or root's), not writable by others,
// not a link, in a folder only its owner may replace it in; another is
// refused with its path, before anything is planned.
func TestRootSpecFileTrust(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sub := filepath.Join(dir, "work")
	os.Mkdir(sub, 0o755)
	spec := filepath.Join(dir, "nsup.yaml")
	text := []byte("version: 1\nenvironments:\n  box:\n    rootfs: {closure: [/bin/true]}\n    namespaces: [mnt]\n    processes: [{name: main, command: [/bin/true]}]\n")
	for _, tc := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"another user's", func() { os.WriteFile(spec, text, 0o644); os.Chown(spec, 4242, 4242) }, "belongs to uid 4242"},
		{"writable by others", func() { os.WriteFile(spec, text, 0o644); os.Chown(spec, 0, 0); os.Chmod(spec, 0o666) }, "others may write it"},
		{"a link", func() {
			os.WriteFile(filepath.Join(dir, "real.yaml"), text, 0o644)
			os.Symlink(filepath.Join(dir, "real.yaml"), spec)
		}, "not a regular file"},
		{"in a folder anyone may write", func() { os.WriteFile(spec, text, 0o644); os.Chmod(dir, 0o777) }, "anyone may replace it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(spec)
			os.Chmod(dir, 0o755)
			tc.setup()
			_, err := specFile(sub)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), spec+" found, but not used") {
				t.Errorf("%v, want %q", err, tc.want)
			}
		})
	}
	os.Remove(spec)
	os.Chmod(dir, os.ModeSticky|0o777) // sticky, as /tmp: only its owner may replace it
	os.WriteFile(spec, text, 0o644)
	if got, err := specFile(sub); err != nil || got != spec {
		t.Errorf("root's own spec in a sticky folder: %q %v", got, err)
	}
}
