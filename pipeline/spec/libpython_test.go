package spec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/layout"
)

// fakeELF is a minimal ELF shared object with a PT_LOAD covering the file and a PT_DYNAMIC
// naming needed: what the spec's DT_NEEDED reader sees of a real one, in any class and byte
// order, without a compiler.
func fakeELF(is64 bool, order binary.ByteOrder, needed ...string) []byte {
	const vbase = 0x10000
	ehsize, phentsize := 52, 32
	if is64 {
		ehsize, phentsize = 64, 56
	}
	strtab := []byte{0}
	var offs []int
	for _, n := range needed {
		offs = append(offs, len(strtab))
		strtab = append(strtab, append([]byte(n), 0)...)
	}
	phoff := ehsize
	strOff := phoff + 2*phentsize
	dynOff := strOff + len(strtab)
	dynOff += (8 - dynOff%8) % 8
	type dyn struct{ tag, val uint64 }
	var dyns []dyn
	for _, o := range offs {
		dyns = append(dyns, dyn{1, uint64(o)})
	}
	dyns = append(dyns, dyn{5, uint64(vbase + strOff)}, dyn{10, uint64(len(strtab))}, dyn{0, 0})
	dynSize := len(dyns) * 8
	if is64 {
		dynSize = len(dyns) * 16
	}
	total := dynOff + dynSize

	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, order, v) }
	class, data := byte(1), byte(1)
	if is64 {
		class = 2
	}
	if order == binary.BigEndian {
		data = 2
	}
	b.Write([]byte{0x7f, 'E', 'L', 'F', class, data, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(3)) // ET_DYN
	w(uint16(62))
	w(uint32(1))
	if is64 {
		w(uint64(0))
		w(uint64(phoff))
		w(uint64(0))
	} else {
		w(uint32(0))
		w(uint32(phoff))
		w(uint32(0))
	}
	w(uint32(0))
	w(uint16(ehsize))
	w(uint16(phentsize))
	w(uint16(2))
	w(uint16(0))
	w(uint16(0))
	w(uint16(0))
	phdr := func(typ uint32, off, size int) {
		if is64 {
			w(typ)
			w(uint32(4))
			w(uint64(off))
			w(uint64(vbase + off))
			w(uint64(vbase + off))
			w(uint64(size))
			w(uint64(size))
			w(uint64(8))
		} else {
			w(typ)
			w(uint32(off))
			w(uint32(vbase + off))
			w(uint32(vbase + off))
			w(uint32(size))
			w(uint32(size))
			w(uint32(4))
			w(uint32(8))
		}
	}
	phdr(1, 0, total)        // PT_LOAD: the whole file
	phdr(2, dynOff, dynSize) // PT_DYNAMIC
	b.Write(strtab)
	b.Write(make([]byte, dynOff-b.Len()))
	for _, d := range dyns {
		if is64 {
			w(int64(d.tag))
			w(d.val)
		} else {
			w(int32(d.tag))
			w(uint32(d.val))
		}
	}
	return b.Bytes()
}

