package redact

// Body returns b with every match of the body patterns redacted: the text of
// each capture group when a pattern has groups (so "password":"([^"]*)" keeps
// the key), else the whole match. Without patterns, or without a match, b
// itself is returned.
func (p *Policy) Body(b []byte) []byte {
	for _, re := range p.bodyPatterns {
		matches := re.FindAllSubmatchIndex(b, -1)
		if matches == nil {
			continue
		}
		out := make([]byte, 0, len(b))
		last := 0
		for _, m := range matches {
			spans := m[2:] // the groups' [start, end) pairs
			if len(spans) == 0 {
				spans = m[:2]
			}
			for j := 0; j+1 < len(spans); j += 2 {
				start, end := spans[j], spans[j+1]
				if start < last || start < 0 {
					continue // a group that did not take part, or inside the previous one
				}
				out = append(out, b[last:start]...)
				out = append(out, Redacted...)
				last = end
			}
		}
		b = append(out, b[last:]...)
	}
	return b
}
