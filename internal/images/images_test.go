package images

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is what the test reads back from an image's flattened filesystem.
type entry struct {
	typ     byte
	mode    int64
	content string
	link    string
}

func readFS(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = entry{hdr.Typeflag, hdr.Mode, string(b), hdr.Linkname}
	}
}

func TestBuildWriteAndReadBack(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "tool")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho tool\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	layers := []Layer{
		{Files: []File{
			Data("/etc/motd", 0, []byte("hello\n")),
			HostFile("/usr/bin/tool", host, 0),
			Dir("/tmp", 0o777|fs.ModeSticky),
		}},
		{Files: []File{
			Symlink("/bin/tool", "../usr/bin/tool"),
			Data("/etc/motd", 0o600, []byte("replaced\n")),
		}},
	}
	cfg := ImageConfig{
		Entrypoint: []string{"/bin/tool"},
		Cmd:        []string{"--flag", "x"},
		Env:        []string{"PATH=/bin:/usr/bin", "A=b"},
		WorkingDir: "/work",
		User:       "65535:65535",
		Labels:     map[string]string{"k": "v"},
	}
	img, err := Build("skiff.local/test:1", layers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "img.tar")
	tags := []string{"skiff.local/test:1", "docker.io/library/test:2"}
	if err := WriteTarball(tarPath, map[string]v1.Image{tags[0]: img, tags[1]: img}); err != nil {
		t.Fatal(err)
	}

	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(tarPath) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 {
		t.Fatalf("manifest has %d images, want 1", len(m))
	}
	got := append([]string(nil), m[0].RepoTags...)
	sort.Strings(got)
	sort.Strings(tags)
	if !reflect.DeepEqual(got, tags) {
		t.Errorf("RepoTags = %v, want %v", got, tags)
	}

	tag, err := name.NewTag("skiff.local/test:1")
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Entrypoint, cfg.Entrypoint) || !reflect.DeepEqual(c.Cmd, cfg.Cmd) ||
		!reflect.DeepEqual(c.Env, cfg.Env) || c.WorkingDir != cfg.WorkingDir || c.User != cfg.User ||
		!reflect.DeepEqual(c.Labels, cfg.Labels) {
		t.Errorf("config = %+v, want %+v", c, cfg)
	}
	if n := len(cf.RootFS.DiffIDs); n != 2 {
		t.Errorf("%d diff IDs, want 2", n)
	}

	files := readFS(t, back)
	want := map[string]entry{
		"etc/motd":     {tar.TypeReg, 0o600, "replaced\n", ""},
		"usr/bin/tool": {tar.TypeReg, 0o750, "#!/bin/sh\necho tool\n", ""},
		"bin/tool":     {tar.TypeSymlink, 0o777, "", "../usr/bin/tool"},
		"tmp":          {tar.TypeDir, 0o1777, "", ""},
		"usr":          {tar.TypeDir, 0o755, "", ""},
		"usr/bin":      {tar.TypeDir, 0o755, "", ""},
	}
	for p, w := range want {
		if g, ok := files[p]; !ok {
			t.Errorf("%s missing from image (have %v)", p, files)
		} else if g != w {
			t.Errorf("%s = %+v, want %+v", p, g, w)
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	l := []Layer{{Files: []File{Data("/a", 0o755, []byte("a")), Symlink("/b", "a")}}}
	var digests []v1.Hash
	for range 2 {
		img, err := Build("example.com/x:1", l, ImageConfig{Cmd: []string{"/a"}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("digests differ: %v", digests)
	}
}

func TestBuildErrors(t *testing.T) {
	ok := []Layer{{Files: []File{Data("/a", 0, nil)}}}
	cases := map[string]struct {
		ref    string
		layers []Layer
	}{
		"bad ref":        {"UPPER/Case::x", ok},
		"relative path":  {"x:1", []Layer{{Files: []File{Data("a", 0, nil)}}}},
		"duplicate":      {"x:1", []Layer{{Files: []File{Data("/a", 0, nil), Symlink("/a", "b")}}}},
		"file as parent": {"x:1", []Layer{{Files: []File{Data("/a", 0, nil), Data("/a/b", 0, nil)}}}},
		"missing host":   {"x:1", []Layer{{Files: []File{HostFile("/a", "/nonexistent/file", 0)}}}},
	}
	for name, c := range cases {
		if _, err := Build(c.ref, c.layers, ImageConfig{}); err == nil {
			t.Errorf("%s: Build succeeded, want error", name)
		}
	}
}

func TestWriteTarballErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteTarball(filepath.Join(dir, "x.tar"), nil); err == nil {
		t.Error("empty map: want error")
	}
	img, err := Build("x:1", nil, ImageConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTarball(filepath.Join(dir, "x.tar"), map[string]v1.Image{"bad tag!": img}); err == nil {
		t.Error("bad tag: want error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}
