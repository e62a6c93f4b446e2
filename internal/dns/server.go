package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Config configures a Server.
type Config struct {
	// Zone is the cluster domain (default cluster.local).
	Zone string
	// TTL of the answers for cluster names, in seconds (default 5).
	TTL uint32
	// Upstreams are the resolvers (host:port) for names outside the zone; nil reads them from ResolvConf.
	Upstreams []string
	// ResolvConf is the file whose nameservers are the upstreams (default /etc/resolv.conf). Besides plain
	// IPs, a nameserver may be written ip:port or [ipv6]:port.
	ResolvConf string
	// CacheSize caps the cache of forwarded answers, in entries (default 10,000; negative: no cache).
	CacheSize int
	// ForwardTimeout bounds one exchange with one upstream (default 2 s).
	ForwardTimeout time.Duration
}

const (
	indexService = "service" // EndpointSlices by "<ns>/<service name>"
	indexIP      = "ip"      // Services by ClusterIP, EndpointSlices by endpoint address
)

// Server answers DNS queries for the cluster.
type Server struct {
	cfg       Config
	zone      string // "cluster.local." (lower case, fully qualified)
	services  cache.Indexer
	slices    cache.Indexer
	hasSynced []cache.InformerSynced
	fwd       *forwarder
	serial    uint32

	mu      sync.Mutex
	servers []*mdns.Server
	// errc is non-nil while Serve runs: listeners added then start at once and report here.
	errc chan error
	// stopped is set when Serve has ended: no more listeners.
	stopped bool
	udpAddr net.Addr
	tcpAddr net.Addr
}

// New builds a server over the factory's Service and EndpointSlice informers (registered here; the caller
// starts the factory).
func New(factory informers.SharedInformerFactory, cfg Config) (*Server, error) {
	if cfg.Zone == "" {
		cfg.Zone = "cluster.local"
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10000
	}
	if cfg.ForwardTimeout == 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if _, ok := mdns.IsDomainName(cfg.Zone); !ok {
		return nil, fmt.Errorf("cluster domain %q is not a domain name", cfg.Zone)
	}
	svcInf := factory.Core().V1().Services().Informer()
	if err := svcInf.AddIndexers(cache.Indexers{indexIP: serviceIPs}); err != nil {
		return nil, err
	}
	epsInf := factory.Discovery().V1().EndpointSlices().Informer()
	if err := epsInf.AddIndexers(cache.Indexers{indexService: sliceService, indexIP: sliceIPs}); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, zone: strings.ToLower(mdns.Fqdn(cfg.Zone)), services: svcInf.GetIndexer(),
		slices: epsInf.GetIndexer(), hasSynced: []cache.InformerSynced{svcInf.HasSynced, epsInf.HasSynced},
		serial: uint32(time.Now().Unix())}
	upstreams := cfg.Upstreams
	if upstreams == nil {
		var err error
		if upstreams, err = readResolvConf(cfg.ResolvConf); err != nil {
			slog.Warn("cluster DNS: no upstream resolvers; names outside the cluster will not resolve", "resolvConf", cfg.ResolvConf, "err", err)
		}
	}
	s.fwd = newForwarder(upstreams, cfg.CacheSize, cfg.ForwardTimeout)
	return s, nil
}

func serviceIPs(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, ip := range clusterIPs(svc) {
		out = append(out, ip.String())
	}
	return out, nil
}

func sliceService(obj any) ([]string, error) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := es.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{es.Namespace + "/" + name}, nil
}

func sliceIPs(obj any) ([]string, error) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, ep := range es.Endpoints {
		for _, a := range ep.Addresses {
			if ip := net.ParseIP(a); ip != nil {
				out = append(out, ip.String())
			}
		}
	}
	return out, nil
}

// Listen binds the UDP and TCP listeners on addr (host:port; port 0 picks one, the same for both when free).
func (s *Server) Listen(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("cluster DNS: listen udp %s: %w", addr, err)
	}
	tcpAddr := addr
	if host, port, _ := net.SplitHostPort(addr); port == "0" {
		tcpAddr = net.JoinHostPort(host, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
	}
	ln, err := net.Listen("tcp", tcpAddr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("cluster DNS: listen tcp %s: %w", tcpAddr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.udpAddr, s.tcpAddr = pc.LocalAddr(), ln.Addr()
	s.fwd.avoid(s.udpAddr.(*net.UDPAddr))
	s.servers = []*mdns.Server{{PacketConn: pc, Handler: s, UDPSize: 65535}, {Listener: ln, Handler: s}}
	return nil
}

// ListenPods also answers on addr (UDP and TCP), an address that may not exist yet: the pods' gateway on
// the node bridge, which appears with the first pod (IP_FREEBIND binds before it does). Pods reach the
// cluster DNS Service IP there, through the service proxy. Call after Listen; while Serve runs, the new
// listener is served at once; after Serve has ended it is refused.
func (s *Server) ListenPods(addr string) error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr)
	if err != nil {
		return fmt.Errorf("cluster DNS: listen udp %s: %w", addr, err)
	}
	ln, err := lc.Listen(context.Background(), "tcp4", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("cluster DNS: listen tcp %s: %w", addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		pc.Close()
		ln.Close()
		return errors.New("cluster DNS: server stopped")
	}
	s.fwd.avoid(pc.LocalAddr().(*net.UDPAddr))
	added := []*mdns.Server{{PacketConn: pc, Handler: s, UDPSize: 65535}, {Listener: ln, Handler: s}}
	s.servers = append(s.servers, added...)
	if s.errc != nil {
		for _, srv := range added {
			s.start(srv)
		}
	}
	return nil
}

// Addr is the bound UDP address (TCP listens on the same port).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpAddr
}

