package httpparse

import "strings"

// framing is what a header block says about the length of its body.
type framing struct {
	contentLength int64 // -1 when no Content-Length field was present
	clInvalid     bool  // some Content-Length field was invalid or they disagreed
	te            bool  // a Transfer-Encoding field was present
	chunked       bool  // chunked is the final transfer coding
}

// protos interns the version strings so that a parsed message allocates none.
var protos = [10]string{"1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9"}

// parseVersion parses HTTP-version = HTTP-name "/" DIGIT "." DIGIT, where
// HTTP-name = %s"HTTP" is case-sensitive (RFC 9112 §2.3). Only major version 1
// belongs to this parser.
func parseVersion(v string) (string, bool) {
	if len(v) != len("HTTP/1.1") || v[:7] != "HTTP/1." || v[7] < '0' || v[7] > '9' {
		return "", false
	}
	return protos[v[7]-'0'], true
}

// parseRequestLine parses request-line = method SP request-target SP
// HTTP-version (RFC 9112 §3). The request-target may not contain whitespace
// ("A recipient ... MUST NOT attempt to autocorrect"), so the method ends at
// the first SP and the version starts after the last one.
func parseRequestLine(line string) (method, target, proto string, err error) {
	i := strings.IndexByte(line, ' ')
	j := strings.LastIndexByte(line, ' ')
	if i <= 0 || j <= i+1 {
		return "", "", "", errBadRequestLine
	}
	method, target = line[:i], line[i+1:j]
	if !isToken(method) {
		return "", "", "", errBadRequestLine
	}
	if m, ok := knownMethod(method); ok {
		method = m
	}
	for k := 0; k < len(target); k++ {
		if c := target[k]; c <= ' ' || c == 0x7f {
			return "", "", "", errBadRequestLine
		}
	}
	proto, ok := parseVersion(line[j+1:])
	if !ok {
		return "", "", "", errBadVersion
	}
	return method, target, proto, nil
}

// parseStatusLine parses status-line = HTTP-version SP status-code SP
// [ reason-phrase ] (RFC 9112 §4). The SP before an empty reason-phrase is
// often missing in practice, and "a client SHOULD ignore the reason-phrase
// content", so it is optional here.
func parseStatusLine(line string) (proto string, code int, reason string, err error) {
	if len(line) < len("HTTP/1.1 200") || line[8] != ' ' {
		return "", 0, "", errBadStatusLine
	}
	proto, ok := parseVersion(line[:8])
	if !ok {
		return "", 0, "", errBadVersion
	}
	if code, ok = parseStatusCode(line[9:12]); !ok {
		return "", 0, "", errBadStatusLine
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return "", 0, "", errBadStatusLine
		}
		reason = line[13:]
		for k := 0; k < len(reason); k++ {
			if c := reason[k]; c == 0 || c == '\r' {
				return "", 0, "", errBadStatusLine
			}
		}
	}
	return proto, code, reason, nil
}

// parseStatusCode parses status-code = 3DIGIT (RFC 9112 §4), which is also
// what HTTP/2's :status holds, "a three-digit HTTP status code" (RFC 9113
// §8.3.2). A code below 100 is refused.
func parseStatusCode(v string) (int, bool) {
	if len(v) != 3 {
		return 0, false
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, false
	}
	return code, true
}

// nextLine splits s at its first LF. "Although the line terminator for the
// start-line and fields is the sequence CRLF, a recipient MAY recognize a
// single LF as a line terminator and ignore any preceding CR" (RFC 9112 §2.2).
func nextLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", s, false
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest, true
}

// parseRequestHead parses a request's header block into req. A partial block
// (cut by a capture gap, a size bound or the end of the connection) keeps
// what its complete lines say.
func parseRequestHead(block string, req *Request, partial bool) (framing, error) {
	line, rest, ok := nextLine(block)
	if !ok {
		return framing{}, errBadRequestLine
	}
	method, target, proto, err := parseRequestLine(line)
	if err != nil {
		return framing{}, err
	}
	req.Method, req.Target, req.Proto = method, target, proto
	return parseFields(rest, &req.Message, partial)
}

