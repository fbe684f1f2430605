package e2e

// PythonTLSServer is a python3 program: http.server behind the ssl module
// (OpenSSL's SSL_read_ex and SSL_write_ex), HTTP/1.1, answering every GET
// with 200 and the body "hello". argv[1] and argv[2] are the certificate and
// key files; it prints its port, on 127.0.0.1, first.
const PythonTLSServer = `import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()`