// Serve answers on the listeners bound by Listen until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if len(s.servers) == 0 {
		s.mu.Unlock()
		return errors.New("cluster DNS: Serve before Listen")
	}
	s.errc = make(chan error, 1)
	for _, srv := range s.servers {
		s.start(srv)
	}
	errc := s.errc
	s.mu.Unlock()
	slog.Info("cluster DNS serving", "address", s.Addr().String(), "zone", s.zone, "upstreams", s.fwd.servers)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.mu.Lock()
	servers := s.servers
	s.errc, s.stopped = nil, true
	s.mu.Unlock()
	for _, srv := range servers {
		if srv.Shutdown() != nil {
			// Not started yet (its goroutine has not reached ActivateAndServe): close its sockets, which
			// also ends a serve that starts after all.
			if srv.PacketConn != nil {
				srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				srv.Listener.Close()
			}
		}
	}
	return err
}

// start serves srv; it reports its end (the first one ends Serve). Called with s.mu held.
func (s *Server) start(srv *mdns.Server) {
	errc := s.errc
	go func() {
		err := srv.ActivateAndServe()
		select {
		case errc <- err:
		default:
		}
	}()
}

func (s *Server) synced() bool {
	for _, f := range s.hasSynced {
		if !f() {
			return false
		}
	}
	return true
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	m := s.answer(r)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := mdns.MinMsgSize
		if o := r.IsEdns0(); o != nil && int(o.UDPSize()) > size {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

func (s *Server) answer(r *mdns.Msg) *mdns.Msg {
	if r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 {
		m := new(mdns.Msg)
		return m.SetRcode(r, mdns.RcodeNotImplemented)
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if mdns.IsSubDomain(s.zone, name) {
		return s.authoritative(r, name, q.Qtype)
	}
	if q.Qtype == mdns.TypePTR && s.synced() {
		if ptr := s.reverse(name); ptr != "" {
			m := new(mdns.Msg).SetReply(r)
			m.Authoritative, m.RecursionAvailable = true, true
			m.Answer = []mdns.RR{&mdns.PTR{Hdr: s.hdr(q.Name, mdns.TypePTR), Ptr: ptr}}
			return m
		}
	}
	return s.fwd.forward(r)
}

// authoritative answers a name in the cluster zone.
func (s *Server) authoritative(r *mdns.Msg, name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg).SetReply(r)
	m.RecursionAvailable = true
	if !s.synced() {
		m.Rcode = mdns.RcodeServerFailure
		return m
	}
	m.Authoritative = true
	rrs, extra, exists := s.records(name, qtype)
	if !exists {
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{s.soa()}
		return m
	}
	for _, rr := range rrs {
		rr.Header().Name = r.Question[0].Name // keep the asker's spelling (0x20)
		t := rr.Header().Rrtype
		if t == qtype || t == mdns.TypeCNAME || qtype == mdns.TypeANY {
			m.Answer = append(m.Answer, rr)
		}
	}
	if len(m.Answer) == 1 && m.Answer[0].Header().Rrtype == mdns.TypeCNAME && qtype != mdns.TypeCNAME {
		// Follow an ExternalName's target, as a recursive resolver would, so simple clients get addresses.
		m.Answer = append(m.Answer, s.chase(m.Answer[0].(*mdns.CNAME).Target, qtype, r)...)
	}
	if len(m.Answer) == 0 {
		m.Ns = []mdns.RR{s.soa()}
	} else if qtype == mdns.TypeSRV {
		m.Extra = extra
	}
	return m
}

func (s *Server) chase(target string, qtype uint16, r *mdns.Msg) []mdns.RR {
	target = strings.ToLower(target)
	if mdns.IsSubDomain(s.zone, target) {
		var out []mdns.RR
		rrs, _, _ := s.records(target, qtype)
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype {
				out = append(out, rr)
			}
		}
		return out
	}
	q := new(mdns.Msg)
	q.Id = r.Id
	q.RecursionDesired = true
	q.Question = []mdns.Question{{Name: target, Qtype: qtype, Qclass: mdns.ClassINET}}
	if resp := s.fwd.forward(q); resp.Rcode == mdns.RcodeSuccess {
		return resp.Answer
	}
	return nil
}

func (s *Server) hdr(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: s.cfg.TTL}
}

func (s *Server) soa() mdns.RR {
	return &mdns.SOA{Hdr: s.hdr(s.zone, mdns.TypeSOA), Ns: "ns.dns." + s.zone, Mbox: "hostmaster." + s.zone,
		Serial: s.serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: s.cfg.TTL}
}
