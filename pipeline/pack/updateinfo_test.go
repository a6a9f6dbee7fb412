package pack

import (
	"crypto/sha512"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func sha512B64(s string) string {
	h := sha512.Sum512([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

// latestLinux is what electron-builder 26 writes (js-yaml, lineWidth 8000).
func latestLinux(files map[string]string, order ...string) string {
	var b strings.Builder
	b.WriteString("version: 0.1.0\nfiles:\n")
	for _, n := range order {
		b.WriteString("  - url: " + n + "\n    sha512: " + sha512B64(files[n]) + "\n    size: " + strconv.Itoa(len(files[n])) + "\n")
	}
	b.WriteString("path: " + order[0] + "\nsha512: " + sha512B64(files[order[0]]) + "\nreleaseDate: '2026-11-25T10:00:00.000Z'\n")
	return b.String()
}

func TestParseUpdateInfo(t *testing.T) {
	h := sha512B64("x")
	for _, tc := range []struct {
		name string
		yml  string
		want UpdateInfo
	}{
		{"electron-builder output", "version: 1.2.3\nfiles:\n  - url: a.tar.gz\n    sha512: " + h + "\n    size: 1\n  - url: b.AppImage\n    sha512: " + h + "\n    size: 22\n    blockMapSize: 123\npath: a.tar.gz\nsha512: " + h + "\nreleaseDate: '2026-11-25T10:00:00.000Z'\n",
			UpdateInfo{Version: "1.2.3", Files: []UpdateFile{{URL: "a.tar.gz", SHA512: h, Size: 1, Line: 3}, {URL: "b.AppImage", SHA512: h, Size: 22, Line: 6}},
				Path: "a.tar.gz", SHA512: h, ReleaseDate: "2026-11-25T10:00:00.000Z"}},
		{"CRLF, BOM, comments, zero-indent list, quoting", "\ufeff# written by hand\r\nversion: '1.0'\r\n\r\nfiles:\r\n- url: \"My App Setup 1.0.exe\"\r\n  sha512: '" + h + "' # comment\r\n  size: 7\r\n  isAdminRightsRequired: true\r\nreleaseDate: \"2026-01-01\"\r\n",
			UpdateInfo{Version: "1.0", Files: []UpdateFile{{URL: "My App Setup 1.0.exe", SHA512: h, Size: 7, Line: 5}}, ReleaseDate: "2026-01-01"}},
		// Verbatim output of js-yaml 4 dump(info, {lineWidth: 8000}), what electron-builder calls.
		{"js-yaml 4 dump", "version: 0.1.0\nfiles:\n  - url: peft-desktop-0.1.0.tar.gz\n    sha512: " + h + "\n    size: 1\n" +
			"  - url: Peft Desktop Setup 0.1.0.exe\n    sha512: abc+/==\n    size: 2\n    isAdminRightsRequired: true\n    blockMapSize: 5\n" +
			"path: peft-desktop-0.1.0.tar.gz\nsha512: abc\nreleaseDate: '1970-01-01T00:00:00.000Z'\nreleaseNotes: |-\n  line1\n  line2: x\n",
			UpdateInfo{Version: "0.1.0", Files: []UpdateFile{{URL: "peft-desktop-0.1.0.tar.gz", SHA512: h, Size: 1, Line: 3}, {URL: "Peft Desktop Setup 0.1.0.exe", SHA512: "abc+/==", Size: 2, Line: 6}},
				Path: "peft-desktop-0.1.0.tar.gz", SHA512: "abc", ReleaseDate: "1970-01-01T00:00:00.000Z"}},
		{"release notes block scalar", "version: 2.0.0\nreleaseNotes: |-\n  - fixed: the backend\n\n  # not a comment\nfiles:\n  - url: a\n    sha512: " + h + "\n    size: 0\nreleaseName: 'It''s 2.0'\n",
			UpdateInfo{Version: "2.0.0", Files: []UpdateFile{{URL: "a", SHA512: h, Size: 0, Line: 7}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseUpdateInfo([]byte(tc.yml))
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

func TestParseUpdateInfoStrict(t *testing.T) {
	h := sha512B64("x")
	item := "  - url: a\n    sha512: " + h + "\n    size: 1\n"
	for _, tc := range []struct {
		name, yml, msg string
	}{
		{"tab", "version: 1\nfiles:\n\t- url: a\n", "line 3: tab in indentation"},
		{"unknown key", "version: 1\nchannel: beta\n", `line 2: unknown key "channel"`},
		{"repeated key", "version: 1\nversion: 2\n", `line 2: key "version" repeated (first on line 1)`},
		{"unknown item key", "files:\n  - url: a\n    sha256: x\n", `line 3: unknown key "sha256" in a files entry`},
		{"repeated item key", "files:\n  - url: a\n    url: b\n", `line 3: key "url" repeated`},
		{"no size", "files:\n  - url: a\n    sha512: " + h + "\n", "line 2: files entry has no size"},
		{"no url", "files:\n  - sha512: " + h + "\n    size: 1\n", "line 2: files entry has no url"},
		{"bad size", "files:\n  - url: a\n    sha512: x\n    size: 12kB\n", `line 4: size "12kB" is not a byte count`},
		{"negative size", "files:\n  - url: a\n    sha512: x\n    size: -1\n", `size "-1"`},
		{"flow list", "files: [a, b]\n", "line 1: files must be a block list"},
		{"flow scalar", "version: {a: 1}\n", "line 1: flow collections"},
		{"anchor", "version: &v 1\n", "line 1: \"&v 1\" starts with a YAML indicator"},
		{"misindented item key", "files:\n  - url: a\n      sha512: x\n", "line 3: key indented 6 inside a files entry, want 4"},
		{"misindented item", "files:\n  - url: a\n    sha512: x\n    size: 1\n   - url: b\n", "line 5"},
		{"stray indentation", "version: 1\n  path: a\n", "line 2: unexpected indentation"},
		{"no colon", "version 1\n", `line 1: "version 1" is not "key: value"`},
		{"list at top", "- url: a\n", "line 1: list item outside files"},
		{"document marker", "---\nversion: 1\n", "line 1: document markers"},
		{"unterminated quote", "version: '1\n", "line 1: unterminated single-quoted"},
		{"text after quote", "version: '1' 2\n", "line 1: text after the closing quote"},
		{"item key on next line", "files:\n  -\n    url: a\n", "line 2: files entry must start"},
		{"nested mapping", "files:\n" + item + "    extra:\n      x: 1\n", `line 5: unknown key "extra"`},
		{"bad admin flag", "files:\n" + item + "    isAdminRightsRequired: yes\n", `isAdminRightsRequired "yes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseUpdateInfo([]byte(tc.yml))
			assert.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestCheckUpdateInfo(t *testing.T) {
	files := map[string]string{
		"peft-desktop-0.1.0.tar.gz":    "tarball bytes",
		"peft-desktop_0.1.0_amd64.deb": "deb bytes\x00\x01",
	}
	order := []string{"peft-desktop-0.1.0.tar.gz", "peft-desktop_0.1.0_amd64.deb"}
	good := latestLinux(files, order...)
	for _, tc := range []struct {
		name    string
		yml     string
		disk    map[string]string // overrides files on disk; "" value deletes
		failed  []string          // failed check details must contain these, in order
		passing int
	}{
		{name: "all match", yml: good, passing: 3},
		{name: "all match, CRLF", yml: strings.ReplaceAll(good, "\n", "\r\n"), passing: 3},
		{name: "wrong sha512", yml: strings.Replace(good, sha512B64(files[order[1]]), sha512B64("other"), 1), passing: 2,
			failed: []string{"peft-desktop_0.1.0_amd64.deb: sha512 " + sha512B64(files[order[1]]) + ", latest-linux.yml lists " + sha512B64("other") + ": electron-updater would reject"}},
		{name: "content changed, same size", yml: good, disk: map[string]string{order[0]: "tarball bytez"}, passing: 2,
			failed: []string{"peft-desktop-0.1.0.tar.gz: sha512"}},
		{name: "size mismatch", yml: good, disk: map[string]string{order[1]: "deb bytes\x00\x01\x02"}, passing: 2,
			failed: []string{"peft-desktop_0.1.0_amd64.deb: 12 bytes, latest-linux.yml lists 11"}},
		{name: "missing file", yml: good, disk: map[string]string{order[0]: ""}, passing: 2,
			failed: []string{"peft-desktop-0.1.0.tar.gz: listed in latest-linux.yml but not next to it"}},
		{name: "hash not base64", yml: strings.Replace(good, "sha512: "+sha512B64(files[order[0]]), "sha512: abc!", 1), passing: 1,
			failed: []string{"update-info", `peft-desktop-0.1.0.tar.gz: latest-linux.yml lists sha512 "abc!", which is not the base64`}},
		{name: "legacy path not listed", yml: strings.Replace(good, "path: "+order[0], "path: gone.tar.gz", 1), passing: 2,
			failed: []string{"latest-linux.yml: path gone.tar.gz is not among the files"}},
		{name: "url with a directory", yml: strings.Replace(good, "url: "+order[0], "url: ../"+order[0], 1), passing: 1,
			failed: []string{"path peft-desktop-0.1.0.tar.gz is not among the files", `url "../peft-desktop-0.1.0.tar.gz" is not a file name next to latest-linux.yml`}},
		{name: "no version, no files", yml: "releaseDate: '2026'\n", passing: 0,
			failed: []string{"latest-linux.yml: no version; no files listed"}},
		{name: "spaces renamed to dashes", yml: "version: 1.0.0\nfiles:\n  - url: Peft-Desktop-Setup-1.0.0.exe\n    sha512: " + sha512B64("x") + "\n    size: 1\n",
			disk: map[string]string{"Peft Desktop Setup 1.0.0.exe": "x"}, passing: 1,
			failed: []string{`not next to it ("Peft Desktop Setup 1.0.0.exe" is: electron-builder writes url with '-' for spaces`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range files {
				if d, ok := tc.disk[n]; ok && d == "" {
					continue
				}
				if d, ok := tc.disk[n]; ok {
					c = d
				}
				assert.NilError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644))
			}
			for n, c := range tc.disk {
				if _, known := files[n]; !known {
					assert.NilError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644))
				}
			}
			yml := filepath.Join(dir, "latest-linux.yml")
			assert.NilError(t, os.WriteFile(yml, []byte(tc.yml), 0o644))
			checks, err := CheckUpdateInfo(yml)
			assert.NilError(t, err)
			var fails []string
			passing := 0
			for _, c := range checks {
				if c.OK {
					passing++
				} else {
					fails = append(fails, c.Name+": "+c.Detail)
				}
			}
			assert.Equal(t, passing, tc.passing, "%v", checks)
			assert.Equal(t, len(fails), len(tc.failed), "%v", fails)
			for i, m := range tc.failed {
				assert.Assert(t, is.Contains(fails[i], m))
			}
		})
	}

	_, err := CheckUpdateInfo(filepath.Join(t.TempDir(), "latest.yml"))
	assert.ErrorContains(t, err, "latest.yml: no such file")
	dir := t.TempDir()
	bad := filepath.Join(dir, "latest-mac.yml")
	assert.NilError(t, os.WriteFile(bad, []byte("version: 1\nfiles: []\n"), 0o644))
	_, err = CheckUpdateInfo(bad)
	assert.ErrorContains(t, err, "update info "+bad+": line 2: files must be a block list")
}

func TestCheckWinConfig(t *testing.T) {
	app, err := os.ReadFile("../../testdata/app/package.json")
	assert.NilError(t, err)
	for _, tc := range []struct {
		name, json string
		ok         bool
		msg        string
	}{
		{"the test app", string(app), true, "is asInvoker"},
		{"no build", `{"name":"x"}`, true, "no build section: default asInvoker"},
		{"no win", `{"build":{"linux":{}}}`, true, "no win section: default asInvoker"},
		{"not set", `{"build":{"win":{"target":["nsis"]}}}`, true, "not set: default asInvoker"},
		{"null", `{"build":{"win":{"requestedExecutionLevel":null}}}`, true, "not set: default asInvoker"},
		{"requireAdministrator", `{"build":{"win":{"requestedExecutionLevel":"requireAdministrator"}}}`, false, `is "requireAdministrator": the app (and the backend it spawns) would run elevated`},
		{"highestAvailable", `{"build":{"win":{"requestedExecutionLevel":"highestAvailable"}}}`, false, `is "highestAvailable"`},
		{"typo", `{"build":{"win":{"requestedExecutionLevel":"asinvoker"}}}`, false, `is "asinvoker", not one of`},
		{"not a string", `{"build":{"win":{"requestedExecutionLevel":1}}}`, false, "is 1, not a string"},
		{"build not an object", `{"build":"x"}`, false, "package.json: not the JSON object expected"},
		{"not JSON", `{`, false, "package.json: not the JSON object expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CheckWinConfig([]byte(tc.json))
			assert.Equal(t, c.Name, CheckWinConfigName)
			assert.Equal(t, c.OK, tc.ok, c.Detail)
			assert.Assert(t, is.Contains(c.Detail, tc.msg))
		})
	}
}
