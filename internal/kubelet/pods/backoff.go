package pods

import (
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Restart back-off, as upstream's kubelet: 10 s doubling to 5 min, forgotten after 10 min of running.
const (
	initialBackoff = 10 * time.Second
	maxBackoff     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

type backoff struct {
	delay map[string]time.Duration
}

func newBackoff() *backoff { return &backoff{delay: map[string]time.Duration{}} }

func (b *backoff) current(name string) time.Duration {
	if d, ok := b.delay[name]; ok {
		return d
	}
	return initialBackoff
}

// wait returns how long the container must still wait before its next restart, and moves the back-off on
// when the wait is over.
func (b *backoff) wait(name string, st *runtimeapi.ContainerStatus, now time.Time) time.Duration {
	finished := time.Unix(0, st.FinishedAt)
	ran := time.Duration(st.FinishedAt - st.StartedAt)
	if ran >= backoffReset {
		delete(b.delay, name)
	}
	d, ok := b.delay[name]
	if !ok {
		// The first restart after a failure happens at once; the delay starts with the second.
		b.delay[name] = initialBackoff
		return 0
	}
	if left := finished.Add(d).Sub(now); left > 0 {
		return left
	}
	b.delay[name] = min(2*d, maxBackoff)
	return 0
}

// pullBackoff spaces out retries of failed image pulls, as upstream: 10 s doubling to 5 min.
type pullBackoff struct {
	until   map[string]time.Time
	delay   map[string]time.Duration
	lastErr map[string]string
}

// waitFrom returns how long pulls for the container must still wait.
func (p *pullBackoff) waitFrom(name string, now time.Time) time.Duration {
	if u, ok := p.until[name]; ok && now.Before(u) {
		return u.Sub(now)
	}
	return 0
}

func (p *pullBackoff) failed(name string, now time.Time, msg string) {
	p.lastErr[name] = msg
	d := initialBackoff
	if prev, ok := p.delay[name]; ok {
		d = min(2*prev, maxBackoff)
	}
	p.delay[name], p.until[name] = d, now.Add(d)
}

func (p *pullBackoff) reset(name string) {
	delete(p.delay, name)
	delete(p.until, name)
	delete(p.lastErr, name)
}
