package dispatch

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRunner: any --runner text either gives a runner whose settings are safe on the
// runner's command line (Validate passes, String parses back to the same runner), or an error
// that never repeats a password.
func FuzzParseRunner(f *testing.F) {
	for _, s := range []string{"ssh://ci@mac.lan", "ssh://ci@win:2222?python=py%20-3.13&venv=C:%5Cv", "ssh://ci:s3cr3t-pw@h",
		"ssh://ci@fe80::1", "ssh://ci@[fe80::1]:22", "ssh://ci@::", "ssh://@h", "http://ci@h", "ssh://ci@h/path",
		"ssh://ci@h?python=py%22%20%26%20calc.exe", "ssh://ci@h?venv=%FF", "ssh://ci@h:0", "ssh://ci@h?x=1", "ssh://ci@h?venv=a&venv=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRunner(s)
		if err != nil {
			if u, perr := url.Parse(strings.TrimSpace(s)); perr == nil && u.User != nil {
				pw, ok := u.User.Password()
				rest := u.Scheme + u.User.Username() + u.Host + u.RawQuery + u.Path
				if ok && pw != "" && !strings.Contains(rest, pw) && strings.Contains(err.Error(), ":"+pw+"@") {
					t.Fatalf("error repeats the password %q: %v", pw, err)
				}
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRunner(%q) accepted what Validate refuses: %v", s, err)
		}
		back, err := ParseRunner(r.String())
		if err != nil || back != r {
			t.Fatalf("String() %q of %q does not parse back: %+v, %v", r.String(), s, back, err)
		}
	})
}

// FuzzQuote: whatever an argument holds, the quoted command line splits back into exactly the
// arguments for sh and for cmd.exe + CommandLineToArgvW (settings cmd.exe cannot carry are
// refused earlier, by Validate).
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"plain", "with space", "it's", `a\"b`, `C:\dir\`, "=python", "$HOME", "*.py", "a|b>c", "", "~/v", "-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n") {
			return
		}
		args := []string{"prog", s, "tail"}
		line := strings.Join([]string{shQuote(args[0]), shQuote(s), shQuote(args[2])}, " ")
		got, err := decodeSh(line)
		if err != nil || len(got) != 3 || got[1] != s {
			t.Fatalf("sh: %q → %s → %q (%v)", s, line, got, err)
		}
		if strings.ContainsAny(s, "\"%") {
			return // refused for Windows runners before any quoting
		}
		wline := strings.Join([]string{cmdQuote(args[0]), cmdQuote(s), cmdQuote(args[2])}, " ")
		if w := decodeWindows(wline); len(w) != 3 || w[1] != s {
			t.Fatalf("cmd: %q → %s → %q", s, wline, w)
		}
	})
}