// The spec's DT_NEEDED reader: what a file itself links, in every ELF flavour; nothing for
// anything else.
func TestDTNeeded(t *testing.T) {
	python(t)
	dir := t.TempDir()
	files := []struct {
		name string
		data []byte
		want []string
	}{
		{"le64.so", fakeELF(true, binary.LittleEndian, "libpython3.13.so.1.0", "libc.so.6"), []string{"libpython3.13.so.1.0", "libc.so.6"}},
		{"be64.so", fakeELF(true, binary.BigEndian, "libm.so.6"), []string{"libm.so.6"}},
		{"le32.so", fakeELF(false, binary.LittleEndian, "libpython3.so"), []string{"libpython3.so"}},
		{"be32.so", fakeELF(false, binary.BigEndian), nil},
		{"truncated.so", fakeELF(true, binary.LittleEndian, "libz.so.1")[:70], nil},
		{"text.so", []byte("not an ELF file at all, but long enough to have a header of sixty-four bytes"), nil},
		{"empty.so", nil, nil},
	}
	var args []string
	for _, f := range files {
		args = append(args, writeFile(t, filepath.Join(dir, f.name), f.data))
	}
	args = append(args, filepath.Join(dir, "missing.so"))
	script := "import json, os, struct as _struct, sys\n" + dtNeededPy +
		"print(json.dumps([_dt_needed(p) for p in sys.argv[1:]]))\n"
	out, code := run(t, dir, cleanEnv(), append([]string{writeFile(t, filepath.Join(dir, "t.py"), []byte(script))}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	want := "["
	for i, f := range files {
		q := make([]string, len(f.want))
		for j, n := range f.want {
			q[j] = fmt.Sprintf("%q", n)
		}
		if i > 0 {
			want += ", "
		}
		want += "[" + strings.Join(q, ", ") + "]"
	}
	want += ", []]\n"
	if out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestIsLibpython(t *testing.T) {
	for name, want := range map[string]bool{
		"libpython3.13.so.1.0": true, "libpython3.13.so": true, "libpython3.so": true, "libpython3.12.so.1.0": true,
		"libpython3.13.a": false, "libpython3.13d.so.1.0": false, "libpython2.7.so.1.0": false, "libpythonista.so": false,
		"libssl.so.3": false, "_ssl.cpython-313-x86_64-linux-gnu.so": false,
	} {
		if IsLibpython(name) != want {
			t.Errorf("IsLibpython(%q) = %v, want %v", name, !want, want)
		}
	}
}

func TestStaticLibpythonOnlyOnLinux(t *testing.T) {
	for _, tc := range []struct {
		o       Options
		wantErr bool
	}{
		{Options{Target: linux, StaticLibpython: true}, false},
		{Options{Target: linux, Mode: layout.OneFile, StaticLibpython: true}, false},
		{Options{Target: windows, StaticLibpython: true}, true},
		{Options{Target: darwin, StaticLibpython: true}, true},
		{Options{Target: darwin}, false},
	} {
		err := tc.o.Validate()
		if (err != nil) != tc.wantErr || err != nil && !strings.Contains(err.Error(), "static libpython: Linux targets only") {
			t.Errorf("%s static=%v: %v", tc.o.Target, tc.o.StaticLibpython, err)
		}
	}
	with, err := Generate(Options{Target: linux, StaticLibpython: true})
	if err != nil {
		t.Fatal(err)
	}
	without, err := Generate(Options{Target: linux})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(with, []byte("def _dt_needed(path):")) || bytes.Contains(without, []byte("_libpython")) {
		t.Errorf("the static libpython block belongs to static builds only")
	}
}

// With the static bootloader the spec leaves the shared libpython out of the bundle, onedir and
// onefile, and keeps every other binary.
func TestSpecLeavesSharedLibpythonOut(t *testing.T) {
	python(t)
	dir := t.TempDir()
	lib := writeFile(t, filepath.Join(dir, "libpython3.13.so.1.0"), fakeELF(true, binary.LittleEndian, "libm.so.6", "libc.so.6"))
	ssl := writeFile(t, filepath.Join(dir, "libssl.so.3"), fakeELF(true, binary.LittleEndian, "libcrypto.so.3", "libc.so.6"))
	ext := writeFile(t, filepath.Join(dir, "_ssl.so"), fakeELF(true, binary.LittleEndian, "libssl.so.3"))
	tool := writeFile(t, filepath.Join(dir, "tool.sh"), []byte("#!/bin/sh\n"))
	binaries := [][]string{
		{"libpython3.13.so.1.0", lib, "BINARY"},
		{"libssl.so.3", ssl, "BINARY"},
		{"python3.13/lib-dynload/_ssl.cpython-313-x86_64-linux-gnu.so", ext, "EXTENSION"},
		{"bin/tool.sh", tool, "BINARY"},
	}
	rest := []string{"bin/tool.sh", "libssl.so.3", "python3.13/lib-dynload/_ssl.cpython-313-x86_64-linux-gnu.so"}
	for _, tc := range []struct {
		o    Options
		want []string
	}{
		{Options{Target: linux, StaticLibpython: true}, rest},
		{Options{Target: linux, Mode: layout.OneFile, StaticLibpython: true}, rest},
		{Options{Target: linux}, []string{"bin/tool.sh", "libpython3.13.so.1.0", "libssl.so.3", "python3.13/lib-dynload/_ssl.cpython-313-x86_64-linux-gnu.so"}},
	} {
		calls, out, code := execSpec(t, tc.o, UvicornRequired, binaries)
		if code != 0 || calls == nil {
			t.Fatalf("%s static=%v: exit %d\n%s", tc.o.Mode, tc.o.StaticLibpython, code, out)
		}
		got := calls.COLLECT["binaries"]
		if tc.o.Mode == layout.OneFile {
			got = calls.EXE["binaries"]
		}
		var names []string
		for _, n := range got.([]any) {
			names = append(names, n.(string))
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("%s static=%v: bundled binaries %q, want %q", tc.o.Mode, tc.o.StaticLibpython, names, tc.want)
		}
		if ok := strings.Contains(out, "PYBUNDLE BUILD CHECK OK: no shared libpython bundled"); ok != tc.o.StaticLibpython {
			t.Errorf("static=%v, OK line printed: %v\n%s", tc.o.StaticLibpython, ok, out)
		}
	}
}

// A collected binary that links libpython would load a second interpreter beside the one the
// static bootloader carries: the build fails naming the file, what it links and the way out.
func TestSpecRefusesBinaryLinkingLibpython(t *testing.T) {
	python(t)
	dir := t.TempDir()
	bad := writeFile(t, filepath.Join(dir, "site", "fastext", "_speedups.so"), fakeELF(true, binary.LittleEndian, "libpython3.13.so.1.0", "libc.so.6"))
	stable := writeFile(t, filepath.Join(dir, "site", "libhelper.so"), fakeELF(false, binary.BigEndian, "libpython3.so"))
	ok := writeFile(t, filepath.Join(dir, "site", "libok.so"), fakeELF(true, binary.LittleEndian, "libc.so.6"))
	binaries := [][]string{
		{"fastext/_speedups.cpython-313-x86_64-linux-gnu.so", bad, "EXTENSION"},
		{"libhelper.so", stable, "BINARY"},
		{"libok.so", ok, "BINARY"},
	}
	o := Options{Target: linux, StaticLibpython: true}
	calls, out, code := execSpec(t, o, UvicornRequired, binaries)
	if code != 1 || calls != nil {
		t.Fatalf("exit %d, want 1 and no bundle:\n%s", code, out)
	}
	e := diagnose.Compile("linux/amd64", "/src", out)
	for _, want := range []string{
		"build check failed: ",
		"fastext/_speedups.cpython-313-x86_64-linux-gnu.so (" + bad + ") links libpython3.13.so.1.0",
		"libhelper.so (" + stable + ") links libpython3.so",
		"second Python interpreter",
		"bootloader=stock",
	} {
		if !strings.Contains(e.Reason, want) {
			t.Errorf("reason %q lacks %q", e.Reason, want)
		}
	}
	if strings.Contains(e.Reason, "libok.so") {
		t.Errorf("reason names a binary that links no libpython: %q", e.Reason)
	}
	// The stock bootloader loads the shared libpython anyway: the same binaries are fine.
	if _, out, code := execSpec(t, Options{Target: linux}, UvicornRequired, binaries); code != 0 {
		t.Errorf("stock: exit %d\n%s", code, out)
	}
}

// The reader copes with the largest real libraries: it reads headers and the string table,
// never the whole file (checked on this machine's own libc when it has one).
func TestDTNeededRealLibrary(t *testing.T) {
	python(t)
	var lib string
	for _, p := range []string{"/bin/sh", "/usr/bin/env"} {
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte("\x7fELF")) {
			lib = p
			break
		}
	}
	if lib == "" {
		t.Skip("no ELF executable on this machine")
	}
	dir := t.TempDir()
	script := "import json, struct as _struct, sys\n" + dtNeededPy + "print(json.dumps(_dt_needed(sys.argv[1])))\n"
	out, code := run(t, dir, cleanEnv(), writeFile(t, filepath.Join(dir, "t.py"), []byte(script)), lib)
	if code != 0 || !strings.Contains(out, `"libc.so.`) {
		t.Errorf("%s: exit %d, DT_NEEDED %s", lib, code, out)
	}
}
