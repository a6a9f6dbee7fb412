package plan

import (
	"fmt"
	"strings"

	"github.com/pybundle/pybundle/pipeline/target"
)

// Bootloader is the PyInstaller bootloader a bundle starts with. The stock one dlopens the
// bundled libpython3.13.so, which Debian builds without PGO: the bundle then runs Python ~20 %
// slower than `python3.13 main.py` (docs/BENCHMARKS.md). pybundle's static one carries Debian's
// PGO-built libpython3.13.a itself (images.BootloaderScript), so the bundle runs Python at the
// speed of the from-source baseline and ships no libpython3.13.so.
type Bootloader string

const (
	// BootloaderStatic is pybundle's own bootloader with libpython linked in: Linux targets
	// built in the Dagger module's Debian builder.
	BootloaderStatic Bootloader = "static"
	// BootloaderStock is PyInstaller's own bootloader and the bundled shared libpython: every
	// other build (the pip installer, native runners, macOS and Windows).
	BootloaderStock Bootloader = "stock"
)

// ParseBootloader reads a bootloader option value.
func ParseBootloader(s string) (Bootloader, error) {
	switch b := Bootloader(strings.ToLower(strings.TrimSpace(s))); b {
	case BootloaderStatic, BootloaderStock:
		return b, nil
	}
	return "", fmt.Errorf("%q: want %s or %s", s, BootloaderStatic, BootloaderStock)
}

// For is the bootloader a bundle for t gets: static only on Linux (the one bootloader pybundle
// builds; macOS and Windows bundles start with PyInstaller's).
func (b Bootloader) For(t target.Target) Bootloader {
	if b == BootloaderStatic && t.OS == "linux" {
		return BootloaderStatic
	}
	return BootloaderStock
}

// StockOnly makes an executor that cannot provide the static bootloader build with the stock
// one: the pip installer (its Python is not Debian's, whose libpython3.13.a the static
// bootloader carries) and pybundle-runner (a machine's own Python and PyInstaller). Asking for
// static there is no error, because static is the default and those builds work as they did:
// the returned note (empty when nothing changed) says what happened, for the executor's log,
// and the report records stock.
func (o *Options) StockOnly(why string) (note string) {
	if o.Bootloader != BootloaderStatic {
		return ""
	}
	o.Bootloader = BootloaderStock
	return fmt.Sprintf("bootloader=static needs pybundle's own bootloader, built in the Dagger module's Debian builder; %s: building with PyInstaller's stock bootloader (report: bootloader stock)", why)
}
