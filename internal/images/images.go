// Package images builds small container images from files and writes them
// as docker-save style tarballs, so that a node without registry access can
// load them with `ctr -n k8s.io images import FILE`.
//
// Images are single-platform: linux and the architecture this program was
// built for (runtime.GOARCH).
package images

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the timestamp written into configs and layer entries, so that
// the same inputs always give the same image digest.
var epoch = time.Unix(0, 0).UTC()

// ImageConfig is the part of an image config that Build lets callers set.
// OS, architecture, creation time and root filesystem are filled in by Build.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	// Env holds "KEY=value" entries.
	Env        []string
	WorkingDir string
	// User is "uid[:gid]" or a user name; empty means root.
	User       string
	Labels     map[string]string
	StopSignal string
}

// Build assembles an image for linux/runtime.GOARCH from layers (applied in
// order, first is lowest) and cfg. ref is the name the image is meant to be
// tagged with (e.g. "registry.k8s.io/pause:3.10"); it is validated and used in
// error messages, the tags themselves are given to WriteTarball.
func Build(ref string, layers []Layer, cfg ImageConfig) (v1.Image, error) {
	if _, err := name.ParseReference(ref); err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for i, l := range layers {
		gz, err := l.tarGz()
		if err != nil {
			return nil, fmt.Errorf("image %q: layer %d: %w", ref, i, err)
		}
		layer, err := tarball.LayerFromOpener(gz.opener())
		if err != nil {
			return nil, fmt.Errorf("image %q: layer %d: %w", ref, i, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:   layer,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "skiff images.Build"},
		})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: cfg.Entrypoint,
		Cmd:        cfg.Cmd,
		Env:        cfg.Env,
		WorkingDir: cfg.WorkingDir,
		User:       cfg.User,
		Labels:     cfg.Labels,
		StopSignal: cfg.StopSignal,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return img, nil
}

// WriteTarball writes images, keyed by tag (e.g.
// "docker.io/library/busybox:1.36"), to path as one docker-save style tarball
// (manifest.json with RepoTags, config blobs, gzipped layers). A key without a
// tag gets ":latest". The file is written to a temporary name first and
// renamed into place, so path never holds a partial tarball.
func WriteTarball(path string, images map[string]v1.Image) error {
	if len(images) == 0 {
		return fmt.Errorf("write %s: no images", path)
	}
	refs := make(map[name.Reference]v1.Image, len(images))
	for tag, img := range images {
		t, err := name.NewTag(tag)
		if err != nil {
			return fmt.Errorf("write %s: tag %q: %w", path, tag, err)
		}
		refs[t] = img
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	if err := tarball.MultiRefWrite(refs, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return err
	}
	return os.Rename(tmpName, path)
}
