package healthcheck

import (
	"testing"
)

// FuzzAnswerParsers feeds arbitrary bytes to every parser of what a real
// server sends back: none may panic, and their results stay in range.
func FuzzAnswerParsers(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Length: 12\r\n"))
	f.Add([]byte("HTTP/1.1 404 \r\ncontent-length: -1"))
	f.Add([]byte("220 mail.example ESMTP"))
	f.Add([]byte("\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x01\x00\x00\x7f\x00\x00\x01\x7f\x00\x00\x01\x00\x00\x00\x00\x00\x07\x00\x09"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if code := httpStatusCode(b); code < 0 || code > 999 {
			t.Errorf("status code %d", code)
		}
		if n := httpContentLength(b); n < -1 {
			t.Errorf("content length %d", n)
		}
		if s := smtpStatus(b); s < -1 || s > 999 {
			t.Errorf("SMTP status %d", s)
		}
		skip, msg := dnsJudge(b, 0x1234)
		if skip && msg != "" {
			t.Errorf("skipped answer with a verdict %q", msg)
		}
		for _, raw := range []bool{false, true} {
			icmpIsReply(b, false, raw, 7, 9)
			icmpIsReply(b, true, raw, 7, 9)
		}
	})
}
