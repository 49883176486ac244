//go:build unix

package configsrc_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

func TestFileIsBounded(t *testing.T) {
	_, err := configsrc.Load(t.Context(), configsrc.File{Path: "/dev/zero"})
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve, "an endless file is an invalid document, not an out-of-memory")
	assert.Contains(t, err.Error(), fmt.Sprintf("config from file /dev/zero: the file holds more than the limit of %d bytes", configsrc.MaxDocumentSize))
}

func TestFileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))

	// Nobody writes: opening does not wait for a writer, and the read finds
	// nothing.
	_, err := configsrc.Load(t.Context(), configsrc.File{Path: fifo})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the document is empty")

	// A writer holds it open and writes nothing: the read waits until its
	// context is done.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: opening does not wait for a reader
	require.NoError(t, err)
	defer w.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := configsrc.File{Path: fifo}.Fetch(ctx); done <- err }()
	cancel()
	err = <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), fifo)

	// What a writer wrote is read to the end. (A reader held open here
	// keeps the written bytes in the FIFO after the writer closes.)
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer r.Close()
	_, err = w.WriteString(`{"Services":[{"StatusUrl":"http://h/","EcsClusterName":"c","EcsServiceName":"s"}]}`)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	cfg, err := configsrc.Load(t.Context(), configsrc.File{Path: fifo})
	require.NoError(t, err)
	assert.Equal(t, "c/s", cfg.Services[0].Name())
}
