// Package admission owns the admission chain: plugins that may change (mutating) or refuse (validating) a
// write after authentication, authorization and defaulting, before it is stored.
//
// Plugins see typed objects and a small Attributes value; they never write to storage. The order is fixed by the
// Chain the server is given. Webhooks, policies and pod security slot in here as more plugins.
package admission
