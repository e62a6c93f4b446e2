package admission

import "context"

type warningKey struct{}

// WithWarnings returns a context whose AddWarning calls reach add (the API server sends them as HTTP Warning
// headers, which kubectl prints).
func WithWarnings(ctx context.Context, add func(text string)) context.Context {
	return context.WithValue(ctx, warningKey{}, add)
}

// AddWarning sends a warning to the client making the request, if the request can carry one.
func AddWarning(ctx context.Context, text string) {
	if add, ok := ctx.Value(warningKey{}).(func(string)); ok {
		add(text)
	}
}
