package config

import (
	"slices"
	"strings"
	"testing"
)

func TestParseScript(t *testing.T) {
	tests := []struct {
		text    string
		want    []string
		wantErr string
	}{
		{text: "/usr/bin/notify", want: []string{"/usr/bin/notify"}},
		{text: "  /bin/echo   up\tnow  ", want: []string{"/bin/echo", "up", "now"}},
		{text: `/bin/sh -c "echo up; exit 0"`, want: []string{"/bin/sh", "-c", "echo up; exit 0"}},
		{text: `/bin/x 'a b' "c 'd'" e'f g'h`, want: []string{"/bin/x", "a b", "c 'd'", "ef gh"}},
		{text: `/bin/x "" ''`, want: []string{"/bin/x", "", ""}},
		{text: `/bin/x a\ b \"q\" 'it\'s'`, want: []string{"/bin/x", "a b", `"q"`, "it's"}},
		{text: `/bin/x \n\t\E\cA \101\0101 \x41\x4a\xg`, want: []string{"/bin/x", "\n\t\x1b\x01", "A\b1", "AJxg"}},
		{text: `/bin/x "a\"b\\c"`, want: []string{"/bin/x", `a"b\c`}},
		{text: "", wantErr: "empty script"},
		{text: "   \t", wantErr: "empty script"},
		{text: `/bin/x "open`, wantErr: `missing terminating "`},
		{text: `/bin/x 'open`, wantErr: "missing terminating '"},
		{text: `/bin/x end\`, wantErr: "a backslash ends it"},
		{text: `/bin/x \0`, wantErr: "NUL byte"},
		// keepalived takes an empty first word and then fails to run it.
		{text: `"" -x`, wantErr: "the program name is empty"},
		{text: `''`, wantErr: "the program name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := ParseScript(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseScript(%q) = %q, %v; want error containing %q", tt.text, got.Argv, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got.Argv, tt.want) || got.Text != tt.text {
				t.Fatalf("ParseScript(%q) = %q (text %q), %v; want %q", tt.text, got.Argv, got.Text, err, tt.want)
			}
		})
	}
}

// TestSplitWords: the line-level split keepalived makes of a script
// keyword's line (notify_up "/bin/x a" user), blank text, and the errors
// without a script's prefix.
func TestSplitWords(t *testing.T) {
	tests := []struct {
		text    string
		want    []string
		wantErr string
	}{
		{text: `notify_up "/bin/echo 'a b'" nobody`, want: []string{"notify_up", "/bin/echo 'a b'", "nobody"}},
		{text: `misc_path "/bin/x \"q\""`, want: []string{"misc_path", `/bin/x "q"`}},
		{text: " \t\n", want: nil},
		{text: `a "b`, wantErr: `missing terminating "`},
		{text: `a\`, wantErr: "a backslash ends it"},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.text)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr && !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("SplitWords(%q) = %q, %v; want error %q", tt.text, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
}

// TestScriptText: ScriptText writes what ParseScript reads back.
func TestScriptText(t *testing.T) {
	for _, argv := range [][]string{
		{"/bin/check"},
		{"/bin/check", "--host", "10.0.0.1"},
		{"/bin/sh", "-c", `echo "up" | grep 'u' \ done`},
		{"/bin/x", "", "tab\there", "nl\n", "\x01\x7f\xff", "ünï"},
	} {
		text := ScriptText(argv)
		got, err := ParseScript(text)
		if err != nil || !slices.Equal(got.Argv, argv) {
			t.Errorf("ParseScript(ScriptText(%q) = %q) = %q, %v", argv, text, got.Argv, err)
		}
	}
	if got := ScriptText([]string{"/bin/check", "-p", "80"}); got != "/bin/check -p 80" {
		t.Errorf("ScriptText of plain words = %q, want them as they are", got)
	}
}

func FuzzParseScript(f *testing.F) {
	for _, s := range []string{`/bin/x "a b" 'c'`, `\x41\101\cA`, `"`, `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseScript(text)
		if err != nil {
			return
		}
		again, err := ParseScript(ScriptText(s.Argv))
		if err != nil || !slices.Equal(again.Argv, s.Argv) {
			t.Fatalf("%q: argv %q does not survive ScriptText: %q, %v", text, s.Argv, again.Argv, err)
		}
	})
}
