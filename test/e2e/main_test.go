package e2e

import (
	"os"
	"testing"

	"skiff/test/e2e/framework"
)

func TestMain(m *testing.M) {
	code := m.Run()
	framework.Cleanup()
	os.Exit(code)
}
