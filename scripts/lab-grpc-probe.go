// A gRPC health server, and a client that probes it as kubelet's gRPC prober
// does, both grpc-go (Debian's golang-google-grpc-dev), for the lab's
// grpc-probe-traffic scenario. lab.sh builds it in GOPATH mode.
//
//	lab-grpc-probe serve ADDRESS:PORT   the standard health service, SERVING
//	lab-grpc-probe probe ADDRESS:PORT   as kubelet probes: its own connection,
//	                                    User-Agent kube-probe/1.32, plaintext,
//	                                    one Check call, then close
//	lab-grpc-probe twice ADDRESS:PORT   the same, but two calls on the one
//	                                    connection (kubelet never does this)
//	lab-grpc-probe call ADDRESS:PORT    one Check call with grpc-go's own
//	                                    User-Agent, as an application's client
//
// The clients print the status each call got.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

func serve(address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	server := grpc.NewServer()
	healthpb.RegisterHealthServer(server, health.NewServer())
	return server.Serve(listener)
}

func check(address string, calls int, userAgent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	options := []grpc.DialOption{grpc.WithInsecure(), grpc.WithBlock()}
	if userAgent != "" {
		options = append(options, grpc.WithUserAgent(userAgent))
	}
	conn, err := grpc.DialContext(ctx, address, options...)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for i := 0; i < calls; i++ {
		// kubelet sends empty outgoing metadata and the probe's service name (empty by default).
		response, err := client.Check(metadata.NewOutgoingContext(ctx, metadata.MD{}), &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		fmt.Println(response.GetStatus())
	}
	return nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: lab-grpc-probe serve|probe|twice|call ADDRESS:PORT")
		os.Exit(2)
	}
	var err error
	switch address := os.Args[2]; os.Args[1] {
	case "serve":
		err = serve(address)
	case "probe":
		err = check(address, 1, "kube-probe/1.32")
	case "twice":
		err = check(address, 2, "kube-probe/1.32")
	case "call":
		err = check(address, 1, "")
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab-grpc-probe:", err)
		os.Exit(1)
	}
}
