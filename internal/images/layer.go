package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Layer is one filesystem layer: a set of files, directories and symlinks.
// Parent directories that are not listed are created with mode 0755.
type Layer struct {
	Files []File
}

// File is one entry of a Layer. Exactly one kind applies:
//   - Link != "": a symlink at Path pointing to Link;
//   - Mode has fs.ModeDir: a directory;
//   - otherwise a regular file holding Content, or the content of the host
//     file HostPath when HostPath is set.
type File struct {
	// Path is the absolute path inside the image, e.g. "/bin/sh".
	Path string
	// Mode holds permission bits (setuid, setgid and sticky included) and
	// fs.ModeDir for directories. Zero means 0644 for files (the host file's
	// permissions when HostPath is set) and 0755 for directories.
	Mode fs.FileMode
	// Content is the content of a regular file.
	Content []byte
	// HostPath names a host file whose content is copied.
	HostPath string
	// Link is the target of a symlink, relative or absolute.
	Link string
	// UID and GID own the entry; zero is root.
	UID, GID int
}

// Dir returns a directory entry.
func Dir(p string, mode fs.FileMode) File { return File{Path: p, Mode: fs.ModeDir | mode} }

// Symlink returns a symlink at p pointing to target.
func Symlink(p, target string) File { return File{Path: p, Link: target} }

// HostFile returns a regular file at p copied from the host file hostPath.
// A zero mode keeps the host file's permissions.
func HostFile(p, hostPath string, mode fs.FileMode) File {
	return File{Path: p, HostPath: hostPath, Mode: mode}
}

// Data returns a regular file at p holding content.
func Data(p string, mode fs.FileMode, content []byte) File {
	return File{Path: p, Mode: mode, Content: content}
}

// gzBlob is a gzipped layer tar held in memory.
type gzBlob []byte

func (b gzBlob) opener() tarball.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// tarGz renders the layer as a gzipped tar with fixed timestamps, parents
// before children and no duplicate paths.
func (l Layer) tarGz() (gzBlob, error) {
	dirs := map[string]File{} // explicitly listed directories
	for _, f := range l.Files {
		if f.Link == "" && f.Mode&fs.ModeDir != 0 {
			dirs[clean(f.Path)] = f
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	// written maps each path already in the tar to whether it is a directory.
	written := map[string]bool{"/": true}
	var writeDir func(p string) error
	writeDir = func(p string) error {
		if isDir, ok := written[p]; ok {
			if !isDir {
				return fmt.Errorf("%q is needed as a directory but is not one", p)
			}
			return nil
		}
		if err := writeDir(path.Dir(p)); err != nil {
			return err
		}
		d, ok := dirs[p]
		if !ok {
			d = Dir(p, 0o755)
		}
		written[p] = true
		return writeEntry(tw, p, d)
	}
	for _, f := range l.Files {
		if !strings.HasPrefix(f.Path, "/") {
			return nil, fmt.Errorf("%q: path must be absolute", f.Path)
		}
		p := clean(f.Path)
		if p == "/" {
			return nil, fmt.Errorf("%q: cannot replace the root directory", f.Path)
		}
		if _, isDir := dirs[p]; isDir && f.Link == "" && f.Mode&fs.ModeDir != 0 {
			if err := writeDir(p); err != nil {
				return nil, err
			}
			continue
		}
		if _, ok := written[p]; ok {
			return nil, fmt.Errorf("%q: listed twice or also a parent directory", f.Path)
		}
		if err := writeDir(path.Dir(p)); err != nil {
			return nil, err
		}
		written[p] = false
		if err := writeEntry(tw, p, f); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func clean(p string) string { return path.Clean("/" + p) }

// writeEntry writes one tar entry for f at the cleaned absolute path p.
func writeEntry(tw *tar.Writer, p string, f File) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(p, "/"),
		ModTime: epoch,
		Uid:     f.UID,
		Gid:     f.GID,
		Format:  tar.FormatPAX,
	}
	var content []byte
	mode := f.Mode
	switch {
	case f.Link != "":
		hdr.Typeflag, hdr.Linkname, mode = tar.TypeSymlink, f.Link, 0o777
	case f.Mode&fs.ModeDir != 0:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		if mode.Perm() == 0 {
			mode |= 0o755
		}
	default:
		hdr.Typeflag, content = tar.TypeReg, f.Content
		if f.HostPath != "" {
			st, err := os.Stat(f.HostPath)
			if err != nil {
				return err
			}
			if !st.Mode().IsRegular() {
				return fmt.Errorf("%s: not a regular file", f.HostPath)
			}
			if content, err = os.ReadFile(f.HostPath); err != nil {
				return err
			}
			if mode == 0 {
				mode = st.Mode().Perm()
			}
		}
		if mode == 0 {
			mode = 0o644
		}
		hdr.Size = int64(len(content))
	}
	hdr.Mode = tarMode(mode)
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	_, err := tw.Write(content)
	return err
}

// tarMode converts permission and special bits to the tar header encoding.
func tarMode(m fs.FileMode) int64 {
	v := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}
