// Probes as kubelet's prober sends them, and a gRPC health server to probe,
// all Go (kubelet's prober is Go's HTTP client and grpc-go; here Debian's
// golang and golang-google-grpc-dev), for the lab's probe scenarios. lab.sh
// builds it in GOPATH mode.
//
//	lab-kubelet-probes http-probe URL         as kubelet's HTTP prober: its own
//	                                          connection (keep-alives off), GET
//	                                          with User-Agent kube-probe/1.32 and
//	                                          Accept */*
//	lab-kubelet-probes http-twice URL         the same request twice on one
//	                                          connection (kubelet never does this)
//	lab-kubelet-probes grpc-serve ADDR:PORT   the standard gRPC health service, SERVING
//	lab-kubelet-probes grpc-probe ADDR:PORT   as kubelet's gRPC prober: its own
//	                                          connection, user agent
//	                                          kube-probe/1.32, plaintext, one Check
//	                                          call, then close
//	lab-kubelet-probes grpc-twice ADDR:PORT   the same, but two calls on the one
//	                                          connection (kubelet never does this)
//	lab-kubelet-probes grpc-call ADDR:PORT    one Check call with grpc-go's own
//	                                          user agent, as an application's client
//
// The clients print the status each request or call got.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

const userAgent = "kube-probe/1.32"

func httpProbe(url string, requests int) error {
	// kubelet's transport has keep-alives off: a connection per probe.
	transport := &http.Transport{DisableKeepAlives: requests == 1}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	for i := 0; i < requests; i++ {
		request, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return err
		}
		request.Header.Set("User-Agent", userAgent)
		request.Header.Set("Accept", "*/*")
		response, err := client.Do(request)
		if err != nil {
			return err
		}
		// Read to the end, so that a kept-alive connection is used again.
		_, err = io.Copy(io.Discard, response.Body)
		response.Body.Close()
		if err != nil {
			return err
		}
		fmt.Println(response.Status)
	}
	transport.CloseIdleConnections()
	return nil
}

func grpcServe(address string) error {
	listener, err := net.Listen("tcp", address)
	if err != nil {
		return err
	}
	server := grpc.NewServer()
	healthpb.RegisterHealthServer(server, health.NewServer())
	return server.Serve(listener)
}

func grpcCheck(address string, calls int, agent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	options := []grpc.DialOption{grpc.WithInsecure(), grpc.WithBlock()}
	if agent != "" {
		options = append(options, grpc.WithUserAgent(agent))
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
		fmt.Fprintln(os.Stderr, "usage: lab-kubelet-probes http-probe|http-twice URL, or grpc-serve|grpc-probe|grpc-twice|grpc-call ADDRESS:PORT")
		os.Exit(2)
	}
	var err error
	switch target := os.Args[2]; os.Args[1] {
	case "http-probe":
		err = httpProbe(target, 1)
	case "http-twice":
		err = httpProbe(target, 2)
	case "grpc-serve":
		err = grpcServe(target)
	case "grpc-probe":
		err = grpcCheck(target, 1, userAgent)
	case "grpc-twice":
		err = grpcCheck(target, 2, userAgent)
	case "grpc-call":
		err = grpcCheck(target, 1, "")
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab-kubelet-probes:", err)
		os.Exit(1)
	}
}
