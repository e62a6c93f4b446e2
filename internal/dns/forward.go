package dns

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// maxCacheTTL bounds how long a forwarded answer is kept, whatever its TTL.
const maxCacheTTL = time.Hour

// readResolvConf returns the nameservers of a resolv.conf as host:port. A nameserver is an IP (port 53) or,
// as a skiff extension for tests, ip:port or [ipv6]:port.
func readResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		v := fields[1]
		if ip := net.ParseIP(strings.SplitN(v, "%", 2)[0]); ip != nil {
			out = append(out, net.JoinHostPort(v, "53"))
		} else if host, port, err := net.SplitHostPort(v); err == nil && net.ParseIP(host) != nil && port != "" {
			out = append(out, v)
		}
	}
	return out, sc.Err()
}

type forwarder struct {
	mu      sync.RWMutex
	servers []string
	udp     *mdns.Client
	tcp     *mdns.Client
	cache   *answerCache
}

func newForwarder(servers []string, cacheSize int, timeout time.Duration) *forwarder {
	f := &forwarder{servers: servers,
		udp: &mdns.Client{Net: "udp", Timeout: timeout, UDPSize: mdns.DefaultMsgSize},
		tcp: &mdns.Client{Net: "tcp", Timeout: timeout}}
	if cacheSize > 0 {
		f.cache = &answerCache{max: cacheSize, entries: map[cacheKey]*cacheEntry{}}
	}
	return f
}

// avoid drops upstreams that are this server itself (a host resolv.conf pointing at the address we listen on
// would make every forwarded query loop back to us).
func (f *forwarder) avoid(self *net.UDPAddr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var kept []string
	for _, s := range f.servers {
		host, port, _ := net.SplitHostPort(s)
		ip := net.ParseIP(host)
		loops := port == strconv.Itoa(self.Port) && ip != nil &&
			(ip.Equal(self.IP) || (self.IP.IsUnspecified() && (ip.IsLoopback() || isLocal(ip))))
		if !loops {
			kept = append(kept, s)
		}
	}
	f.servers = kept
}

func isLocal(ip net.IP) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// forward answers r from the cache or the first upstream that answers; SERVFAIL when none does.
func (f *forwarder) forward(r *mdns.Msg) *mdns.Msg {
	q := r.Question[0]
	key := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: r.CheckingDisabled}
	if o := r.IsEdns0(); o != nil {
		key.do = o.Do()
	}
	if f.cache != nil {
		if m := f.cache.get(key, r); m != nil {
			return m
		}
	}
	f.mu.RLock()
	servers := f.servers
	f.mu.RUnlock()
	for _, srv := range servers {
		resp, _, err := f.udp.Exchange(r, srv)
		if err == nil && resp.Truncated {
			resp, _, err = f.tcp.Exchange(r, srv)
		}
		if err != nil || resp.Rcode == mdns.RcodeServerFailure || resp.Rcode == mdns.RcodeRefused {
			continue
		}
		resp.Id = r.Id
		if f.cache != nil {
			f.cache.put(key, resp)
		}
		return resp
	}
	m := new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

type cacheKey struct {
	name          string
	qtype, qclass uint16
	do, cd        bool
}

type cacheEntry struct {
	msg     *mdns.Msg
	stored  time.Time
	expires time.Time
}

// answerCache keeps forwarded answers for their TTL (negative answers for the SOA's minimum, RFC 2308), at
// most max entries; when full, an arbitrary entry makes room.
type answerCache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*cacheEntry
	hits    uint64
}

func (c *answerCache) get(key cacheKey, r *mdns.Msg) *mdns.Msg {
	now := time.Now()
	c.mu.Lock()
	e := c.entries[key]
	if e != nil && !now.Before(e.expires) {
		delete(c.entries, key)
		e = nil
	}
	if e != nil {
		c.hits++
	}
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	m := e.msg.Copy()
	m.Id = r.Id
	m.Question = r.Question
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != mdns.TypeOPT {
				h.Ttl = max(h.Ttl, age) - age
			}
		}
	}
	return m
}

// Hits counts answers served from the cache.
func (c *answerCache) Hits() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

func (c *answerCache) put(key cacheKey, m *mdns.Msg) {
	if m.Truncated || (m.Rcode != mdns.RcodeSuccess && m.Rcode != mdns.RcodeNameError) {
		return
	}
	ttl, ok := cacheTTL(m)
	if !ok || ttl <= 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = &cacheEntry{msg: m.Copy(), stored: now, expires: now.Add(ttl)}
}

// cacheTTL is the smallest TTL of the answer (for negative answers the SOA's, bounded by its minimum).
func cacheTTL(m *mdns.Msg) (time.Duration, bool) {
	min := uint32(maxCacheTTL / time.Second)
	found := false
	if len(m.Answer) == 0 {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*mdns.SOA); ok {
				min, found = minU32(min, minU32(soa.Hdr.Ttl, soa.Minttl)), true
			}
		}
		return time.Duration(min) * time.Second, found
	}
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype != mdns.TypeOPT {
				min, found = minU32(min, rr.Header().Ttl), true
			}
		}
	}
	return time.Duration(min) * time.Second, found
}

func minU32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}
