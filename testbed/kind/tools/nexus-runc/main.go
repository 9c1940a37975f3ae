// nexus-runc: an OCI runtime wrapper for machines whose capability bounding set lacks
// CAP_SYS_RESOURCE (see docs/design/testbed.md, "kind"). It edits the OCI spec, then execs the
// real runc with the same arguments:
//
//   - create / run: in <bundle>/config.json (--bundle/-b, default "."), removes CAP_SYS_RESOURCE
//     from every list under process.capabilities, and clamps a negative process.oomScoreAdj to 0
//     (lowering the OOM score needs CAP_SYS_RESOURCE; CRI asks for -998 for every sandbox);
//   - exec: the same on the JSON file given by --process (-p).
//
// runc would otherwise ask the kernel for a capability it cannot have and fail with "unable to
// apply caps: operation not permitted" (docker run --privileged), or "can't get final child's
// PID from pipe: EOF" (a negative oomScoreAdj). The real runc is $NEXUS_RUNC_REAL, else the
// first of /usr/sbin/runc, /usr/bin/runc, /usr/local/sbin/runc, /usr/local/bin/runc that is
// not this program.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const dropCap = "CAP_SYS_RESOURCE"

// globalWithValue: runc's global flags that take a separate value.
var globalWithValue = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": false}

func main() {
	args := os.Args[1:]
	cmd, rest := command(args)
	var err error
	switch cmd {
	case "create", "run":
		err = fixFile(filepath.Join(flagValue(rest, "--bundle", "-b", "."), "config.json"), true)
	case "exec":
		if p := flagValue(rest, "--process", "-p", ""); p != "" {
			err = fixFile(p, false)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nexus-runc: %v\n", err)
		os.Exit(1)
	}
	real, err := realRunc()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nexus-runc: %v\n", err)
		os.Exit(1)
	}
	argv := append([]string{"runc"}, args...)
	err = syscall.Exec(real, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "nexus-runc: exec %s: %v\n", real, err)
	os.Exit(1)
}

// command finds runc's subcommand after the global flags; rest is what follows it.
func command(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, args[i+1:]
		}
		if !strings.Contains(a, "=") && globalWithValue[a] {
			i++
		}
	}
	return "", nil
}

// flagValue returns the value of --long/-short (as "--long V", "--long=V", "-s V" or "-s=V").
func flagValue(args []string, long, short, def string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, f := range []string{long, short} {
			if a == f && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, f+"=") {
				return a[len(f)+1:]
			}
		}
	}
	return def
}

// fixFile rewrites a spec (isSpec: process is under "process") or a process JSON file.
func fixFile(path string, isSpec bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	changed := false
	if isSpec {
		if p, ok := doc["process"]; ok {
			np, c, err := fixProcess(p)
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			if c {
				doc["process"], changed = np, true
			}
		}
	} else {
		np, c, err := fixProcess(raw)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if c {
			if err := json.Unmarshal(np, &doc); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".nexus-runc"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fixProcess(raw json.RawMessage) (json.RawMessage, bool, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, false, err
	}
	changed := false
	if c, ok := p["capabilities"]; ok {
		var caps map[string][]string
		if err := json.Unmarshal(c, &caps); err != nil {
			return nil, false, err
		}
		capsChanged := false
		for k, list := range caps {
			kept := list[:0:0]
			for _, name := range list {
				if name == dropCap {
					capsChanged = true
					continue
				}
				kept = append(kept, name)
			}
			caps[k] = kept
		}
		if capsChanged {
			nc, err := json.Marshal(caps)
			if err != nil {
				return nil, false, err
			}
			p["capabilities"], changed = nc, true
		}
	}
	if o, ok := p["oomScoreAdj"]; ok {
		var v int
		if err := json.Unmarshal(o, &v); err == nil && v < 0 {
			p["oomScoreAdj"], changed = json.RawMessage("0"), true
		}
	}
	if !changed {
		return raw, false, nil
	}
	out, err := json.Marshal(p)
	return out, true, err
}

func realRunc() (string, error) {
	self, _ := os.Executable()
	if s, err := filepath.EvalSymlinks(self); err == nil {
		self = s
	}
	cands := []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"}
	if r := os.Getenv("NEXUS_RUNC_REAL"); r != "" {
		cands = []string{r}
	}
	for _, c := range cands {
		r, err := filepath.EvalSymlinks(c)
		if err != nil || r == self {
			continue
		}
		if st, err := os.Stat(r); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("no real runc found among %v", cands)
}
