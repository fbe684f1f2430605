package redact

import (
	"slices"
	"strings"
	"testing"
)

func newPolicy(t *testing.T, c Config) *Policy {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// defaultHeaders are the receiver's default capture.redact_headers.
var defaultHeaders = []string{"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"}

func TestArguments(t *testing.T) {
	p := newPolicy(t, Config{Headers: defaultHeaders, ArgumentWords: []string{"Private-Key"}})
	for _, tc := range []struct{ in, want string }{
		{"curl -sS https://example.com/", "curl -sS https://example.com/"},
		// A header on curl's command line: the header's name is a word.
		{"curl -H|Authorization: Bearer abc.def|https://api.example.com/", "curl -H|Authorization: REDACTED|https://api.example.com/"},
		{"curl -H|X-API-Key:k123|https://h/", "curl -H|X-API-Key:REDACTED|https://h/"},
		{"curl|--cookie|session=abc|https://h/", "curl|--cookie|REDACTED|https://h/"},
		// key=value and the value after a flag.
		{"mysql --password=hunter2 -h db", "mysql --password=REDACTED -h db"},
		{"mysql --password hunter2 -h db", "mysql --password REDACTED -h db"},
		{"app --api-key K1 --apikey=K2 --auth_token T", "app --api-key REDACTED --apikey=REDACTED --auth_token REDACTED"},
		{"env MYSQL_PWD=pw DB_PASSWORD=pw2 app", "env MYSQL_PWD=REDACTED DB_PASSWORD=REDACTED app"},
		{"app --client-secret s --credentials c", "app --client-secret REDACTED --credentials REDACTED"},
		// Two sensitive flags in a row: the second is the first's value.
		{"app --token --password x", "app --token REDACTED x"},
		// An empty value has nothing to hide.
		{"app --password= -v", "app --password= -v"},
		// A word added in the config, in another case and with - for _.
		{"app --private_key pk", "app --private_key REDACTED"},
		// Credentials: the user stays.
		{"curl -u admin:secret https://h/", "curl -u admin:REDACTED https://h/"},
		{"ps -u root", "ps -u root"},
		// URLs: userinfo as in url.full, sensitive query values.
		{"curl https://bob:pw@h.example/p?x=1&token=t1#f", "curl https://REDACTED:REDACTED@h.example/p?x=1&token=REDACTED#f"},
		{"git clone https://ghp_abc@github.com/o/r", "git clone https://REDACTED@github.com/o/r"},
		{"curl https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=c&v=1", "curl https://b.s3.amazonaws.com/k?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&v=1"},
		{"app --url=https://u:p@h/", "app --url=https://REDACTED:REDACTED@h/"},
		// The executable is never changed, whatever its name.
		{"/usr/bin/secret-tool lookup x", "/usr/bin/secret-tool lookup x"},
		{"/usr/bin/token=1", "/usr/bin/token=1"},
	} {
		sep := " "
		if strings.Contains(tc.in, "|") {
			sep = "|"
		}
		in := strings.Split(tc.in, sep)
		orig := slices.Clone(in)
		scrubbed, changed := p.Arguments(in)
		if got := strings.Join(scrubbed, sep); got != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("Arguments(%q)\n got %q (changed %v)\nwant %q", tc.in, got, changed, tc.want)
		}
		if !slices.Equal(in, orig) {
			t.Errorf("Arguments(%q) changed its input to %q", tc.in, in)
		}
	}
}

func TestArgumentsDropped(t *testing.T) {
	p := newPolicy(t, Config{DropArguments: true})
	got, changed := p.Arguments([]string{"/usr/bin/curl", "-u", "a:b"})
	if !slices.Equal(got, []string{"/usr/bin/curl"}) || !changed {
		t.Errorf("got %q (changed %v), want only the executable", got, changed)
	}
	if got, changed := p.Arguments([]string{"/usr/bin/true"}); len(got) != 1 || changed {
		t.Errorf("no arguments: got %q (changed %v)", got, changed)
	}
	if got, changed := p.Arguments(nil); len(got) != 0 || changed {
		t.Errorf("no command line: got %q (changed %v)", got, changed)
	}
}

