// Command grpcclient is the gRPC client the gRPC end-to-end tests capture.
// On one plaintext HTTP/2 connection to ADDR (host:port) it makes, in order:
//
//	Check("")           unary, expects SERVING (status OK)
//	Check("missing")    unary, expects status NOT_FOUND
//	Watch("flapping")   server-streaming: reads 2 updates, then cancels
//
// It exits non-zero if any call does not go as expected.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: grpcclient host:port")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dialing %s: %w", addr, err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("Check(\"\"): %w", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("Check(\"\"): status %v, want SERVING", resp.GetStatus())
	}

	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "missing"})
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("Check(\"missing\"): %v, want NotFound", err)
	}

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	stream, err := client.Watch(wctx, &healthpb.HealthCheckRequest{Service: "flapping"})
	if err != nil {
		return fmt.Errorf("Watch: %w", err)
	}
	for i := range 2 {
		if _, err := stream.Recv(); err != nil {
			return fmt.Errorf("Watch: update %d: %w", i+1, err)
		}
	}
	wcancel()
	// Wait for the cancellation to reach the stream, so the RST_STREAM is
	// written before the connection closes.
	for {
		if _, err := stream.Recv(); err != nil {
			if status.Code(err) != codes.Canceled {
				return fmt.Errorf("Watch after cancel: %w", err)
			}
			return nil
		}
	}
}
