package verify

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// osReleaseFiles are where os-release(5) lives, in the order the specification says to read them.
var osReleaseFiles = []string{"/etc/os-release", "/usr/lib/os-release"}

// SystemName names the running system from its os-release file ("" when it has none, as on
// macOS and Windows): a runtime matrix row says which distribution a bundle started on, not
// just the image it was pulled as.
func SystemName() string {
	for _, p := range osReleaseFiles {
		if b, err := os.ReadFile(p); err == nil {
			return OSName(b)
		}
	}
	return ""
}

// OSName is a short, readable name from os-release content: NAME without its "GNU/Linux" or
// "Linux" tail, VERSION_ID, and VERSION_CODENAME in brackets ("Debian 11 (bullseye)",
// "Ubuntu 22.04 (jammy)", "Fedora 40"); PRETTY_NAME when there is no VERSION_ID (a testing or
// rolling release, "Debian GNU/Linux trixie/sid"); "" when nothing names the system.
func OSName(osRelease []byte) string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(osRelease))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `'"`)
		}
		kv[k] = strings.TrimSpace(v)
	}
	name := kv["NAME"]
	for _, tail := range []string{" GNU/Linux", " Linux"} {
		name = strings.TrimSuffix(name, tail)
	}
	if name == "" || kv["VERSION_ID"] == "" {
		return kv["PRETTY_NAME"]
	}
	out := name + " " + kv["VERSION_ID"]
	if c := kv["VERSION_CODENAME"]; c != "" {
		out += " (" + c + ")"
	}
	return out
}
