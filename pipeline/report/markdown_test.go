package report

import (
	"html"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestMarkdown(t *testing.T) {
	r := sample()
	failed := entry("linux/amd64", "onefile")
	failed.Target = "linux/riscv64"
	failed.StartupMS, failed.GlibcFloor = nil, ""
	failed.Checks = append(failed.Checks, Check{Name: "glibc", OK: false, Detail: "needs 2.38"})
	r.Add(failed)
	r.Packages = []Package{
		{Target: "linux/amd64", Name: "peft-desktop_0.1.0_amd64.deb", Kind: "deb", BackendPath: "resources/backend/peft_engine/peft_engine",
			Checks: []Check{{Name: "mode", OK: true}, {Name: "sha256", OK: true}}},
		{Target: "linux/amd64", Name: "linux-unpacked", Kind: "start", Checks: []Check{{Name: "selftest", OK: false}}},
	}

	want := `| TARGET | MODE | SIZE | SHA256 | STARTUP | GLIBC | PYTHON | PYINSTALLER | CHECKS |
| --- | --- | ---: | --- | ---: | --- | --- | --- | --- |
| linux/amd64 | onedir | 14.2 MiB | 0123456789ab | 812 ms | 2.36 | 3.11.2 | 6.22.2 | 2/2 ok |
| linux/amd64 | onefile | 14.2 MiB | 0123456789ab | 812 ms | 2.36 | 3.11.2 | 6.22.2 | 2/2 ok |
| linux/arm64 | onefile | 14.2 MiB | 0123456789ab | 40.1 s (emulated) | 2.36 | 3.11.2 | 6.22.2 | 2/2 ok |
| linux/riscv64 | onefile | 14.2 MiB | 0123456789ab | - | - | 3.11.2 | 6.22.2 | 2/3 FAIL: glibc |

| TARGET | PACKAGE | KIND | BACKEND | CHECKS |
| --- | --- | --- | --- | --- |
| linux/amd64 | peft-desktop\_0.1.0\_amd64.deb | deb | resources/backend/peft\_engine/peft\_engine | 2/2 ok |
| linux/amd64 | linux-unpacked | start | - | 0/1 FAIL: selftest |
`
	assert.Equal(t, r.Markdown(), want)

	// No packages: no second table, as in Table.
	r.Packages = nil
	assert.Assert(t, !strings.Contains(r.Markdown(), "PACKAGE"))
	// No entries: the header alone (a valid, empty GFM table).
	assert.Equal(t, New().Markdown(), "| TARGET | MODE | SIZE | SHA256 | STARTUP | GLIBC | PYTHON | PYINSTALLER | CHECKS |\n"+
		"| --- | --- | ---: | --- | ---: | --- | --- | --- | --- |\n")
}

// The Markdown tables carry Table's facts: for every row, the cells (unescaped) are the words
// of Table's line, so the two renderings cannot drift apart.
func TestMarkdownMatchesTable(t *testing.T) {
	r := sample()
	r.Packages = []Package{{Target: "linux/amd64", Name: "x.deb", Kind: "deb", BackendPath: "resources/backend/peft_engine", Checks: []Check{{Name: "mode", OK: true}}}}
	var text []string
	for _, l := range collapse(strings.Split(r.Table(), "\n")) {
		if l != "" {
			text = append(text, l)
		}
	}
	var md []string
	for _, l := range strings.Split(r.Markdown(), "\n") {
		if l == "" || strings.HasPrefix(l, "| --- ") {
			continue
		}
		md = append(md, strings.Join(strings.Fields(strings.Join(splitRow(t, l), " ")), " "))
	}
	assert.DeepEqual(t, md, text)
}

// A report.json is hostile input: whatever its values, every row keeps its cells, nothing
// becomes HTML, a code span or a link, and each cell shows the value's own characters.
func TestMarkdownHostileValues(t *testing.T) {
	hostile := []string{
		"evil | injected | cells",
		"a\nb\r\nc\rd",
		"| --- |\n| x | y |",
		"trailing backslash\\",
		`\| escaped pipe`,
		"`code` and ``double``",
		"<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>",
		"[click](https://evil.example/)",
		"![pixel](https://evil.example/p.png)",
		"**bold** _em_ ~~strike~~",
		"&lt;b&gt; &#124; &amp;",
		"$x^2$",
		"\u202egpj.exe",
		"nul\x00tab\tff\fnel\u0085ls\u2028ps\u2029",
		"bad utf-8 \xff\xfe",
		"   ",
	}
	r := New()
	for i, h := range hostile {
		e := entry("linux/amd64", "onedir")
		e.Mode = h
		e.Python = h
		e.Checks = []Check{{Name: h, OK: false}}
		if i%2 == 1 {
			e.Target = "linux/arm64"
		}
		r.Entries = append(r.Entries, e) // no Add: keep the order of the cases
		r.Packages = append(r.Packages, Package{Target: h, Name: h, Kind: h, BackendPath: h, Checks: []Check{{Name: h}}})
	}
	md := r.Markdown()
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	assert.Equal(t, len(lines), 2+len(hostile)+1+2+len(hostile), md)
	assert.Assert(t, !strings.ContainsAny(md, "<\r\x00\u2028\u2029\u202e"), md)

	for i, h := range hostile {
		row := splitRow(t, lines[2+i])
		assert.Equal(t, len(row), 9, lines[2+i])
		assert.Equal(t, row[1], sanitized(h), "mode of case %d", i)
		assert.Equal(t, row[6], sanitized(h), "python of case %d", i)
		assert.Equal(t, row[8], sanitized("0/1 FAIL: "+h), "checks of case %d", i)

		pkg := splitRow(t, lines[2+len(hostile)+1+2+i])
		assert.Equal(t, len(pkg), 5, lines[2+len(hostile)+1+2+i])
		for _, c := range pkg[:4] {
			assert.Equal(t, c, sanitized(h), "package cell of case %d", i)
		}
	}
}

// GitHub's own Markdown parser (cmark-gfm, with the extensions github.com enables) reads the
// hostile tables as intended: one row per entry, every cell the value's characters, no HTML but
// the table's and, at most, a bare URL linked to itself. Skipped without cmark-gfm on PATH
// (Debian: apt-get install cmark-gfm).
func TestMarkdownRendersWithCmarkGFM(t *testing.T) {
	cmark, err := exec.LookPath("cmark-gfm")
	if err != nil {
		t.Skip("cmark-gfm not on PATH")
	}
	hostile := []string{
		"evil | a | b", "a\nb\r\n| x | y |", "trail\\", `\| esc`, "`code`", "<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>", "[click](https://evil.example/)", "![p](https://evil.example/p.png)",
		"**b** _e_ ~~s~~", "&lt;b&gt; &#124;", "$x^2$", "\u202egpj.exe", "<!-- c -->", "<https://evil.example>",
	}
	r := New()
	for _, h := range hostile {
		r.Packages = append(r.Packages, Package{Target: "linux/amd64", Name: h, Kind: h, BackendPath: h, Checks: []Check{{Name: h}}})
	}
	cmd := exec.Command(cmark, "--extension", "table", "--extension", "strikethrough", "--extension", "autolink", "--extension", "tagfilter")
	cmd.Stdin = strings.NewReader(r.Markdown())
	out, err := cmd.Output()
	assert.NilError(t, err)

	rows := regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(string(out), -1)
	assert.Equal(t, len(rows), 2+len(hostile), string(out)) // two header rows, then one per package
	cell := regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
	link := regexp.MustCompile(`<a href="([^"<>]*)">([^<]*)</a>`)
	for i, h := range hostile {
		cells := cell.FindAllStringSubmatch(rows[2+i][1], -1)
		assert.Equal(t, len(cells), 5, rows[2+i][1])
		for j, c := range cells[1:] {
			text := link.ReplaceAllStringFunc(c[1], func(a string) string {
				m := link.FindStringSubmatch(a)
				assert.Equal(t, html.UnescapeString(m[1]), html.UnescapeString(m[2]), "a link to somewhere else than its text: %s", a)
				return m[2]
			})
			assert.Assert(t, !strings.Contains(text, "<"), "HTML in a cell: %s", c[1])
			want := sanitized(h)
			if j == 3 {
				want = sanitized("0/1 FAIL: " + h)
			}
			assert.Equal(t, html.UnescapeString(text), want, "case %d rendered as %s", i, c[1])
		}
	}
}

func TestMarkdownCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"linux/amd64", "linux/amd64"},
		{"3.13.5", "3.13.5"},
		{"", "-"},
		{" \n\t ", "-"},
		{"a|b", `a\|b`},
		{`a\|b`, `a\\\|b`},
		{`ends\`, `ends\\`},
		{"`x`", "\\`x\\`"},
		{"a\nb", "a b"},
		{"a\r\nb", "a  b"},
		{"<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"},
		{"&amp;", "&amp;amp;"},
		{"[a](b)", `\[a\](b)`},
		{"![a](b)", `!\[a\](b)`},
		{"*a* _b_ ~c~", `\*a\* \_b\_ \~c\~`},
		{"$x$", `\$x\$`},
		{"\u202eexe", "\uFFFDexe"},
		{"zero\u200bwidth", "zero\uFFFDwidth"},
		{"\xff", "\uFFFD"},
		{"café – 日本", "café – 日本"},
	} {
		got := markdownCell(tc.in)
		assert.Equal(t, got, tc.want, "markdownCell(%q)", tc.in)
		assert.Equal(t, unescapeCell(got), sanitized(tc.in), "round trip of %q", tc.in)
	}
}

// FuzzMarkdownCell: no value can put a line break, a bare pipe or "<" into a cell, and the
// cell always shows the value's own (sanitized) characters.
func FuzzMarkdownCell(f *testing.F) {
	for _, s := range []string{"", "a|b", `\`, `\|`, "`", "<x>", "&lt;", "a\nb", "\u202e", "\xff", "[a](b)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := markdownCell(s)
		if !utf8.ValidString(c) || strings.ContainsAny(c, "\n\r<") {
			t.Fatalf("markdownCell(%q) = %q", s, c)
		}
		if strings.Count(c, "|") != strings.Count(c, `\|`) {
			t.Fatalf("markdownCell(%q) = %q: a pipe not escaped", s, c)
		}
		cells := splitRowErr("| " + c + " |")
		if len(cells) != 1 || cells[0] != sanitized(s) {
			t.Fatalf("markdownCell(%q) = %q reads back as %q, want [%q]", s, c, cells, sanitized(s))
		}
	})
}

