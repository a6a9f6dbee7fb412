package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestTreeFiles(t *testing.T) {
	write := func(root, rel, data string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(data), mode))
		assert.NilError(t, os.Chmod(p, mode))
	}
	build := func() string {
		root := t.TempDir()
		write(root, "app/app", "ELF", 0o755)
		write(root, "app/_internal/base_library.zip", "zip", 0o644)
		assert.NilError(t, os.Symlink("_internal/base_library.zip", filepath.Join(root, "app/lib.zip")))
		return root
	}
	a, b := build(), build()
	da, err := TreeFiles(a)
	assert.NilError(t, err)
	db, err := TreeFiles(b)
	assert.NilError(t, err)
	assert.DeepEqual(t, da, db)
	assert.Check(t, is.Len(da, 3))
	sum := sha256.Sum256([]byte("ELF"))
	assert.Check(t, is.Equal(da["app/app"], "-rwxr-xr-x "+hex.EncodeToString(sum[:])))
	assert.Check(t, is.Equal(da["app/lib.zip"], "-> _internal/base_library.zip"), "a link is recorded, not followed")

	cases := []struct {
		name   string
		change func(root string)
	}{
		{"one byte", func(root string) { write(root, "app/app", "ELG", 0o755) }},
		{"mode", func(root string) { assert.NilError(t, os.Chmod(filepath.Join(root, "app/app"), 0o644)) }},
		{"link target", func(root string) {
			p := filepath.Join(root, "app/lib.zip")
			assert.NilError(t, os.Remove(p))
			assert.NilError(t, os.Symlink("/etc/passwd", p))
		}},
		{"a file more", func(root string) { write(root, "app/_internal/extra.so", "", 0o644) }},
		{"a file less", func(root string) {
			assert.NilError(t, os.Remove(filepath.Join(root, "app/_internal/base_library.zip")))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := build()
			c.change(root)
			got, err := TreeFiles(root)
			assert.NilError(t, err)
			assert.Check(t, !maps.Equal(got, da), "%s: %v", c.name, got)
		})
	}

	_, err = TreeFiles(filepath.Join(a, "missing"))
	assert.ErrorContains(t, err, "missing")
}
