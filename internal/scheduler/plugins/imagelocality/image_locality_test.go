package imagelocality

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

// fakeHandle serves a snapshot; the other Handle methods are not used by this plugin.
type fakeHandle struct {
	framework.Handle
	snapshot *framework.Snapshot
}

func (h fakeHandle) SnapshotSharedLister() framework.SharedLister { return h.snapshot }

func podWithImages(images ...string) *corev1.Pod {
	p := st.MakePod().Name("p").Obj()
	p.Spec.Containers = nil
	for _, img := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: img, Image: img})
	}
	return p
}

func TestScore(t *testing.T) {
	node403002000 := st.MakeNode().Name("node1").Images(map[string]int64{
		"gcr.io/40:latest": 40 * mb, "gcr.io/300:latest": 300 * mb, "gcr.io/2000:latest": 2000 * mb}).Obj()
	node25010 := st.MakeNode().Name("node2").Images(map[string]int64{"gcr.io/250:latest": 250 * mb, "gcr.io/10:v1": 10 * mb}).Obj()
	nodeEmpty := st.MakeNode().Name("node3").Obj()
	// An image known by two names (tag and digest), as node status reports them.
	nodeDigest := st.MakeNode().Name("node4").Obj()
	nodeDigest.Status.Images = []corev1.ContainerImage{{Names: []string{"gcr.io/250@sha256:abc", "gcr.io/250:latest"}, SizeBytes: 250 * mb}}

	tests := []struct {
		name        string
		pod         *corev1.Pod
		nodes       []*corev1.Node
		imageStates map[string]map[string]*framework.ImageState // node -> image -> state, as a cache would fill
		want        []int64
	}{
		{
			name: "two images spread over two nodes",
			// node1: 40MB * 1/2 = 20MB < 23MB -> 0. node2: 250MB * 1/2 = 125MB -> 100*(125-23)/(2000-23) = 5.
			pod:   podWithImages("gcr.io/40", "gcr.io/250"),
			nodes: []*corev1.Node{node403002000, node25010},
			want:  []int64{0, 5},
		},
		{
			name: "tags must match",
			// node1: 300MB/2 = 150MB -> 100*(150-23)/(2000-23) = 6. node2: gcr.io/10 means :latest, node has :v1.
			pod:   podWithImages("gcr.io/300", "gcr.io/10"),
			nodes: []*corev1.Node{node403002000, node25010},
			want:  []int64{6, 0},
		},
		{
			name: "an image larger than the maximum",
			// 2000MB/2 = 1000MB, clamped to 1000MB for one container -> 100.
			pod:   podWithImages("gcr.io/2000"),
			nodes: []*corev1.Node{node403002000, node25010},
			want:  []int64{100, 0},
		},
		{
			name:  "spread counts all nodes of the snapshot",
			pod:   podWithImages("gcr.io/2000"),
			nodes: []*corev1.Node{node403002000, node25010, nodeEmpty},
			// 2000MB/3 = 666MB -> 100*(666-23)/(1000-23) = 65.
			want: []int64{65, 0, 0},
		},
		{
			name:  "every name of an image counts",
			pod:   podWithImages("gcr.io/250@sha256:abc"),
			nodes: []*corev1.Node{nodeDigest, nodeEmpty},
			// 250MB/2 = 125MB -> 100*(125-23)/(1000-23) = 10.
			want: []int64{10, 0},
		},
		{
			name:  "the cache's node counts are used when present",
			pod:   podWithImages("gcr.io/250"),
			nodes: []*corev1.Node{node25010, nodeDigest},
			imageStates: map[string]map[string]*framework.ImageState{
				"node2": {"gcr.io/250:latest": {Size: 250 * mb, NumNodes: 2}},
				"node4": {"gcr.io/250:latest": {Size: 250 * mb, NumNodes: 2}},
			},
			// 250MB * 2/2 -> 100*(250-23)/(1000-23) = 23.
			want: []int64{23, 23},
		},
		{
			name: "init containers and image volumes count",
			pod: func() *corev1.Pod {
				p := podWithImages("gcr.io/none")
				p.Spec.InitContainers = []corev1.Container{{Name: "i", Image: "gcr.io/2000"}}
				p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "gcr.io/300"}}}}
				return p
			}(),
			nodes: []*corev1.Node{node403002000},
			// 2000MB + 300MB on the only node; max threshold 3 × 1000MB -> 100*(2300-23)/(3000-23) = 76.
			want: []int64{76},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var infos []*framework.NodeInfo
			for _, n := range tc.nodes {
				ni := framework.NewNodeInfo()
				ni.SetNode(n)
				if is, ok := tc.imageStates[n.Name]; ok {
					ni.ImageStates = is
				}
				infos = append(infos, ni)
			}
			p, err := New(nil, fakeHandle{snapshot: framework.NewSnapshot(infos)})
			if err != nil {
				t.Fatal(err)
			}
			pl := p.(*ImageLocality)
			state := framework.NewCycleState()
			if s := pl.PreScore(context.Background(), state, tc.pod, infos); !s.IsSuccess() {
				t.Fatal(s.AsError())
			}
			var got []int64
			for _, ni := range infos {
				sc, s := pl.Score(context.Background(), state, tc.pod, ni)
				if !s.IsSuccess() {
					t.Fatal(s.AsError())
				}
				if sc2, _ := pl.Score(context.Background(), framework.NewCycleState(), tc.pod, ni); sc2 != sc {
					t.Errorf("without PreScore %d, with %d", sc2, sc)
				}
				got = append(got, sc)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizedImageName(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                         "nginx:latest",
		"nginx:1.25":                    "nginx:1.25",
		"localhost:5000/app":            "localhost:5000/app:latest",
		"localhost:5000/app:v2":         "localhost:5000/app:v2",
		"docker.io/library/nginx@sha:1": "docker.io/library/nginx@sha:1",
	} {
		if got := normalizedImageName(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestNoHandle(t *testing.T) {
	p, _ := New(nil, nil)
	ni := framework.NewNodeInfo()
	ni.SetNode(st.MakeNode().Name("n").Images(map[string]int64{"big:latest": 1000 * mb}).Obj())
	if sc, s := p.(*ImageLocality).Score(context.Background(), framework.NewCycleState(), podWithImages("big"), ni); !s.IsSuccess() || sc != 100 {
		t.Errorf("got %d %v", sc, s.Code())
	}
}