// sanitized is what a cell should show for s: markdownCell's text before escaping (the same
// character classes; TestMarkdownCell pins examples of each).
func sanitized(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			b.WriteRune(' ')
		case unicode.Is(unicode.Cf, r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	if t := strings.TrimSpace(b.String()); t != "" {
		return t
	}
	return "-"
}

// splitRow reads a table row as GFM does: cells end at pipes not escaped by a backslash. The
// cells come back unescaped.
func splitRow(t *testing.T, line string) []string {
	t.Helper()
	assert.Assert(t, is.Regexp(`^\| .* \|$`, line))
	return splitRowErr(line)
}

func splitRowErr(line string) []string {
	line = strings.TrimPrefix(line, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			cur.WriteByte(line[i])
			if i+1 < len(line) {
				i++
				cur.WriteByte(line[i])
			}
		case '|':
			cells = append(cells, unescapeCell(strings.TrimSpace(cur.String())))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		cells = append(cells, "UNTERMINATED:"+cur.String())
	}
	return cells
}

// unescapeCell undoes markdownCell's escapes: a backslash before ASCII punctuation, and the
// three entities.
func unescapeCell(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0:
			i++
			b.WriteByte(s[i])
		case strings.HasPrefix(s[i:], "&lt;"):
			b.WriteByte('<')
			i += 3
		case strings.HasPrefix(s[i:], "&gt;"):
			b.WriteByte('>')
			i += 3
		case strings.HasPrefix(s[i:], "&amp;"):
			b.WriteByte('&')
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
