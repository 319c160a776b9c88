package training

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the lock a run holds on its output folder.
const LockFile = ".lock"

// dirLock is an exclusive advisory lock (flock) on an output folder, so that a
// second process writing to the same folder is refused instead of
// interleaving its checkpoints with the first one's. The kernel releases it
// when the process dies, so a killed run never leaves a stale lock behind.
type dirLock struct{ f *os.File }

// lockDir takes the lock of dir or says which process holds it.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("training: locking %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		f.Close()
		return nil, fmt.Errorf("training: output folder %s is in use by %s (lock %s): wait for it to finish or choose another folder", dir, holder, path)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &dirLock{f: f}, nil
}

// unlock releases the lock.
func (l *dirLock) unlock() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
	}
}

// InUse reports whether a process on this machine holds the lock of the
// output folder dir, that is whether a run is training there now. A run
// whose results.json says "running" in a folder not in use was stopped
// without recording it (killed, or its machine stopped); running it again
// resumes from its checkpoint. A folder without a lock file is not in use.
func InUse(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("training: checking the lock of %s: %w", dir, err)
	}
	defer f.Close()
	// A shared lock is granted unless a run holds its exclusive one; it is
	// released at once.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("training: checking the lock of %s: %w", dir, err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}
