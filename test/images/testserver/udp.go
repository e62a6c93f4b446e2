package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serveUDP answers every datagram on port with the hostname (like agnhost's UDP serve-hostname).
func serveUDP(port int) error {
	conn, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	name, _ := os.Hostname()
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = conn.WriteTo([]byte(name), from)
		}
	}()
	fmt.Printf("serving UDP hostname on :%d\n", port)
	return nil
}

// udpClient (GET /udp?to=IP:PORT&from=LOCALPORT&n=N) sends N datagrams to IP:PORT from one socket bound
// to LOCALPORT (so they are one conntrack flow, as a long-lived UDP client's would be) and answers the
// replies' contents, one a line ("timeout" for a datagram unanswered within a second).
func (s *server) udpClient(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, err := net.ResolveUDPAddr("udp", q.Get("to"))
	from, err2 := strconv.Atoi(q.Get("from"))
	n, err3 := strconv.Atoi(q.Get("n"))
	if err != nil || err2 != nil || err3 != nil || n <= 0 || n > 100 {
		http.Error(w, "want to=IP:PORT, from=LOCALPORT, n=1..100", http.StatusBadRequest)
		return
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: from})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	var out []string
	buf := make([]byte, 1500)
	for range n {
		if _, err := conn.WriteToUDP([]byte("hello"), to); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		k, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			out = append(out, "timeout")
			continue
		}
		out = append(out, string(buf[:k]))
	}
	fmt.Fprint(w, strings.Join(out, "\n")+"\n")
}
