package e2e

import "fmt"

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

// NginxTLSConfig is an nginx configuration that answers 200 "hello" to
// everything on 127.0.0.1:port over TLS, and HTTP/2 by ALPN if http2; dir
// holds its pid, log and temporary files. One worker: the machine has 2
// cores for the server, the load tool and the collector. keepalive_requests
// is lifted so that no connection is closed during a load: nginx closes one
// after 1000 requests by default, and h2load does not reconnect.
func NginxTLSConfig(dir string, port int, cert, key string, http2 bool) string {
	listen := fmt.Sprintf("127.0.0.1:%d ssl", port)
	if http2 {
		listen += " http2"
	}
	return fmt.Sprintf(`user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
	access_log off;
	client_body_temp_path %[1]s;
	keepalive_requests 100000000;
	server {
		listen %[2]s;
		ssl_certificate %[3]s;
		ssl_certificate_key %[4]s;
		location / { return 200 "hello"; }
	}
}
`, dir, listen, cert, key)
}
