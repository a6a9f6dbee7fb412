package pack

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// UpdateInfo is what electron-builder writes to latest.yml, latest-mac.yml
// and latest-linux*.yml for electron-updater.
type UpdateInfo struct {
	Version string
	Files   []UpdateFile
	// Path and SHA512 are the legacy single-file fields; electron-builder
	// repeats the first file's url and sha512 there.
	Path, SHA512 string
	ReleaseDate  string
}

// UpdateFile is one entry of UpdateInfo.Files.
type UpdateFile struct {
	URL    string
	SHA512 string // base64 of the sha512 digest, as electron-updater compares it
	Size   int64
	Line   int // where the entry starts in the yml
}

// Keys ParseUpdateInfo accepts. electron-builder (js-yaml dump, lineWidth 8000)
// writes these and no others; anything else is an error, so a format change
// is noticed instead of half-read.
var (
	updateInfoKeys = map[string]bool{
		"version": true, "files": true, "path": true, "sha512": true, "releaseDate": true,
		"releaseName": true, "releaseNotes": true, "stagingPercentage": true, "minimumSystemVersion": true,
	}
	updateFileKeys = map[string]bool{
		"url": true, "sha512": true, "size": true, "blockMapSize": true, "isAdminRightsRequired": true,
	}
)

// ParseUpdateInfo parses the YAML subset electron-builder writes for
// electron-updater, without a YAML library:
//
//	version: 0.1.0
//	files:
//	  - url: peft-desktop-0.1.0.tar.gz
//	    sha512: <base64>
//	    size: 12345
//	path: peft-desktop-0.1.0.tar.gz
//	sha512: <base64>
//	releaseDate: '2026-11-25T10:00:00.000Z'
//
// Accepted: LF or CRLF line ends, a UTF-8 BOM, blank lines, whole-line
// comments, plain, 'single-' and "double-quoted" scalars, list items at the
// key's indentation or deeper, and a block scalar (| or >) for releaseNotes.
// Rejected with the line number: tabs in indentation, unknown or repeated
// keys, flow collections, anchors, tags, and a files entry without url,
// sha512 or size.
func ParseUpdateInfo(data []byte) (UpdateInfo, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	raw := strings.Split(string(data), "\n")
	for i, l := range raw {
		raw[i] = strings.TrimSuffix(l, "\r")
	}
	p := yamlParser{lines: raw}
	return p.parse()
}

type yamlParser struct {
	lines []string
	i     int // next line index
}

type yamlLine struct {
	no     int // 1-based
	indent int
	text   string // without the indentation
}

// next returns the next line that is not blank or a comment, without consuming it.
func (p *yamlParser) next() (yamlLine, bool, error) {
	for ; p.i < len(p.lines); p.i++ {
		l := p.lines[p.i]
		t := strings.TrimLeft(l, " ")
		if strings.HasPrefix(t, "\t") {
			return yamlLine{}, false, fmt.Errorf("line %d: tab in indentation", p.i+1)
		}
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return yamlLine{no: p.i + 1, indent: len(l) - len(t), text: strings.TrimRight(t, " \t")}, true, nil
	}
	return yamlLine{}, false, nil
}

