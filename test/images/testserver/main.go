// Command testserver is skiff's offline test workload, modelled on upstream's
// agnhost "netexec" and "serve-hostname".
//
//	testserver [--http-port 8080] [--grpc-port 9090] [--udp-port 0] [--shutdown-delay 0s]
//	                                                       serve HTTP (see server.go), the gRPC health
//	                                                       service (grpc.health.v1; --grpc-port 0: off)
//	                                                       and the hostname over UDP (--udp-port 0: off)
//	testserver exit CODE                                   exit at once with CODE
//	testserver sleep SECONDS                               sleep, then exit 0
//
// In every mode SIGTERM prints "got SIGTERM", waits --shutdown-delay and exits
// 0 (SIGINT likewise, printing "got SIGINT").
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	port := flag.Int("http-port", 8080, "port to serve HTTP on")
	grpcPort := flag.Int("grpc-port", 9090, "port to serve the gRPC health service on (0: off)")
	udpPort := flag.Int("udp-port", 0, "port to answer UDP datagrams with the hostname on (0: off; off by default so several test servers can share a pod)")
	delay := flag.Duration("shutdown-delay", 0, "how long to keep running after SIGTERM before exiting 0")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: testserver [flags] | testserver exit CODE | testserver sleep SECONDS\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	switch args := flag.Args(); {
	case len(args) == 0:
		if *udpPort != 0 {
			if err := serveUDP(*udpPort); err != nil {
				fatalf("%v", err)
			}
		}
		os.Exit(serve(*port, *grpcPort, *delay, sigs))
	case args[0] == "exit" && len(args) == 2:
		code, err := strconv.Atoi(args[1])
		if err != nil {
			fatalf("exit: bad code %q", args[1])
		}
		fmt.Printf("exiting with code %d\n", code)
		os.Exit(code)
	case args[0] == "sleep" && len(args) == 2:
		secs, err := strconv.ParseFloat(args[1], 64)
		if err != nil || secs < 0 {
			fatalf("sleep: bad duration %q", args[1])
		}
		fmt.Printf("sleeping %v\n", args[1])
		select {
		case <-time.After(time.Duration(secs * float64(time.Second))):
			fmt.Println("done sleeping")
		case sig := <-sigs:
			gotSignal(sig, *delay)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// serve runs the HTTP server until a signal or /exit, and returns the exit code.
func serve(port, grpcPort int, delay time.Duration, sigs <-chan os.Signal) int {
	exits := make(chan int, 1)
	errs := make(chan error, 2)
	var hs *health.Server
	if grpcPort != 0 {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", grpcPort))
		if err != nil {
			fmt.Fprintf(os.Stderr, "testserver: %v\n", err)
			return 1
		}
		hs = health.NewServer()
		gs := grpc.NewServer()
		healthpb.RegisterHealthServer(gs, hs)
		go func() { errs <- gs.Serve(ln) }()
		defer gs.Stop()
		fmt.Printf("serving gRPC health on :%d\n", grpcPort)
	}
	srv := &http.Server{Addr: fmt.Sprintf(":%d", port), Handler: newServer(exits, hs)}
	go func() { errs <- srv.ListenAndServe() }()
	fmt.Printf("serving HTTP on :%d\n", port)

	code := 0
	select {
	case err := <-errs:
		fmt.Fprintf(os.Stderr, "testserver: %v\n", err)
		return 1
	case sig := <-sigs:
		gotSignal(sig, delay)
	case code = <-exits:
		fmt.Printf("exiting with code %d\n", code)
	}
	// Let in-flight requests (including the /exit reply) finish.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return code
}

// gotSignal reports sig and waits out the shutdown delay.
func gotSignal(sig os.Signal, delay time.Duration) {
	name := "SIGTERM"
	if sig == syscall.SIGINT {
		name = "SIGINT"
	}
	fmt.Printf("got %s\n", name)
	if delay > 0 {
		fmt.Printf("shutting down in %v\n", delay)
		time.Sleep(delay)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testserver: "+format+"\n", args...)
	os.Exit(2)
}
