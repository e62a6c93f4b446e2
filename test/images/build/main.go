// Command build makes skiff's offline test images and writes each as a
// docker-save tarball into -out, ready for `ctr -n k8s.io images import`:
//
//	registry.k8s.io/pause:3.10       -> OUT/pause.tar       (entrypoint /pause)
//	skiff.local/testserver:1         -> OUT/testserver.tar  (entrypoint /testserver)
//	docker.io/library/busybox:1.36   -> OUT/busybox.tar     (host /bin/busybox, cmd sh)
//
// pause and testserver are compiled with CGO_ENABLED=0 by `go build`, so run
// it from inside the skiff module: go run ./test/images/build -out DIR.
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"skiff/internal/images"
)

// applets get a /bin symlink to busybox in the busybox image.
var applets = []string{
	"sh", "ls", "cat", "echo", "sleep", "wget", "nslookup", "httpd", "env", "printenv", "id",
	"hostname", "ps", "kill", "mkdir", "rm", "touch", "date", "head", "tail", "grep", "true",
	"false", "test", "[", "sed", "awk", "nc", "timeout", "vi", "mount", "df", "free", "top",
	"tar", "wc", "md5sum", "sha256sum", "stty", "cp", "mv", "chmod", "tr", "cut", "sort", "uniq", "stat", "seq",
	"xargs", "find", "tee", "dd", "tty", "umount", "ln", "readlink", "basename", "dirname", "pwd", "uname",
}

// fallbacks stand in for applets that some busybox builds lack (Debian's
// busybox-static 1.35 has no printenv).
var fallbacks = map[string]string{
	"printenv": `#!/bin/sh
# printenv is not built into this busybox: emulate it with env and awk.
[ $# -eq 0 ] && exec env
exec awk 'BEGIN { rc = 0; for (i = 1; i < ARGC; i++) { if (ARGV[i] in ENVIRON) print ENVIRON[ARGV[i]]; else rc = 1 }; exit rc }' "$@"
`,
}

const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func main() {
	out := flag.String("out", "images", "directory to write the image tarballs into")
	goTool := flag.String("go", "go", "go command used to compile pause and testserver")
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary for the busybox image")
	flag.Parse()

	if err := checkStatic(*busybox); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\ninstall a static busybox first: apt-get install busybox-static\n", err)
		os.Exit(1)
	}
	if err := run(*out, *goTool, *busybox); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n", err)
		os.Exit(1)
	}
}

func run(out, goTool, busybox string) error {
	tmp, err := os.MkdirTemp("", "skiff-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bins := map[string]string{}
	for _, name := range []string{"pause", "testserver"} {
		bins[name] = filepath.Join(tmp, name)
		if err := compile(goTool, "skiff/test/images/"+name, bins[name]); err != nil {
			return err
		}
	}
	bbLayer, err := busyboxLayer(busybox)
	if err != nil {
		return err
	}
	specs := []struct {
		file, tag string
		layer     images.Layer
		cfg       images.ImageConfig
	}{
		{"pause.tar", "registry.k8s.io/pause:3.10",
			images.Layer{Files: []images.File{images.HostFile("/pause", bins["pause"], 0o755)}},
			images.ImageConfig{Entrypoint: []string{"/pause"}, User: "65535:65535", Env: []string{path}}},
		{"testserver.tar", "skiff.local/testserver:1",
			images.Layer{Files: []images.File{
				images.HostFile("/testserver", bins["testserver"], 0o755),
				images.Dir("/tmp", 0o777|os.ModeSticky),
			}},
			images.ImageConfig{Entrypoint: []string{"/testserver"}, Env: []string{path}}},
		{"busybox.tar", "docker.io/library/busybox:1.36", bbLayer,
			images.ImageConfig{Cmd: []string{"sh"}, Env: []string{path}}},
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, s := range specs {
		img, err := images.Build(s.tag, []images.Layer{s.layer}, s.cfg)
		if err != nil {
			return err
		}
		p := filepath.Join(out, s.file)
		if err := images.WriteTarball(p, map[string]v1.Image{s.tag: img}); err != nil {
			return err
		}
		id, err := img.ConfigName() // the image ID containerd and crictl show
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		fmt.Printf("%-32s %-36s %5.1f MiB  %s\n", s.tag, p, float64(st.Size())/(1<<20), id)
	}
	return nil
}

// compile builds a static linux binary of pkg at dst.
func compile(goTool, pkg, dst string) error {
	cmd := exec.Command(goTool, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", dst, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run this from inside the skiff module): %w", pkg, err)
	}
	return nil
}

// busyboxLayer is /bin/busybox plus applet symlinks, a few directories and
// minimal /etc/passwd and /etc/group.
func busyboxLayer(busybox string) (images.Layer, error) {
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return images.Layer{}, fmt.Errorf("%s --list: %w", busybox, err)
	}
	have := strings.Fields(string(list))
	files := []images.File{
		images.HostFile("/bin/busybox", busybox, 0o755),
		images.Dir("/tmp", 0o777|os.ModeSticky),
		images.Dir("/root", 0o700),
		images.Dir("/home", 0o755),
		images.Dir("/var", 0o755),
		images.Data("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")),
		images.Data("/etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")),
	}
	for _, a := range applets {
		switch {
		case slices.Contains(have, a):
			files = append(files, images.Symlink("/bin/"+a, "busybox"))
		case fallbacks[a] != "":
			files = append(files, images.Data("/bin/"+a, 0o755, []byte(fallbacks[a])))
		default:
			fmt.Fprintf(os.Stderr, "build: warning: %s has no %q applet, skipped\n", busybox, a)
		}
	}
	return images.Layer{Files: files}, nil
}

// checkStatic fails unless p is an ELF executable without a dynamic loader.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", p)
		}
	}
	return nil
}
