// Command grpcserver is the gRPC server the gRPC end-to-end tests capture:
// grpc-go's bundled health service over plaintext HTTP/2 (h2c), so no
// generated code is needed. It listens on -addr (default 127.0.0.1, a free
// port) and prints the port. Service "" is SERVING; service "flapping"
// toggles between SERVING and NOT_SERVING every -flap, so a Watch on it sees
// a stream of updates.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flap := flag.Duration("flap", 50*time.Millisecond, "how often service \"flapping\" changes status")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	go func() {
		serving := true
		for range time.Tick(*flap) {
			serving = !serving
			st := healthpb.HealthCheckResponse_NOT_SERVING
			if serving {
				st = healthpb.HealthCheckResponse_SERVING
			}
			hs.SetServingStatus("flapping", st)
		}
	}()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
