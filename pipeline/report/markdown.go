package report

import (
	"strings"
	"unicode"
)

// Markdown renders the facts of Table as GitHub-flavoured Markdown tables, for a CI job's
// step summary or a release's notes: one row per entry (TARGET MODE SIZE SHA256 STARTUP GLIBC
// PYTHON PYINSTALLER CHECKS), then, when entries have runs-on rows, a table of them (TARGET
// MODE RUNS ON GLIBC RESULT), then, when the report has package results, a table of those
// (TARGET PACKAGE KIND BACKEND CHECKS), separated by blank lines.
//
// Every cell is text from a report.json, which may come from another machine, so it is
// escaped (markdownCell): a value cannot end its cell or row (|, line breaks), open a code
// span, emphasis, a link or an image, or bring in HTML or an entity; it renders as its own
// characters. (A bare URL in a value may still be shown as a link to itself, as GitHub does
// with any text.)
func (r Report) Markdown() string {
	var sb strings.Builder
	rows := make([][]string, 0, len(r.Entries))
	for _, e := range r.Entries {
		rows = append(rows, entryCells(e))
	}
	writeMarkdownTable(&sb,
		[]string{"TARGET", "MODE", "SIZE", "SHA256", "STARTUP", "GLIBC", "PYTHON", "PYINSTALLER", "CHECKS"},
		[]bool{false, false, true, false, true, false, false, false, false}, rows)
	if ro := r.runsOnRows(); len(ro) > 0 {
		sb.WriteString("\n")
		writeMarkdownTable(&sb, runsOnHeader, nil, ro)
	}
	if len(r.Packages) > 0 {
		rows = rows[:0]
		for _, p := range r.Packages {
			rows = append(rows, packageCells(p))
		}
		sb.WriteString("\n")
		writeMarkdownTable(&sb, []string{"TARGET", "PACKAGE", "KIND", "BACKEND", "CHECKS"}, nil, rows)
	}
	return sb.String()
}

// entryCells are an entry's cells in Table's columns, with Table's formatting.
func entryCells(e Entry) []string {
	return []string{dash(e.Target), dash(e.Mode), mib(e.SizeBytes), dash(short(e.SHA256)), startup(e),
		dash(e.GlibcFloor), dash(e.Python), dash(e.PyInstaller), checks(e.Checks)}
}

// packageCells are a package's cells in Table's second table.
func packageCells(p Package) []string {
	return []string{dash(p.Target), dash(p.Name), dash(p.Kind), dash(p.BackendPath), checks(p.Checks)}
}

// writeMarkdownTable writes a header, its delimiter row (right-aligned where right[i]) and the
// rows, every cell escaped.
func writeMarkdownTable(sb *strings.Builder, header []string, right []bool, rows [][]string) {
	writeMarkdownRow(sb, header)
	sb.WriteString("|")
	for i := range header {
		if i < len(right) && right[i] {
			sb.WriteString(" ---: |")
		} else {
			sb.WriteString(" --- |")
		}
	}
	sb.WriteString("\n")
	for _, row := range rows {
		writeMarkdownRow(sb, row)
	}
}

func writeMarkdownRow(sb *strings.Builder, cells []string) {
	sb.WriteString("|")
	for _, c := range cells {
		sb.WriteString(" ")
		sb.WriteString(markdownCell(c))
		sb.WriteString(" |")
	}
	sb.WriteString("\n")
}

// markdownEscapes are the characters that could end a cell (|), escape the next character (\),
// open a code span, emphasis, strikethrough, a link or image, or inline math, and the start of
// HTML and of entities: backslash escapes for the Markdown ones (CommonMark renders an escaped
// ASCII punctuation character as itself), entities for the HTML ones (GitHub renders raw HTML
// in Markdown, so "<" must never reach it as such).
var markdownEscapes = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "~", `\~`, "[", `\[`, "]", `\]`, "$", `\$`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;",
)

// markdownCell escapes s for one cell of a GitHub-flavoured Markdown table: one line (line
// breaks and other control characters become spaces, invisible format characters such as bidi
// overrides become U+FFFD, invalid UTF-8 too), leading and trailing space trimmed, "-" when
// nothing is left, and every character with a meaning in a table cell escaped (see
// markdownEscapes). The cell then shows s's characters, and nothing in s can break the table
// or inject a link, an image or HTML.
func markdownCell(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp):
			return ' ' // \n, \r, \t, NUL, U+0085, U+2028, U+2029: never a new line in the table
		case unicode.In(r, unicode.Cf):
			return '\uFFFD' // bidi overrides, zero-width characters: shown, not obeyed
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "-"
	}
	return markdownEscapes.Replace(s)
}
