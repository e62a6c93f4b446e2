package manager

// The controllers the manager runs, in start order. Each entry's package holds the controller itself; its
// Start sets up informers on cc.Informers and starts workers until ctx ends.
func init() {
	registered = []Controller{}
}
