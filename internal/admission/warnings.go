package admission

import "context"

type warnKey struct{}

// WithWarnings returns a context whose admission warnings go to add (the API server turns them into HTTP
// Warning headers, as upstream's warning recorder). add must be safe for concurrent use.
func WithWarnings(ctx context.Context, add func(msg string)) context.Context {
	return context.WithValue(ctx, warnKey{}, add)
}

// AddWarning records a warning for the client; without a recorder in ctx it is dropped.
func AddWarning(ctx context.Context, msg string) {
	if add, ok := ctx.Value(warnKey{}).(func(string)); ok && msg != "" {
		add(msg)
	}
}