func (p *yamlParser) parse() (UpdateInfo, error) {
	var u UpdateInfo
	seen := map[string]int{}
	for {
		l, ok, err := p.next()
		if err != nil {
			return u, err
		}
		if !ok {
			break
		}
		if l.no == 1 && (l.text == "---" || strings.HasPrefix(l.text, "%")) {
			return u, fmt.Errorf("line 1: document markers and directives are not part of electron-builder's format")
		}
		if l.indent != 0 {
			return u, fmt.Errorf("line %d: unexpected indentation", l.no)
		}
		if strings.HasPrefix(l.text, "-") {
			return u, fmt.Errorf("line %d: list item outside files", l.no)
		}
		key, val, err := splitKV(l)
		if err != nil {
			return u, err
		}
		if !updateInfoKeys[key] {
			return u, fmt.Errorf("line %d: unknown key %q", l.no, key)
		}
		if prev, dup := seen[key]; dup {
			return u, fmt.Errorf("line %d: key %q repeated (first on line %d)", l.no, key, prev)
		}
		seen[key] = l.no
		p.i++

		if key == "files" {
			if val != "" {
				return u, fmt.Errorf("line %d: files must be a block list (\"- url: …\" lines below it)", l.no)
			}
			if u.Files, err = p.parseFiles(); err != nil {
				return u, err
			}
			continue
		}
		if key == "releaseNotes" && (strings.HasPrefix(val, "|") || strings.HasPrefix(val, ">")) {
			if err := p.skipBlockScalar(l, val); err != nil {
				return u, err
			}
			continue
		}
		s, err := scalar(l.no, val)
		if err != nil {
			return u, err
		}
		switch key {
		case "version":
			u.Version = s
		case "path":
			u.Path = s
		case "sha512":
			u.SHA512 = s
		case "releaseDate":
			u.ReleaseDate = s
		}
	}
	return u, nil
}

// parseFiles reads the list under "files:" up to the next top-level key.
func (p *yamlParser) parseFiles() ([]UpdateFile, error) {
	var files []UpdateFile
	dash := -1 // indentation of the items' "-"
	var cur *UpdateFile
	var seen map[string]int
	finish := func() error {
		if cur == nil {
			return nil
		}
		for _, k := range []string{"url", "sha512", "size"} {
			if _, ok := seen[k]; !ok {
				return fmt.Errorf("line %d: files entry has no %s", cur.Line, k)
			}
		}
		files = append(files, *cur)
		cur = nil
		return nil
	}
	for {
		l, ok, err := p.next()
		if err != nil {
			return nil, err
		}
		item := l.text == "-" || strings.HasPrefix(l.text, "- ")
		if !ok || (l.indent == 0 && !item) || (dash >= 0 && l.indent < dash) {
			break // end of the list
		}
		text, indent := l.text, l.indent
		if item {
			if dash < 0 {
				dash = l.indent
			}
			if l.indent != dash {
				return nil, fmt.Errorf("line %d: list item indented %d, the first item %d", l.no, l.indent, dash)
			}
			if err := finish(); err != nil {
				return nil, err
			}
			cur, seen = &UpdateFile{Line: l.no}, map[string]int{}
			text = strings.TrimLeft(strings.TrimPrefix(text, "-"), " ")
			if text == "" {
				return nil, fmt.Errorf("line %d: files entry must start with \"- key: value\" on the same line", l.no)
			}
			indent = l.indent + (len(l.text) - len(text))
		} else if cur == nil {
			return nil, fmt.Errorf("line %d: files must be a block list of \"- url: …\" entries", l.no)
		} else if indent != dash+2 {
			return nil, fmt.Errorf("line %d: key indented %d inside a files entry, want %d", l.no, indent, dash+2)
		}
		if item && indent != dash+2 {
			return nil, fmt.Errorf("line %d: one space after \"-\" expected", l.no)
		}
		key, val, err := splitKV(yamlLine{no: l.no, indent: indent, text: text})
		if err != nil {
			return nil, err
		}
		if !updateFileKeys[key] {
			return nil, fmt.Errorf("line %d: unknown key %q in a files entry", l.no, key)
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: key %q repeated in a files entry (first on line %d)", l.no, key, prev)
		}
		seen[key] = l.no
		s, err := scalar(l.no, val)
		if err != nil {
			return nil, err
		}
		switch key {
		case "url":
			cur.URL = s
		case "sha512":
			cur.SHA512 = s
		case "size":
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("line %d: size %q is not a byte count", l.no, s)
			}
			cur.Size = n
		case "blockMapSize":
			if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < 0 {
				return nil, fmt.Errorf("line %d: blockMapSize %q is not a byte count", l.no, s)
			}
		case "isAdminRightsRequired":
			if s != "true" && s != "false" {
				return nil, fmt.Errorf("line %d: isAdminRightsRequired %q is not true or false", l.no, s)
			}
		}
		p.i++
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return files, nil
}

