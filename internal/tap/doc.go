// Package tap follows TCP connections for the capture engine and turns their
// byte streams into HTTP exchanges: the glue between internal/capture (which
// knows connections and bytes, not HTTP) and internal/httpparse (which knows
// HTTP, not connections).
//
// A Tap is the engine's capture.Handler. For each connection it decides
// whether to follow it (direction, loopback, excluded processes), finds the
// role of a connection first seen mid-way from its traffic, keeps one parser,
// switches the parser to the TLS plaintext once a TLS library speaks, and asks
// the engine to stop copying what is not HTTP. What it finds goes to a Sink:
// connections opened and closed, and finished exchanges, each numbered on its
// connection and naming the connection's other end when this host's capture
// follows that end too, so that translation can stitch the two.
//
// Ownership: a capture.Conn belongs to the engine's goroutine, which keeps
// writing its TLS facts. Nothing a Tap hands to its Sink points into it: an
// Exchange carries a *Conn, an immutable copy of the facts as they were when
// the transaction finished, which any goroutine may read and keep. A Tap
// replaces its copy, never changes it, when the facts change. The copy shares
// one thing with the engine, the *capture.Process, which the engine never
// changes once made.
package tap
