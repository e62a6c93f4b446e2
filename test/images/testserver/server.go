package main

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// server holds the state behind the HTTP endpoints:
//
//	GET /, /hostname      the hostname (no trailing newline, like agnhost)
//	GET /healthz          200 "ok", or 500 "failing" after /healthz/fail
//	POST /healthz/fail    make /healthz fail (GET also accepted, for wget), and the gRPC health
//	                      service (grpc.health.v1, on --grpc-port) answer NOT_SERVING
//	POST /healthz/ok      make both pass again (GET also accepted)
//	/echo?msg=M           M
//	/exit?code=N          reply, then exit the process with code N
//	/alloc?mb=N           allocate and touch N MiB, kept until exit
//	/env                  the environment, sorted, one KEY=value a line
//	/udp?to=IP:PORT&from=LOCALPORT&n=N  N datagrams from one UDP socket, the replies (udp.go)
//
// Every request is logged to stdout.
type server struct {
	failing atomic.Bool
	exits   chan<- int
	health  *health.Server // the gRPC health service, if serving gRPC

	mu    sync.Mutex
	alloc [][]byte // memory held for /alloc
}

func newServer(exits chan<- int, hs *health.Server) http.Handler {
	s := &server{exits: exits, health: hs}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.hostname)
	mux.HandleFunc("GET /hostname", s.hostname)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("/healthz/fail", s.setHealth(true))
	mux.HandleFunc("/healthz/ok", s.setHealth(false))
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/exit", s.exit)
	mux.HandleFunc("/alloc", s.allocate)
	mux.HandleFunc("/env", s.env)
	mux.HandleFunc("GET /udp", s.udpClient)
	return logRequests(mux)
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s %s from %s\n", r.Method, r.URL.RequestURI(), r.Proto, r.RemoteAddr)
		h.ServeHTTP(w, r)
	})
}

func (s *server) hostname(w http.ResponseWriter, _ *http.Request) {
	name, err := os.Hostname()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, name)
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.failing.Load() {
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, "ok")
}

func (s *server) setHealth(failing bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		s.failing.Store(failing)
		if s.health != nil {
			status := healthpb.HealthCheckResponse_SERVING
			if failing {
				status = healthpb.HealthCheckResponse_NOT_SERVING
			}
			s.health.SetServingStatus("", status)
		}
		if failing {
			fmt.Fprint(w, "healthz now failing")
		} else {
			fmt.Fprint(w, "healthz now ok")
		}
	}
}

func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, r.URL.Query().Get("msg"))
}

func (s *server) exit(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil || code < 0 || code > 255 {
		http.Error(w, "code must be 0..255", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with code %d", code)
	select {
	case s.exits <- code: // serve shuts down after this reply is sent
	default: // an exit is already under way
	}
}

func (s *server) allocate(w http.ResponseWriter, r *http.Request) {
	mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
	if err != nil || mb <= 0 {
		http.Error(w, "mb must be a positive integer", http.StatusBadRequest)
		return
	}
	buf := make([]byte, mb<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // touch every page so it counts against the memory limit
	}
	s.mu.Lock()
	s.alloc = append(s.alloc, buf)
	total := 0
	for _, b := range s.alloc {
		total += len(b) >> 20
	}
	s.mu.Unlock()
	fmt.Fprintf(w, "allocated %d MiB, holding %d MiB", mb, total)
}

func (s *server) env(w http.ResponseWriter, _ *http.Request) {
	env := os.Environ()
	sort.Strings(env)
	fmt.Fprint(w, strings.Join(env, "\n")+"\n")
}
