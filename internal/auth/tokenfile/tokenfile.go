// Package tokenfile authenticates bearer tokens listed in a static CSV file, as upstream's --token-auth-file:
// one line per token, "token,user,uid[,\"group1,group2\"]". The file is read once at start (as upstream);
// changing it takes a restart.
package tokenfile

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"skiff/internal/auth"
)

// Authenticator maps tokens to the users of the file.
type Authenticator struct {
	tokens map[string]*auth.User
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// Load reads the token file at path.
func Load(path string) (*Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--token-auth-file: %w", err)
	}
	defer f.Close()
	a, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("token file '%s': %w", path, err)
	}
	return a, nil
}

// Parse reads token lines from r.
func Parse(r io.Reader) (*Authenticator, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	a := &Authenticator{tokens: map[string]*auth.User{}}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < 3 {
			return nil, fmt.Errorf("must have at least 3 columns (token, user name, user uid), found %d", len(rec))
		}
		if rec[0] == "" {
			slog.Warn("token file: empty token ignored", "record", n)
			continue
		}
		u := &auth.User{Name: rec[1], UID: rec[2]}
		if len(rec) >= 4 && rec[3] != "" {
			u.Groups = strings.Split(rec[3], ",")
		}
		if _, dup := a.tokens[rec[0]]; dup {
			slog.Warn("token file: duplicate token, the last one wins", "record", n)
		}
		a.tokens[rec[0]] = u
	}
}

// AuthenticateToken implements auth.TokenAuthenticator. Unknown tokens are not ours.
func (a *Authenticator) AuthenticateToken(_ context.Context, token string) (*auth.User, bool, error) {
	u, ok := a.tokens[token]
	if !ok {
		return nil, false, nil
	}
	// Each request gets its own copy: the chain appends system:authenticated to the groups.
	return &auth.User{Name: u.Name, UID: u.UID, Groups: append([]string(nil), u.Groups...)}, true, nil
}