// skipBlockScalar consumes the lines of a | or > block scalar: blank lines and
// lines indented deeper than the key.
func (p *yamlParser) skipBlockScalar(l yamlLine, header string) error {
	h := strings.TrimLeft(header, "|>")
	if strings.Trim(h, "+-0123456789") != "" {
		return fmt.Errorf("line %d: malformed block scalar header %q", l.no, header)
	}
	for ; p.i < len(p.lines); p.i++ {
		s := p.lines[p.i]
		if strings.TrimSpace(s) == "" {
			continue
		}
		if len(s)-len(strings.TrimLeft(s, " ")) <= l.indent {
			break
		}
	}
	return nil
}

// splitKV splits "key: value" (value may be empty).
func splitKV(l yamlLine) (key, val string, err error) {
	k, v, ok := strings.Cut(l.text, ":")
	if !ok || (v != "" && v[0] != ' ') {
		return "", "", fmt.Errorf("line %d: %q is not \"key: value\"", l.no, l.text)
	}
	k = strings.TrimSpace(k)
	if k == "" || strings.ContainsAny(k, ` '"{}[]#&*!|>%@,`+"`") {
		return "", "", fmt.Errorf("line %d: %q is not a plain key", l.no, k)
	}
	return k, strings.TrimSpace(v), nil
}

