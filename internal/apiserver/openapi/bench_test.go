package openapi

import (
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
)

func BenchmarkNew(b *testing.B) {
	resources := testResources()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(scheme.Scheme, resources, "v1.37.2"); err != nil {
			b.Fatal(err)
		}
	}
}
