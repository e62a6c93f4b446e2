// Package conversion converts between API versions of a resource that is served in more than one version but
// stored in one: autoscaling/v1 HPAs are stored as autoscaling/v2, events.k8s.io/v1 events as core v1 events.
//
// A Pair converts one served kind to its storage kind and back. Conversions are pure functions of the object;
// what a version cannot express is dropped (see each file), never invented.
package conversion
