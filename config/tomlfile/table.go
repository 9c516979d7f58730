package tomlfile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// This file reads typed values out of one decoded TOML table, recording a
// *config.Error for each wrong type or range and each unknown key.

// tomlTable reads the keys of one TOML table, remembering which it used
// so done can report the rest as unknown.
type tomlTable struct {
	p     *fileParser
	path  string // "" for the document, else "virtual_server[0]"
	m     map[string]any
	known []string
}

func (p *fileParser) table(path string, m map[string]any, known ...string) *tomlTable {
	return &tomlTable{p: p, path: path, m: m, known: known}
}

func (t *tomlTable) field(key string) string {
	if t.path == "" {
		return tomlKey(key)
	}
	return t.path + "." + tomlKey(key)
}

// done reports every key of the table that is not a known one.
func (t *tomlTable) done() {
	var unknown []string
	for key := range t.m {
		if !slices.Contains(t.known, key) {
			unknown = append(unknown, key)
		}
	}
	slices.Sort(unknown) // same-line keys report in a stable order
	for _, key := range unknown {
		t.p.errorf(t.field(key), "unknown key%s", unknownHint(t.path, key, t.known))
	}
}

func (t *tomlTable) wrongType(key, want string) {
	t.p.wrongType(t.field(key), t.m[key], want)
}

// wrongType reports that the value v at field is not want.
func (p *fileParser) wrongType(field string, v any, want string) {
	p.errorf(field, "must be %s (got %s)", want, tomlValueText(v))
}

// tomlValueText describes a decoded value for an error: its type, and the
// value itself when it is short.
func tomlValueText(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case map[string]any, []map[string]any, []any:
		return tomlTypeName(v)
	}
	return fmt.Sprintf("%s %v", tomlTypeName(v), v)
}

// string returns the string at key; set is false when the key is absent
// or not a string (which is reported).
func (t *tomlTable) string(key string) (s string, set bool) {
	v, present := t.m[key]
	if !present {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(key, "a string")
	}
	return s, ok
}

// int returns the integer at key, 0 when absent. ok is false when the
// value is wrong (which is reported).
func (t *tomlTable) int(key string, lo, hi int64) (n int64, ok bool) {
	v, present := t.m[key]
	if !present {
		return 0, true
	}
	n, ok = v.(int64)
	if !ok {
		t.wrongType(key, "an integer")
		return 0, false
	}
	if n < lo || n > hi {
		t.p.errorf(t.field(key), "must be between %d and %d (got %d)", lo, hi, n)
		return 0, false
	}
	return n, true
}

// seconds returns the duration at key, given in seconds as an integer or
// a decimal (2.5), rounded to the microsecond, keepalived's timer
// resolution. set is false when the key is absent or its value wrong
// (which is reported).
func (t *tomlTable) seconds(key string, lo, hi time.Duration) (d time.Duration, set bool) {
	v, present := t.m[key]
	if !present {
		return 0, false
	}
	var sec float64
	switch v := v.(type) {
	case int64:
		sec = float64(v)
	case float64:
		sec = v
	default:
		t.wrongType(key, "seconds, an integer or a decimal like 2.5")
		return 0, false
	}
	if math.IsNaN(sec) || sec < lo.Seconds() || sec > hi.Seconds() {
		t.p.errorf(t.field(key), "must be between %s and %s seconds (got %v)", secondsText(lo), secondsText(hi), v)
		return 0, false
	}
	d = time.Duration(math.Round(sec*1e6)) * time.Microsecond
	if d < lo {
		d = lo
	}
	return d, true
}

// secondsText writes d as the file does: seconds, with a fraction only
// when there is one.
func secondsText(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// uint32 is int for values that fit a uint32.
func (t *tomlTable) uint32(key string, hi int64) (uint32, bool) {
	n, ok := t.int(key, 0, hi)
	return uint32(n), ok
}

// bool returns the boolean at key, false when absent or wrong.
func (t *tomlTable) bool(key string) bool {
	v, present := t.m[key]
	if !present {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(key, "true or false")
	}
	return b
}

// flag returns the sysctl-style switch at key: 0 or 1, or true or false
// (false when absent or wrong, which is reported).
func (t *tomlTable) flag(key string) bool {
	v, present := t.m[key]
	if !present {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		if v == 0 || v == 1 {
			return v == 1
		}
	}
	t.wrongType(key, "0, 1, true or false")
	return false
}

// strings returns the array of strings at key.
func (t *tomlTable) strings(key string) (out []string, set bool) {
	v, present := t.m[key]
	if !present {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(key, "an array of strings")
		return nil, false
	}
	out = make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			t.p.errorf(fmt.Sprintf("%s[%d]", t.field(key), i), "must be a string (got %s)", tomlTypeName(e))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// table returns the sub-table at key.
func (t *tomlTable) table(key string) (map[string]any, bool) {
	v, present := t.m[key]
	if !present {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(key, "a table")
	}
	return m, ok
}

// tables returns the array of tables at key ([[key]] blocks or an inline
// array of inline tables).
func (t *tomlTable) tables(key string) []map[string]any {
	v, present := t.m[key]
	if !present {
		return nil
	}
	switch v := v.(type) {
	case []map[string]any:
		return v
	case []any:
		out := make([]map[string]any, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				t.p.errorf(fmt.Sprintf("%s[%d]", t.field(key), i), "must be a table (got %s)", tomlTypeName(e))
				return nil
			}
			out = append(out, m)
		}
		return out
	}
	t.wrongType(key, "an array of tables ([["+t.field(key)+"]])")
	return nil
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	}
	return "datetime"
}
