package pack

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/layout"
)

// Fixed seeds: a failure reproduces on every machine. Each failure message
// carries the seed and case number.
const (
	propSeed1 uint64 = 0x9ac4_2026
	propSeed2 uint64 = 0x5eed_0609
	propCases        = 200
)

func newRand() *rand.Rand { return rand.New(rand.NewPCG(propSeed1, propSeed2)) }

func failf(t *testing.T, i int, format string, args ...any) {
	t.Helper()
	t.Fatalf("seed=(%#x,%#x) case=%d: %s", propSeed1, propSeed2, i, fmt.Sprintf(format, args...))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randWord(r *rand.Rand, alphabet string, min, max int) string {
	b := make([]byte, min+r.IntN(max-min+1))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	lower = "abcdefghijklmnopqrstuvwxyz"
	alnum = lower + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// Ways the backend can be packaged wrong; placeOK is the right one.
const (
	placeOK           = iota
	placeNoBackendDir // resources/<exe>
	placeWrongName    // resources/backend/<other>
	placeInAsar       // only inside app.asar, under backend/
	placeAlsoInAsar   // right place, plus a copy in app.asar under some dir
	placeAlsoUnpacked // right place, plus a copy in app.asar.unpacked
	placeSymlink      // resources/backend/<exe> -> elsewhere
	placeOnedirDeeper // resources/backend/<name>/bin/<exe>
	placeWrongSHA     // right place, but not the verified file
	placeCount
)

// Feature: python-backend-bundling, Property 6: Resource Path Accessibility — in every packaged layout the backend is at resources/backend/<executable>, outside app.asar, with mode 0755.
func TestPropertyResourcePathAccessibility(t *testing.T) {
	r := newRand()
	base := t.TempDir()
	counts := map[string]int{}
	for i := range propCases {
		product := randWord(r, alnum, 1, 1) + randWord(r, alnum+" -_.", 0, 12)
		product = strings.TrimRight(product, " .")
		slug := strings.ToLower(strings.NewReplacer(" ", "-", "_", "-").Replace(product))
		version := fmt.Sprintf("%d.%d.%d", r.IntN(3), r.IntN(20), r.IntN(100))

		var prefix string
		var kind Kind
		var extra []string // other files of the package, outside resources
		switch r.IntN(4) {
		case 0:
			kind, prefix = KindDir, pick(r, []string{"linux-unpacked", "linux-arm64-unpacked", "win-unpacked"})
			extra = []string{prefix + "/" + slug, prefix + "/locales/en-US.pak", prefix + "/LICENSES.chromium.html"}
		case 1:
			kind, prefix = KindTarGz, slug+"-"+version
			extra = []string{prefix + "/" + slug, prefix + "/chrome-sandbox"}
		case 2:
			kind, prefix = KindDeb, "opt/"+product
			extra = []string{prefix + "/" + slug, "usr/share/applications/" + slug + ".desktop",
				"usr/share/doc/" + slug + "/changelog.gz", "usr/share/icons/hicolor/256x256/apps/" + slug + ".png"}
		case 3:
			kind, prefix = KindZip, product+".app/Contents"
			extra = []string{prefix + "/Info.plist", prefix + "/MacOS/" + product}
		}
		res := prefix + "/resources"
		if kind == KindZip {
			res = prefix + "/Resources"
		}

		// Random names are prefixed so they never collide with the app's own files.
		name := pick(r, []string{"peft_engine", "peft_engine", "be_" + randWord(r, lower+"_", 1, 10)})
		exe := name
		windows := r.IntN(6) == 0
		if windows {
			exe += ".exe"
		}
		onedir := r.IntN(2) == 0
		perm := fs.FileMode(r.IntN(0o1000)) | 0o400 // readable by the owner, so the digest can be taken
		if r.IntN(3) == 0 {
			perm = 0o755
		}
		content := "ELF " + randWord(r, alnum, 0, 64)

		tree := map[string]node{}
		for _, p := range extra {
			tree[p] = node{data: "x"}
		}
		// Random other resources: extraResources of the app, never named like the backend.
		for range r.IntN(5) {
			p := res + "/" + pick(r, []string{"models", "icons", "assets", "data"}) + "/" + randWord(r, lower, 1, 8) + pick(r, []string{".bin", ".png", ".json", ""})
			tree[p] = node{data: randWord(r, alnum, 0, 20), mode: pick(r, []fs.FileMode{0o644, 0o755, 0o600})}
		}
		asar := slices.Clone(appAsar)
		for range r.IntN(6) {
			asar = append(asar, asarFile{path: pick(r, []string{"src", "node_modules/dep", "renderer"}) + "/" + randWord(r, lower, 1, 8) + ".js", data: "js"})
		}
		useAppDir := r.IntN(5) == 0 // resources/app/ instead of app.asar

		place := placeOK
		if r.IntN(3) == 0 {
			place = 1 + r.IntN(placeCount-1)
		}
		if useAppDir && (place == placeInAsar || place == placeAlsoInAsar || place == placeAlsoUnpacked) {
			place = placeOK
		}
		right := res + "/backend/" + exe
		if onedir {
			right = res + "/backend/" + name + "/" + exe
			tree[res+"/backend/"+name+"/_internal/libpython3.so"] = node{data: "so", mode: 0o755}
			tree[res+"/backend/"+name+"/_internal/base_library.zip"] = node{data: "zip"}
		}
		backend := node{data: content, mode: perm}
		switch place {
		case placeOK, placeWrongSHA:
			tree[right] = backend
		case placeNoBackendDir:
			tree[res+"/"+exe] = backend
			if onedir { // the _internal files went along
				delete(tree, res+"/backend/"+name+"/_internal/libpython3.so")
				delete(tree, res+"/backend/"+name+"/_internal/base_library.zip")
			}
		case placeWrongName:
			tree[res+"/backend/"+name+"-x"+path.Ext(exe)] = backend
		case placeInAsar:
			asar = append(asar, asarFile{path: "backend/" + exe, data: content, exec: true})
			if onedir {
				delete(tree, res+"/backend/"+name+"/_internal/libpython3.so")
				delete(tree, res+"/backend/"+name+"/_internal/base_library.zip")
			}
		case placeAlsoInAsar:
			tree[right] = backend
			asar = append(asar, asarFile{path: pick(r, []string{"dist", "build", "bin"}) + "/" + exe, data: content})
		case placeAlsoUnpacked:
			tree[right] = backend
			asar = append(asar, asarFile{path: "backend/" + exe, data: content, unpacked: true})
			tree[res+"/app.asar.unpacked/backend/"+exe] = backend
		case placeSymlink:
			tree[res+"/backend/real-"+exe] = backend
			tree[right] = node{link: "real-" + exe}
			if onedir {
				tree[right] = node{link: "../real-" + exe}
			}
		case placeOnedirDeeper:
			tree[res+"/backend/"+name+"/bin/"+exe] = backend
		}
		if useAppDir {
			for _, f := range asar {
				tree[res+"/app/"+f.path] = node{data: f.data}
			}
		} else {
			tree[res+"/app.asar"] = node{asar: asar}
		}

		root := filepath.Join(base, strconv.Itoa(i))
		writeTree(t, root, tree)
		want := sha256Hex(content)
		if place == placeWrongSHA {
			want = sha256Hex(content + "!")
		}
		if r.IntN(4) == 0 && place != placeWrongSHA {
			want = "" // digest not given
		}

		bundle := layout.Bundle{Target: linuxAmd64, Name: name, Mode: layout.OneFile}
		if windows {
			bundle.Target = windowsAmd64
		}
		if onedir {
			bundle.Mode = layout.OneDir
		}
		a := CheckBackend(root, bundle, want)

		executable := windows || perm&0o111 == 0o111
		wantOK := place == placeOK && executable
		desc := fmt.Sprintf("%s layout %s, product %q, exe %q, onedir=%v, mode %04o, place %d, app dir %v",
			kind, res, product, exe, onedir, perm, place, useAppDir)
		if a.OK != wantOK {
			failf(t, i, "%s: OK = %v, want %v; checks %+v", desc, a.OK, wantOK, a.Checks)
		}
		if (a.Err() == nil) != wantOK {
			failf(t, i, "%s: Err() = %v", desc, a.Err())
		}
		got := failed(a)
		var wantFailed []string
		switch place {
		case placeOK, placeAlsoInAsar, placeAlsoUnpacked, placeWrongSHA:
			if a.BackendPath != right {
				failf(t, i, "%s: BackendPath %q, want %q", desc, a.BackendPath, right)
			}
			if !executable {
				wantFailed = append(wantFailed, CheckMode)
			}
			if place == placeAlsoInAsar || place == placeAlsoUnpacked {
				wantFailed = append(wantFailed, CheckOutsideAsar)
			}
			if place == placeWrongSHA {
				wantFailed = append(wantFailed, CheckSHA256)
			}
		case placeInAsar:
			wantFailed = []string{CheckLocation, CheckOutsideAsar}
		default:
			wantFailed = []string{CheckLocation}
		}
		if !slices.Equal(got, wantFailed) {
			failf(t, i, "%s: failed checks %v, want %v; checks %+v", desc, got, wantFailed, a.Checks)
		}
		if !wantOK && a.Err() != nil && !strings.Contains(a.Err().Error(), got[0]) {
			failf(t, i, "%s: Err() %v does not name check %s", desc, a.Err(), got[0])
		}
		if c, ok := checkNamed(a.Checks, CheckMode); ok && !c.OK && !strings.Contains(c.Detail, "EACCES") {
			failf(t, i, "%s: a mode failure must name the EACCES risk: %s", desc, c.Detail)
		}
		counts[fmt.Sprintf("%s/place%d/ok=%v", kind, place, wantOK)]++
	}
	// The generator must reach every misplacement, and both outcomes.
	for p := range placeCount {
		n := 0
		for k, c := range counts {
			if strings.Contains(k, fmt.Sprintf("/place%d/", p)) {
				n += c
			}
		}
		if n == 0 {
			t.Fatalf("seed=(%#x,%#x): the generator never produced placement %d", propSeed1, propSeed2, p)
		}
	}
	if counts[string(KindDeb)+"/place0/ok=true"] == 0 || counts[string(KindDir)+"/place0/ok=false"] == 0 {
		t.Fatalf("seed=(%#x,%#x): generator coverage too thin: %v", propSeed1, propSeed2, counts)
	}
}

// Corruptions of one update file; corruptNone leaves everything intact.
const (
	corruptNone        = iota
	corruptContentByte // flip one byte of the file (size unchanged)
	corruptListedHash  // change one character of the listed sha512
	corruptOtherHash   // list the sha512 of different content
	corruptSize        // list a different size
	corruptMissing     // delete the file
	corruptCount
)

// Feature: python-backend-bundling, Property 9: Update Package Integrity — every file latest-*.yml lists exists with the listed size and sha512.
func TestPropertyUpdatePackageIntegrity(t *testing.T) {
	r := newRand()
	base := t.TempDir()
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	seen := map[int]int{}
	for i := range propCases {
		dir := filepath.Join(base, strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		n := 1 + r.IntN(5)
		type file struct {
			url     string
			content []byte
			listed  string // sha512 in the yml
			size    int64
		}
		var files []file
		names := map[string]bool{}
		for len(files) < n {
			url := randWord(r, alnum, 1, 12) + pick(r, []string{"-0.1.0.tar.gz", "_0.1.0_amd64.deb", "-0.1.0.x86_64.rpm", "-0.1.0.AppImage", " Setup 0.1.0.exe", "-0.1.0-mac.zip"})
			if names[url] || strings.HasPrefix(url, " ") {
				continue
			}
			names[url] = true
			c := make([]byte, r.IntN(4096))
			for j := range c {
				c[j] = byte(r.UintN(256))
			}
			h := sha512.Sum512(c)
			files = append(files, file{url: url, content: c, listed: base64.StdEncoding.EncodeToString(h[:]), size: int64(len(c))})
		}

		corrupt := corruptNone
		if r.IntN(2) == 0 {
			corrupt = 1 + r.IntN(corruptCount-1)
		}
		seen[corrupt]++
		victim := r.IntN(n)
		v := &files[victim]
		onDisk := slices.Clone(v.content)
		switch corrupt {
		case corruptContentByte:
			if len(onDisk) == 0 {
				onDisk = []byte{0} // nothing to flip: a byte appears (size and hash change)
			} else {
				onDisk[r.IntN(len(onDisk))] ^= byte(1 + r.IntN(255))
			}
		case corruptListedHash:
			k := r.IntN(86) // the 86 digits before "=="; the last one carries 2 unused bits
			old := v.listed[k]
			c := old
			for c == old {
				c = b64[r.IntN(len(b64))]
			}
			v.listed = v.listed[:k] + string(c) + v.listed[k+1:]
		case corruptOtherHash:
			h := sha512.Sum512(append(slices.Clone(v.content), 'x'))
			v.listed = base64.StdEncoding.EncodeToString(h[:])
		case corruptSize:
			v.size += int64(pick(r, []int{-1, 1, 512, 1 << 20}))
			if v.size < 0 {
				v.size = 1
			}
		}
		for j, f := range files {
			data := f.content
			if j == victim {
				if corrupt == corruptMissing {
					continue
				}
				data = onDisk
			}
			if err := os.WriteFile(filepath.Join(dir, f.url), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}

		// The yml, formatted in the ways the parser accepts.
		nl := pick(r, []string{"\n", "\r\n"})
		ind := pick(r, []string{"", "  "})
		q := func(s string) string {
			switch {
			case strings.Contains(s, " ") || r.IntN(3) == 0:
				return "'" + s + "'"
			case r.IntN(4) == 0:
				return `"` + s + `"`
			}
			return s
		}
		var y strings.Builder
		if r.IntN(4) == 0 {
			y.WriteString("# generated" + nl)
		}
		y.WriteString("version: 0.1." + strconv.Itoa(i) + nl + "files:" + nl)
		for _, f := range files {
			kv := []string{"url: " + q(f.url), "sha512: " + q(f.listed), "size: " + strconv.FormatInt(f.size, 10)}
			if r.IntN(3) == 0 {
				kv = append(kv, "blockMapSize: "+strconv.Itoa(r.IntN(9999)))
			}
			r.Shuffle(len(kv), func(a, b int) { kv[a], kv[b] = kv[b], kv[a] })
			for j, l := range kv {
				if j == 0 {
					y.WriteString(ind + "- " + l + nl)
				} else {
					y.WriteString(ind + "  " + l + nl)
				}
			}
			if r.IntN(5) == 0 {
				y.WriteString(nl)
			}
		}
		y.WriteString("path: " + q(files[0].url) + nl + "sha512: " + q(files[0].listed) + nl)
		y.WriteString("releaseDate: '2026-11-25T10:00:00.000Z'" + nl)
		yml := filepath.Join(dir, pick(r, []string{"latest.yml", "latest-linux.yml", "latest-mac.yml", "latest-linux-arm64.yml"}))
		if err := os.WriteFile(yml, []byte(y.String()), 0o644); err != nil {
			t.Fatal(err)
		}

		checks, err := CheckUpdateInfo(yml)
		desc := fmt.Sprintf("%d files, corruption %d of %q, yml:\n%s", n, corrupt, v.url, y.String())
		if err != nil {
			failf(t, i, "%s: %v", desc, err)
		}
		if len(checks) != n+1 || checks[0].Name != CheckUpdateInfoDoc {
			failf(t, i, "%s: want the document check and %d file checks, got %+v", desc, n, checks)
		}
		if !checks[0].OK {
			failf(t, i, "%s: document check failed: %s", desc, checks[0].Detail)
		}
		for j, c := range checks[1:] {
			wantOK := corrupt == corruptNone || j != victim
			if c.OK != wantOK {
				failf(t, i, "%s: check of %q OK = %v, want %v: %s", desc, files[j].url, c.OK, wantOK, c.Detail)
			}
			if c.Name != CheckUpdateFile || !strings.HasPrefix(c.Detail, files[j].url+":") {
				failf(t, i, "%s: check %+v does not name %q", desc, c, files[j].url)
			}
		}
	}
	for c := range corruptCount {
		if seen[c] == 0 {
			t.Fatalf("seed=(%#x,%#x): the generator never produced corruption %d", propSeed1, propSeed2, c)
		}
	}
}
