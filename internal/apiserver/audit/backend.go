package audit

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"
)

// LogConfig is --audit-log-path and its rotation flags, as upstream's.
type LogConfig struct {
	// Path is the file; "-" is stdout.
	Path string
	// MaxSizeMB rotates the file when it would grow past this many megabytes; MaxBackups and MaxAgeDays bound the
	// rotated files kept (0: no limit). With all three 0 the file is never rotated.
	MaxSizeMB, MaxBackups, MaxAgeDays int
}

// logBackend writes one JSON event per line. Writes are synchronous: when the call returns, the event is in
// the file (upstream's "blocking" mode).
type logBackend struct {
	mu  sync.Mutex
	w   io.Writer
	c   io.Closer
	enc *json.Encoder
}

func newLogBackend(cfg LogConfig) (*logBackend, error) {
	b := &logBackend{}
	switch {
	case cfg.Path == "-":
		b.w = os.Stdout
	case cfg.MaxSizeMB > 0 || cfg.MaxBackups > 0 || cfg.MaxAgeDays > 0:
		// lumberjack rotates to <name>-<timestamp>.<ext> next to the file; its default size is 100 MB.
		l := &lumberjack.Logger{Filename: cfg.Path, MaxSize: cfg.MaxSizeMB, MaxBackups: cfg.MaxBackups, MaxAge: cfg.MaxAgeDays}
		b.w, b.c = l, l
	default:
		f, err := os.OpenFile(cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		b.w, b.c = f, f
	}
	b.enc = json.NewEncoder(b.w)
	b.enc.SetEscapeHTML(false)
	return b, nil
}

func (b *logBackend) write(ev *Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.enc.Encode(ev); err != nil {
		slog.Error("audit log write failed", "err", err, "auditID", ev.AuditID)
	}
}

func (b *logBackend) close() error {
	if b.c == nil {
		return nil
	}
	return b.c.Close()
}
