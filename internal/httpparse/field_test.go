package httpparse

import "testing"

func TestValidFieldName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Content-Type", true},
		{"x-api-key", true},
		{"!#$%&'*+-.^_`|~09azAZ", true}, // every tchar class (RFC 9110 §5.6.2)
		{"", false},
		{"x api", false},
		{"host:", false},
		{"host ", false}, // no whitespace between the field name and colon (RFC 9112 §5.1)
		{"x\tkey", false},
		{":authority", false}, // an HTTP/2 pseudo-header, not a field name
		{"(comment)", false},
		{`"quoted"`, false},
		{"a@b", false},
		{"x,y", false},
		{"x/y", false},
		{"del\x7f", false},
		{"nul\x00", false},
		{"caf\xc3\xa9", false}, // obs-text is not a tchar
	} {
		if got := ValidFieldName(tc.name); got != tc.want {
			t.Errorf("ValidFieldName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