// parseResponseHead parses a response's header block into resp.
func parseResponseHead(block string, resp *Response, partial bool) (framing, error) {
	line, rest, ok := nextLine(block)
	if !ok {
		return framing{}, errBadStatusLine
	}
	proto, code, reason, err := parseStatusLine(line)
	if err != nil {
		return framing{}, err
	}
	resp.Proto, resp.StatusCode, resp.Reason = proto, code, reason
	return parseFields(rest, &resp.Message, partial)
}

// parseFields parses field-line = field-name ":" OWS field-value OWS
// (RFC 9112 §5) up to the empty line, appending to m.Header in wire order.
// Names and values are substrings of block, which was copied once from the
// wire, so fields cost no allocation of their own.
func parseFields(block string, m *Message, partial bool) (framing, error) {
	f := framing{contentLength: -1}
	if n := strings.Count(block, "\n"); cap(m.Header) >= n {
		m.Header = m.Header[:0] // a released slot's
	} else {
		m.Header = make([]HeaderField, 0, n)
	}
	for {
		line, rest, ok := nextLine(block)
		if !ok {
			if partial {
				return f, nil
			}
			return f, errBadFieldLine
		}
		block = rest
		if line == "" {
			return f, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(m.Header) == 0 {
				// "A recipient that receives whitespace between the start-line and
				// the first header field MUST either reject the message as invalid
				// or consume each whitespace-preceded line without further
				// processing of it" (RFC 9112 §2.2).
				continue
			}
			// obs-fold: "A user agent that receives an obs-fold in a response
			// message ... MUST replace each received obs-fold with one or more
			// SP octets prior to interpreting the field value" (RFC 9112 §5.2).
			v := trimOWS(line)
			if !validValue(v) {
				return f, errBadFieldValue
			}
			last := &m.Header[len(m.Header)-1]
			if v != "" {
				if last.Value == "" {
					last.Value = v
				} else {
					last.Value = last.Value + " " + v
				}
			}
			if err := f.note(last.Name, last.Value, true); err != nil {
				return f, err
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			return f, errBadFieldLine
		}
		// "No whitespace is allowed between the field name and colon"
		// (RFC 9112 §5.1): ValidFieldName rejects it along with the rest.
		name := line[:colon]
		if !ValidFieldName(name) {
			return f, errBadFieldName
		}
		value := trimOWS(line[colon+1:])
		if !validValue(value) {
			return f, errBadFieldValue
		}
		m.Header = append(m.Header, HeaderField{Name: name, Value: value})
		if err := f.note(name, value, false); err != nil {
			return f, err
		}
	}
}

// note records what a field says about framing. folded is set when value
// replaces an earlier value of the same field line.
func (f *framing) note(name, value string, folded bool) error {
	switch {
	case len(name) == len("content-length") && equalFold(name, "content-length"):
		if folded {
			// The folded line was already recorded; a fold inside a number
			// makes it invalid.
			f.clInvalid = true
			return nil
		}
		n, ok := parseContentLength(value)
		switch {
		case !ok:
			f.clInvalid = true
		case f.contentLength >= 0 && f.contentLength != n:
			f.clInvalid = true
		default:
			f.contentLength = n
		}
	case len(name) == len("transfer-encoding") && equalFold(name, "transfer-encoding"):
		// "If one or more encodings have been applied to a representation, the
		// sender that applied the encodings MUST generate a Transfer-Encoding
		// header field that lists the content codings in the order in which
		// they were applied": the final coding is the last list element of the
		// last field.
		f.te = true
		if last := lastElement(value); last != "" {
			f.chunked = len(last) == len("chunked") && equalFold(last, "chunked")
		}
	}
	return nil
}

// maxContentLength keeps body arithmetic far from int64 overflow.
const maxContentLength = 1 << 62

// parseContentLength parses Content-Length = 1*DIGIT (RFC 9110 §8.6), also
// accepting a list of identical values ("42, 42"), which a recipient may
// treat as the single value when the values are the same.
func parseContentLength(v string) (int64, bool) {
	n := int64(-1)
	for more := true; more; {
		var elem string
		elem, v, more = strings.Cut(v, ",")
		elem = trimOWS(elem)
		if elem == "" {
			return 0, false
		}
		var x int64
		for i := 0; i < len(elem); i++ {
			c := elem[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int64(c-'0')
			if x > maxContentLength {
				return 0, false
			}
		}
		if n >= 0 && x != n {
			return 0, false
		}
		n = x
	}
	return n, true
}