// scalar decodes a plain, single- or double-quoted scalar; a trailing
// " # comment" after a plain or quoted scalar is dropped.
func scalar(no int, v string) (string, error) {
	if v == "" || v[0] == '#' {
		return "", nil // empty, or only a comment
	}
	switch v[0] {
	case '\'':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			if v[i] != '\'' {
				b.WriteByte(v[i])
				continue
			}
			if i+1 < len(v) && v[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			if rest := strings.TrimSpace(v[i+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
				return "", fmt.Errorf("line %d: text after the closing quote in %s", no, v)
			}
			return b.String(), nil
		}
		return "", fmt.Errorf("line %d: unterminated single-quoted scalar %s", no, v)
	case '"':
		end := -1
		for i := 1; i < len(v); i++ {
			if v[i] == '\\' {
				i++
				continue
			}
			if v[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return "", fmt.Errorf("line %d: unterminated double-quoted scalar %s", no, v)
		}
		if rest := strings.TrimSpace(v[end+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("line %d: text after the closing quote in %s", no, v)
		}
		s, err := strconv.Unquote(v[:end+1])
		if err != nil {
			return "", fmt.Errorf("line %d: unsupported escape in %s", no, v[:end+1])
		}
		return s, nil
	case '[', '{':
		return "", fmt.Errorf("line %d: flow collections are not part of electron-builder's format: %s", no, v)
	case '&', '*', '!', '|', '>', '%', '@', '`':
		return "", fmt.Errorf("line %d: %q starts with a YAML indicator this parser does not accept", no, v)
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimRight(v[:i], " ")
	}
	if strings.Contains(v, ": ") {
		return "", fmt.Errorf("line %d: plain scalar %q contains \": \"", no, v)
	}
	return v, nil
}

// CheckUpdateInfo checks Property 9 on one latest*.yml: an error when the file
// cannot be read or is not in electron-builder's format; otherwise one
// "update-info" check on the document (a version, at least one file, no url
// listed twice, the legacy path/sha512 agreeing with their files entry) and one
// "update-file" check per listed file: a plain file name next to the yml, a
// regular file, the listed size, and base64(sha512(content)) equal to the
// listed sha512 — what electron-updater verifies after downloading.
func CheckUpdateInfo(ymlPath string) ([]Check, error) {
	data, err := os.ReadFile(ymlPath)
	if err != nil {
		return nil, fmt.Errorf("update info %s: %w", ymlPath, cause(err))
	}
	u, err := ParseUpdateInfo(data)
	if err != nil {
		return nil, fmt.Errorf("update info %s: %w", ymlPath, err)
	}
	yml := filepath.Base(ymlPath)
	dir := filepath.Dir(ymlPath)

	var problems []string
	if u.Version == "" {
		problems = append(problems, "no version")
	}
	if len(u.Files) == 0 {
		problems = append(problems, "no files listed")
	}
	byURL := map[string]UpdateFile{}
	for _, f := range u.Files {
		if prev, dup := byURL[f.URL]; dup {
			problems = append(problems, fmt.Sprintf("%s listed twice (lines %d and %d)", f.URL, prev.Line, f.Line))
			continue
		}
		byURL[f.URL] = f
	}
	switch f, listed := byURL[u.Path]; {
	case u.Path == "" && u.SHA512 != "":
		problems = append(problems, "sha512 without path")
	case u.Path == "":
	case !listed:
		problems = append(problems, fmt.Sprintf("path %s is not among the files", u.Path))
	case u.SHA512 != "" && u.SHA512 != f.SHA512:
		problems = append(problems, fmt.Sprintf("sha512 differs from the one files lists for %s", u.Path))
	}
	doc := Check{Name: CheckUpdateInfoDoc, OK: len(problems) == 0}
	if doc.OK {
		doc.Detail = fmt.Sprintf("%s: version %s, %d file(s)", yml, u.Version, len(u.Files))
	} else {
		doc.Detail = fmt.Sprintf("%s: %s", yml, strings.Join(problems, "; "))
	}
	checks := []Check{doc}
	for _, f := range u.Files {
		checks = append(checks, checkUpdateFile(dir, yml, f))
	}
	return checks, nil
}

func checkUpdateFile(dir, yml string, f UpdateFile) Check {
	fail := func(format string, args ...any) Check {
		return Check{Name: CheckUpdateFile, Detail: fmt.Sprintf(format, args...)}
	}
	if !validComponent(f.URL) || strings.Contains(f.URL, ":") {
		return fail("%s line %d: url %q is not a file name next to %s", yml, f.Line, f.URL, yml)
	}
	want, err := base64.StdEncoding.DecodeString(f.SHA512)
	if err != nil || len(want) != sha512.Size {
		return fail("%s: %s lists sha512 %q, which is not the base64 of a 64-byte digest", f.URL, yml, f.SHA512)
	}
	p := filepath.Join(dir, f.URL)
	fh, err := os.Open(p)
	if err != nil {
		msg := fmt.Sprintf("%s: listed in %s but %v", f.URL, yml, cause(err))
		if errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("%s: listed in %s but not next to it", f.URL, yml)
			if alt := strings.ReplaceAll(f.URL, "-", " "); alt != f.URL {
				if _, err := os.Stat(filepath.Join(dir, alt)); err == nil {
					msg += fmt.Sprintf(" (%q is: electron-builder writes url with '-' for spaces, the file keeps its spaces)", alt)
				}
			}
		}
		return fail("%s", msg)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fail("%s: %v", f.URL, cause(err))
	}
	if !fi.Mode().IsRegular() {
		return fail("%s: listed in %s but is not a regular file", f.URL, yml)
	}
	if fi.Size() != f.Size {
		return fail("%s: %d bytes, %s lists %d", f.URL, fi.Size(), yml, f.Size)
	}
	h := sha512.New()
	if _, err := io.Copy(h, fh); err != nil {
		return fail("%s: %v", f.URL, err)
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != f.SHA512 {
		return fail("%s: sha512 %s, %s lists %s: electron-updater would reject the download", f.URL, got, yml, f.SHA512)
	}
	return Check{Name: CheckUpdateFile, OK: true, Detail: fmt.Sprintf("%s: %d bytes, sha512 as listed in %s", f.URL, f.Size, yml)}
}