func TestArgumentsUnchangedNotCopied(t *testing.T) {
	p := newPolicy(t, Config{})
	args := []string{"nginx", "-g", "daemon off;"}
	if got, changed := p.Arguments(args); changed || &got[0] != &args[0] {
		t.Error("arguments without a secret were copied")
	}
}

func TestQuery(t *testing.T) {
	p := newPolicy(t, Config{QueryKeys: []string{"api_key"}})
	for _, tc := range []struct{ in, want string }{
		{"a=1&b=2", "a=1&b=2"},
		{"AWSAccessKeyId=AK&Signature=S&Expires=1", "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1"},
		{"sig=x&X-Goog-Signature=y", "sig=REDACTED&X-Goog-Signature=REDACTED"},
		{"X-Amz-Security-Token=t&X-Amz-Date=d", "X-Amz-Security-Token=REDACTED&X-Amz-Date=d"},
		// A configured key adds to the defaults; keys match case-sensitively.
		{"api_key=k&Signature=s&API_KEY=k2", "api_key=REDACTED&Signature=REDACTED&API_KEY=k2"},
		// A key without a value has nothing to hide.
		{"Signature&x=1", "Signature&x=1"},
	} {
		if got := p.Query(tc.in); got != tc.want {
			t.Errorf("Query(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"h.example:8443":    "h.example:8443",
		"u:p@h.example":     "REDACTED:REDACTED@h.example",
		"token@h.example":   "REDACTED@h.example",
		"a@b:c@h.example:1": "REDACTED:REDACTED@h.example:1",
	} {
		if got := Userinfo(in); got != want {
			t.Errorf("Userinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeader(t *testing.T) {
	p := newPolicy(t, Config{Headers: []string{"Authorization", "X-Secret"}})
	for name, want := range map[string]bool{"authorization": true, "x-secret": true, "accept": false} {
		if got := p.Header(name); got != want {
			t.Errorf("Header(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestBody(t *testing.T) {
	for _, tc := range []struct{ pattern, in, want string }{
		// A group: only its text goes.
		{`"password":\s*"([^"]*)"`, `{"user":"u","password": "p1"}`, `{"user":"u","password": "REDACTED"}`},
		// No group: the whole match goes, every match.
		{`\b\d{4}-\d{4}-\d{4}-\d{4}\b`, `card 1234-5678-9012-3456 and 1111-2222-3333-4444.`, `card REDACTED and REDACTED.`},
		// Groups that do not all take part in a match.
		{`(a)|(b)`, `xaxbx`, `xREDACTEDxREDACTEDx`},
		{`secret`, `nothing here`, `nothing here`},
	} {
		p := newPolicy(t, Config{BodyPatterns: []string{tc.pattern}})
		if got := string(p.Body([]byte(tc.in))); got != tc.want {
			t.Errorf("pattern %q: Body(%q) = %q, want %q", tc.pattern, tc.in, got, tc.want)
		}
	}
	// Patterns apply one after the other.
	p := newPolicy(t, Config{BodyPatterns: []string{`k=(\w+)`, `v\d`}})
	if got, want := string(p.Body([]byte("k=abc v1 v2"))), "k=REDACTED REDACTED REDACTED"; got != want {
		t.Errorf("two patterns: got %q, want %q", got, want)
	}
}

func TestNewRejectsBadPattern(t *testing.T) {
	_, err := New(Config{BodyPatterns: []string{`ok`, `(unclosed`}})
	if err == nil || !strings.Contains(err.Error(), "body pattern 1") {
		t.Fatalf("New with an invalid pattern: %v, want an error naming pattern 1", err)
	}
}
